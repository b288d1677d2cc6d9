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


def test_text_that_cannot_be_stored_is_made_safe() -> None:
    from handlers.texts import clean_text

    assert clean_text("\udcff\udcfe电线着火了") == "\ufffd\ufffd电线着火了"  # undecodable bytes
    assert clean_text("\ud83d\ude00 好") == "😀 好"  # a surrogate pair is one character
    assert clean_text("a\x00b") == "ab"  # PostgreSQL cannot hold NUL
    plain = "王家沟村东头老窑洞裂了"
    assert clean_text(plain) is plain


def test_a_bom_is_accepted_and_gbk_is_named(tmp_path: Path) -> None:
    override = tmp_path / "texts.toml"
    override.write_bytes('\ufeff[replies]\nprivate_guide = "请写清楚"\n'.encode())
    assert Texts.load(override)("replies.private_guide", town="克虎镇") == "请写清楚"
    override.write_bytes('[replies]\nprivate_guide = "请写清楚"\n'.encode("gbk"))
    with pytest.raises(TextsError, match=r"请用 UTF-8 编码保存") as caught:
        Texts.load(override)
    assert str(override) in str(caught.value)


def test_an_unbalanced_brace_is_named_with_its_key(tmp_path: Path) -> None:
    override = tmp_path / "texts.toml"
    override.write_text('[replies]\nprivate_guide = "请写清楚{town"\n', encoding="utf-8")
    with pytest.raises(TextsError, match=r"\[replies\] private_guide 花括号不成对"):
        Texts.load(override)


def test_label_sections_are_handed_out_as_copies_with_the_override(tmp_path: Path) -> None:
    path = tmp_path / "texts.toml"
    path.write_text('[statuses]\nrectified = "已整改"\n', encoding="utf-8")
    t = Texts.load(path)
    labels = t.labels("categories", "statuses")
    assert list(labels["categories"])[:3] == ["fire", "gas", "electric"]  # the file's order
    assert labels["statuses"]["rectified"] == "已整改" and labels["statuses"]["reported"] == "待核实"
    labels["statuses"]["rectified"] = "changed"
    assert t.label("statuses", "rectified") == "已整改"
