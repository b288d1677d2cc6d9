"""Tests for handlers.texts: wording comes from the data file and a township may override it safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.texts import Texts, TextsError


def test_bundled_wording_fills_placeholders_and_labels() -> None:
    t = Texts.load()
    assert t("replies.hazard_duplicate", id=5, status="待核实").startswith("已有相同隐患 #5")
    assert t.label("categories", "geological") == "地质灾害"
    assert t.label("statuses", "rectified") == "已整改待验收"


def test_override_changes_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "texts.toml"
    path.write_text('[replies]\nhazard_duplicate = "#{id} 已经有人报过了"\n', encoding="utf-8")
    t = Texts.load(path)
    assert t("replies.hazard_duplicate", id=3, status="x") == "#3 已经有人报过了"
    assert t("replies.place_unknown") == "未注明"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[nosuch]\na = "b"\n', "未知的段"),
        ('[replies]\nnosuch = "b"\n', "未知的项"),
        ('[replies]\nhazard_duplicate = "{reporter}"\n', "未知的占位符"),
        ("[replies\n", "格式错误"),
    ],
)
def test_bad_override_is_refused_at_start(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "texts.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(TextsError, match=message):
        Texts.load(path)
