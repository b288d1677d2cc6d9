"""Tests for handlers.profile: the town profile is read, matched and validated with clear Chinese errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.profile import ProfileError, load_profile


def test_bundled_profile_knows_its_villages_and_stations() -> None:
    p = load_profile()
    assert p.town == "克虎镇"
    assert "王家沟村" in p.place_names() and "王家沟" in p.place_names()
    assert p.village_of("王家沟") == "王家沟村"
    assert p.village_of("外省某村") is None
    assert p.find_unit("克虎镇王家沟村民群").name == "王家沟村"
    assert p.find_unit("镇安监站工作群").kind == "station"
    assert p.deadline_days == {"major": 7, "general": 30}


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[town]\nname='甲镇'\n", "至少要有一个"),
        ("[[villages]]\nname='甲村'\n", r"缺少 \[town\]"),
        ("[town]\nname='甲镇'\n[[villages]]\naliases=['甲']\n", "缺少 name"),
        ("[town]\nname='甲镇'\n[[villages]]\nname='甲村'\n[[villages]]\nname='甲村'\n", "重复"),
        ("[town]\nname='甲镇'\n[[villages]]\nname='甲村'\n[deadlines]\nmajor=0\n", "major"),
        ("[town]\nname='甲镇'\n[[villages]]\nname='甲村'\n[thresholds]\nreply=0.3\nsilent=0.5\n", "silent"),
        ("[town\nname='甲镇'", "格式错误"),
    ],
)
def test_bad_profiles_are_refused_with_a_clear_reason(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_profile(_write(tmp_path, body))


def test_missing_profile_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="找不到"):
        load_profile(tmp_path / "nope.toml")


def test_profile_may_name_its_own_calendar_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "cal.toml").write_text("", encoding="utf-8")
    body = "[town]\nname='甲镇'\ncalendar='cal.toml'\n[[villages]]\nname='甲村'\n"
    assert load_profile(_write(tmp_path, body)).calendar == tmp_path / "cal.toml"
    with pytest.raises(ProfileError, match="日历文件不存在"):
        load_profile(_write(tmp_path, body.replace("cal.toml", "nope.toml")))


def test_a_profile_with_a_bom_loads_and_a_gbk_one_is_named(tmp_path: Path) -> None:
    bundled = (Path(__file__).parents[1] / "handlers" / "data" / "profile.toml").read_text(encoding="utf-8")
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + bundled.encode())
    assert load_profile(bom).town == load_profile().town
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes(bundled.encode("gbk", "replace"))
    with pytest.raises(ProfileError, match="请用 UTF-8 编码保存") as caught:
        load_profile(gbk)
    assert str(gbk) in str(caught.value)
