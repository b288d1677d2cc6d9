"""Tests for bot.config: ANQUAN_* variables and the optional TOML file, validated with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings


def test_defaults_are_console_sqlite_and_beijing_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANQUAN_CONFIG", raising=False)
    s = Settings(data_dir=tmp_path)
    assert s.platforms == ["console"]
    assert s.db_url == f"sqlite:///{tmp_path / 'anquan.db'}"
    assert s.timezone == "Asia/Shanghai"
    assert s.telegram_base_url == "https://api.telegram.org/bot"


def test_platform_list_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANQUAN_PLATFORMS", "Telegram, wechaty")
    assert Settings().platforms == ["telegram", "wechaty"]
    monkeypatch.setenv("ANQUAN_PLATFORMS", "qq")
    with pytest.raises(ValidationError, match="unknown platform"):
        Settings()


def test_bad_timezone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANQUAN_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="time zone"):
        Settings()


def test_toml_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "anquan.toml"
    cfg.write_text(
        'platforms = "telegram"\ntelegram_token = "from-file"\ntimezone = "Asia/Urumqi"\n', encoding="utf-8"
    )
    monkeypatch.setenv("ANQUAN_CONFIG", str(cfg))
    monkeypatch.setenv("ANQUAN_TIMEZONE", "Asia/Shanghai")
    s = Settings()
    assert (s.platforms, s.telegram_token, s.timezone) == (["telegram"], "from-file", "Asia/Shanghai")


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANQUAN_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError, match="不存在"):
        Settings()


def test_secret_is_made_once_outside_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANQUAN_SECRET_KEY", raising=False)
    s = Settings(data_dir=tmp_path)
    first = s.secret()
    assert first == Settings(data_dir=tmp_path).secret() and len(first) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    assert Settings(data_dir=tmp_path, secret_key="abc").secret() == b"abc"
