"""Tests for bot.datafiles: one order of precedence for the data files in force, and clear errors for bad ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import Settings
from bot.datafiles import WHAT, DataFileError, resolve, shipped
from handlers.model import DEFAULT_MODEL
from handlers.profile import DEFAULT_PROFILE
from scheduler.calendar import DEFAULT_PATH as DEFAULT_CALENDAR

NAMES = ("profile", "texts", "calendar", "rules", "userdict", "publicity", "model")
TEXT_NAMES = tuple(n for n in NAMES if n != "model")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ANQUAN_* variables, so only what a test sets is in force."""
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))


def _copy(name: str, folder: Path, tag: str) -> Path:
    """A copy of the shipped file for ``name`` under ``folder`` (so it is valid), named after ``tag``."""
    source = shipped()[name]
    assert source is not None
    path = folder / f"{tag}_{source.name}"
    path.write_bytes(source.read_bytes())
    return path


def _profile_naming_calendar(folder: Path, calendar: str = "town_calendar.toml") -> Path:
    """A copy of the shipped profile whose [town] calendar names a calendar file next to it."""
    text = DEFAULT_PROFILE.read_text(encoding="utf-8")
    assert text.count("[town]\n") == 1
    profile = folder / "town_profile.toml"
    profile.write_text(text.replace("[town]\n", f'[town]\ncalendar = "{calendar}"\n'), encoding="utf-8")
    (folder / calendar).write_bytes(DEFAULT_CALENDAR.read_bytes())
    return profile


def test_without_settings_the_shipped_files_are_in_force() -> None:
    files = resolve(Settings())
    assert files.profile == DEFAULT_PROFILE and files.calendar == DEFAULT_CALENDAR
    assert files.model == (DEFAULT_MODEL if DEFAULT_MODEL.exists() else None)
    assert {files.origin(n) for n in NAMES} == {"default"}
    assert [getattr(files, n) for n in NAMES] == [shipped()[n] for n in NAMES]


@pytest.mark.parametrize("name", NAMES)
def test_an_option_beats_a_setting_which_beats_the_shipped_file(name: str, tmp_path: Path) -> None:
    setting, option = _copy(name, tmp_path, "setting"), _copy(name, tmp_path, "option")
    settings = Settings(**{name: setting})
    from_setting = resolve(settings)
    assert (getattr(from_setting, name), from_setting.origin(name)) == (setting, "setting")
    from_option = resolve(settings, **{name: option})
    assert (getattr(from_option, name), from_option.origin(name)) == (option, "option")
    others = [n for n in NAMES if n not in (name, "calendar")]
    assert [getattr(from_option, n) for n in others] == [shipped()[n] for n in others]


def test_the_profiles_own_calendar_comes_between_the_setting_and_the_shipped_one(tmp_path: Path) -> None:
    profile = _profile_naming_calendar(tmp_path)
    files = resolve(Settings(profile=profile))
    assert (files.calendar, files.origin("calendar")) == (tmp_path / "town_calendar.toml", "profile")
    own = _copy("calendar", tmp_path, "own")
    assert resolve(Settings(profile=profile, calendar=own)).calendar == own
    assert resolve(Settings(profile=profile), calendar=own).calendar == own
    assert resolve(Settings(), profile=profile).calendar == tmp_path / "town_calendar.toml"


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_file_is_named_with_its_setting_or_option(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(DataFileError) as caught:
        resolve(Settings(**{name: missing}))
    message = str(caught.value)
    assert WHAT[name] in message and str(missing) in message and f"ANQUAN_{name.upper()}" in message
    with pytest.raises(DataFileError, match=f"--{name}"):
        resolve(Settings(), **{name: missing})


@pytest.mark.parametrize("name", NAMES)
def test_a_folder_is_not_a_file(name: str, tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=f"是一个文件夹，应指向文件.*ANQUAN_{name.upper()}"):
        resolve(Settings(**{name: tmp_path}))


@pytest.mark.parametrize("name", TEXT_NAMES)
def test_gbk_is_refused_with_the_fix_and_a_bom_is_accepted(name: str, tmp_path: Path) -> None:
    source = shipped()[name]
    assert source is not None
    text = source.read_text(encoding="utf-8")
    bom = tmp_path / f"bom_{source.name}"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert getattr(resolve(Settings(**{name: bom})), name) == bom
    gbk = tmp_path / f"gbk_{source.name}"
    gbk.write_bytes(text.encode("gbk", "replace"))
    with pytest.raises(DataFileError) as caught:
        resolve(Settings(**{name: gbk}))
    message = str(caught.value)
    assert "请用 UTF-8 编码保存" in message and str(gbk) in message and f"ANQUAN_{name.upper()}" in message


def test_a_missing_calendar_named_by_the_profile_is_blamed_on_the_profile(tmp_path: Path) -> None:
    profile = _profile_naming_calendar(tmp_path)
    (tmp_path / "town_calendar.toml").unlink()
    with pytest.raises(DataFileError, match=r"\[town\] calendar.*town_calendar\.toml.*ANQUAN_PROFILE"):
        resolve(Settings(profile=profile))


def test_a_gbk_calendar_named_by_the_profile_names_the_profile(tmp_path: Path) -> None:
    profile = _profile_naming_calendar(tmp_path)
    calendar = tmp_path / "town_calendar.toml"
    calendar.write_bytes(DEFAULT_CALENDAR.read_text(encoding="utf-8").encode("gbk", "replace"))
    with pytest.raises(DataFileError) as caught:
        resolve(Settings(profile=profile))
    message = str(caught.value)
    assert "请用 UTF-8 编码保存" in message and str(calendar) in message and str(profile) in message


def test_the_loaders_read_the_files_in_force(tmp_path: Path) -> None:
    texts = tmp_path / "texts.toml"
    texts.write_text('[categories]\nfire = "火灾隐患（本镇）"\n', encoding="utf-8")
    publicity = tmp_path / "publicity.toml"
    publicity.write_text('["秋收防火"]\ntext = "秋收时节，秸秆不要堆在灶台边。"\n', encoding="utf-8")
    profile = _profile_naming_calendar(tmp_path)
    files = resolve(Settings(texts=texts, publicity=publicity, profile=profile))
    assert files.load_texts().label("categories", "fire") == "火灾隐患（本镇）"
    assert files.load_texts().label("categories", "gas") == resolve(Settings()).load_texts().label(
        "categories", "gas"
    )
    assert files.load_publicity() == {"秋收防火": "秋收时节，秸秆不要堆在灶台边。"}
    assert files.load_calendar().path == tmp_path / "town_calendar.toml"
    assert files.load_profile().town == resolve(Settings()).load_profile().town


def test_a_broken_publicity_library_is_named(tmp_path: Path) -> None:
    publicity = tmp_path / "publicity.toml"
    publicity.write_text('["秋收防火"]\nwords = "没有 text"\n', encoding="utf-8")
    files = resolve(Settings(publicity=publicity))
    with pytest.raises(DataFileError, match=f"宣传文案库 {publicity} 有误：.*秋收防火.*ANQUAN_PUBLICITY"):
        files.load_publicity()
