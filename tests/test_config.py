"""Tests for bot.config: ANQUAN_* variables and the optional TOML file, validated with clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from bot.app import Database, build_core
from bot.cli import main
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
    assert s.telegram_token is not None
    token = s.telegram_token.get_secret_value()
    assert (s.platforms, token, s.timezone) == (["telegram"], "from-file", "Asia/Shanghai")


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


# ---- ANQUAN_RULES and ANQUAN_USERDICT: the township's own classifier data files ---------------------------

REPO = Path(__file__).resolve().parents[1]
BUNDLED_RULES = (REPO / "handlers" / "data" / "rules.toml").read_text(encoding="utf-8")
BUNDLED_USERDICT = (REPO / "handlers" / "data" / "userdict.txt").read_text(encoding="utf-8")
ANQUAN = str(Path(sys.executable).with_name("anquan"))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No ANQUAN_* variables but a data folder of the test's own."""
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))
    return {"ANQUAN_DATA_DIR": str(tmp_path / "data")}


def _rules_with(tmp_path: Path, old: str, new: str) -> Path:
    assert BUNDLED_RULES.count(old) == 1, old
    path = tmp_path / "rules.toml"
    path.write_text(BUNDLED_RULES.replace(old, new), encoding="utf-8")
    return path


def test_rules_and_userdict_paths_come_from_the_environment(
    clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert (Settings().rules, Settings().userdict) == (None, None)
    rules = _rules_with(tmp_path, "max_chars = 500", "max_chars = 400")
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("石磙子 2000 n\n", encoding="utf-8")
    monkeypatch.setenv("ANQUAN_RULES", str(rules))
    monkeypatch.setenv("ANQUAN_USERDICT", str(userdict))
    assert (Settings().rules, Settings().userdict) == (rules, userdict)


def test_a_missing_rules_or_userdict_file_stops_anquan_parse_naming_the_setting(
    clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for setting, missing in (
        ("ANQUAN_RULES", tmp_path / "nope.toml"),
        ("ANQUAN_USERDICT", tmp_path / "nope.txt"),
    ):
        monkeypatch.setenv(setting, str(missing))
        result = CliRunner().invoke(main, ["parse"], input="收到\n")
        assert result.exit_code == 2 and result.stdout == ""
        assert (
            result.stderr.startswith("错误：找不到")
            and str(missing) in result.stderr
            and setting in result.stderr
        )
        monkeypatch.delenv(setting)


def _parse(lines: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["parse"], input=lines, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_anquan_parse_uses_the_townships_rules_file(
    clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """碾盘 (a stone mill base) is no keyword of the bundled rules: a tilted one is at most a weak signal (filed or
    sent to review by the model's second opinion, never as a building). A township that lists it under buildings
    gets it filed as such by the rules."""
    message = "村口那个碾盘歪了\n"

    def verdict() -> tuple[object, ...]:
        row = _parse(message)[0]
        return (row["intent"], row["category"], row["review"])

    assert verdict()[1] != "building"
    rules = _rules_with(tmp_path, "[things.building]\nwords = [", '[things.building]\nwords = ["碾盘", ')
    monkeypatch.setenv("ANQUAN_RULES", str(rules))
    assert verdict() == ("hazard", "building", False)


def test_a_broken_rules_file_stops_anquan_parse_with_the_chinese_message(
    clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = _rules_with(tmp_path, "\nquestion = [", "\nqustion = [")
    monkeypatch.setenv("ANQUAN_RULES", str(rules))
    result = CliRunner().invoke(main, ["parse"], input="收到\n")
    assert result.exit_code != 0 and result.stdout == ""
    assert f'{rules}：[frames] 里有未知的键 "qustion"（是不是 "question"？）' in result.output


def test_a_broken_userdict_stops_start_up_with_the_chinese_message(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    userdict = tmp_path / "userdict.txt"
    userdict.write_text(BUNDLED_USERDICT + "碾盘 很多 n\n", encoding="utf-8")
    lineno = len(BUNDLED_USERDICT.splitlines()) + 1
    proc = subprocess.run(
        [ANQUAN, "run"],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **clean_env, "ANQUAN_USERDICT": str(userdict)},
    )
    assert proc.returncode != 0
    assert f"分词词典 {userdict} 第 {lineno} 行格式不对：'碾盘 很多 n'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_bot_segments_with_the_townships_userdict(
    clean_env: dict[str, str], sqlite_database: Database, tmp_path: Path
) -> None:
    text = "院里那个石磙子歪了"
    assert "石磙子" not in build_core(Settings(), sqlite_database).classifier.explain(text)["tokens"]
    userdict = tmp_path / "userdict.txt"
    userdict.write_text(BUNDLED_USERDICT + "石磙子 2000 n\n", encoding="utf-8")
    core = build_core(Settings(userdict=userdict), sqlite_database)
    assert "石磙子" in core.classifier.explain(text)["tokens"]


def test_wechaty_transport_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ANQUAN_CONFIG", raising=False)
    defaults = Settings(data_dir=tmp_path)
    assert (defaults.wechaty_tls, defaults.wechaty_tls_ca, defaults.wechaty_tls_server_name) == (
        False,
        None,
        None,
    )
    assert defaults.wechaty_insecure is False
    ca = tmp_path / "gateway-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("ANQUAN_WECHATY_TLS_CA", str(ca))
    monkeypatch.setenv("ANQUAN_WECHATY_TLS_SERVER_NAME", " wechaty-gateway.internal. ")
    monkeypatch.setenv("ANQUAN_WECHATY_TLS", "true")
    monkeypatch.setenv("ANQUAN_WECHATY_INSECURE", "1")
    s = Settings(data_dir=tmp_path)
    assert (s.wechaty_tls, s.wechaty_tls_ca, s.wechaty_tls_server_name) == (
        True,
        ca,
        "wechaty-gateway.internal",
    )
    assert s.wechaty_insecure is True
    monkeypatch.setenv("ANQUAN_WECHATY_TLS_CA", "")
    monkeypatch.setenv("ANQUAN_WECHATY_TLS_SERVER_NAME", "")
    s = Settings(data_dir=tmp_path)
    assert (s.wechaty_tls_ca, s.wechaty_tls_server_name) == (None, None)


def test_a_missing_wechaty_ca_file_or_a_bad_server_name_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANQUAN_CONFIG", raising=False)
    monkeypatch.setenv("ANQUAN_WECHATY_TLS_CA", str(tmp_path / "missing-ca.pem"))
    with pytest.raises(ValidationError, match="ANQUAN_WECHATY_TLS_CA 指向的 CA 证书文件不存在"):
        Settings(data_dir=tmp_path)
    monkeypatch.delenv("ANQUAN_WECHATY_TLS_CA")
    monkeypatch.setenv("ANQUAN_WECHATY_TLS_SERVER_NAME", "https://gw.example.cn:8788")
    with pytest.raises(ValidationError, match="ANQUAN_WECHATY_TLS_SERVER_NAME"):
        Settings(data_dir=tmp_path)


def test_a_config_file_with_a_bom_is_read(
    monkeypatch: pytest.MonkeyPatch, clean_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "anquan.toml"
    config.write_bytes('\ufeff# 本镇配置（记事本保存）\ntimezone = "Asia/Urumqi"\n'.encode())
    monkeypatch.setenv("ANQUAN_CONFIG", str(config))
    assert Settings().timezone == "Asia/Urumqi"


def test_an_unknown_log_level_is_refused_and_case_does_not_matter(clean_env: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="LOUD"):
        Settings(log_level="LOUD")
    assert Settings(log_level="debug").log_level == "DEBUG"
    assert Settings(log_level="").log_level is None
