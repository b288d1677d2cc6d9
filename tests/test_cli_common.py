"""Tests for bot.cli_common: bad settings and unreachable databases end in a Chinese message, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli_common import load_settings, open_db
from bot.config import Settings


def test_bad_settings_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANQUAN_PLATFORMS", "qq")
    with pytest.raises(click.ClickException, match="配置有误"):
        load_settings()


def test_unreachable_database_names_the_url() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    with pytest.raises(click.ClickException, match="无法打开数据库 postgresql"):
        open_db(settings)


# --- a bad configuration, as an operator meets it: one "错误：" line, no traceback --------------------------

ANQUAN = str(Path(sys.executable).with_name("anquan"))
PG_URL = os.environ.get("ANQUAN_TEST_DATABASE_URL")  # read before the fixture clears ANQUAN_*
BUNDLED_PROFILE = Path(__file__).parents[1] / "handlers" / "data" / "profile.toml"
BUNDLED_CALENDAR = Path(__file__).parents[1] / "scheduler" / "data" / "calendar.toml"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No ANQUAN_* variables but a data folder of the test's own (also for subprocesses)."""
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))
    return {k: v for k, v in os.environ.items() if not k.startswith("ANQUAN_")} | {
        "ANQUAN_DATA_DIR": str(tmp_path / "data")
    }


def _one_error_line(result: Result) -> str:
    """The single 错误 line of a failed command (asserting there is exactly one and no traceback)."""
    assert result.exit_code != 0
    assert result.exc_info is None or isinstance(result.exc_info[1], SystemExit), result.exc_info
    err = result.stderr
    assert "Traceback" not in err and "Error:" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("错误："), err
    return lines[0]


def _invoke(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=True)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://nobody@127.0.0.1:1/nowhere", "连不上 127.0.0.1:1"),
        ("nonsense", "数据库地址无法解析"),
        ("mysql://u@db.example/anquan", "只支持 SQLite 和 PostgreSQL"),
        ("oracle://u@db.example/anquan", "只支持 SQLite 和 PostgreSQL"),
    ],
)
def test_a_bad_database_url_is_one_line_naming_the_setting(
    env: dict[str, str], url: str, expected: str
) -> None:
    for args in (["reports"], ["db", "upgrade"], ["officials", "list"], ["outbox"]):
        line = _one_error_line(_invoke(args, ANQUAN_DATABASE_URL=url))
        assert expected in line and "ANQUAN_DATABASE_URL" in line


def test_a_missing_postgresql_database_says_to_create_it(env: dict[str, str]) -> None:
    base = PG_URL or ""
    if not base.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: set ANQUAN_TEST_DATABASE_URL")
    from sqlalchemy.engine import make_url

    url = make_url(base).set(database="anquan_no_such_db").render_as_string(hide_password=False)
    line = _one_error_line(_invoke(["reports"], ANQUAN_DATABASE_URL=url))
    assert "数据库 anquan_no_such_db 不存在" in line and "createdb anquan_no_such_db" in line


def test_without_psycopg_the_pip_command_is_given(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg fails as if it were not installed
    line = _one_error_line(_invoke(["reports"], ANQUAN_DATABASE_URL="postgresql+psycopg://u@127.0.0.1:1/x"))
    assert "没有安装 PostgreSQL 驱动" in line and "pip install" in line and "psycopg" in line


def test_a_data_folder_that_is_a_file_is_refused_and_left_alone(env: dict[str, str], tmp_path: Path) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("x")
    not_a_folder.chmod(0o644)
    line = _one_error_line(_invoke(["reports"], ANQUAN_DATA_DIR=str(not_a_folder)))
    assert "不是文件夹" in line and "ANQUAN_DATA_DIR" in line
    assert oct(not_a_folder.stat().st_mode & 0o777) == oct(0o644)  # its permissions untouched
    line = _one_error_line(_invoke(["reports"], ANQUAN_DATA_DIR=str(not_a_folder / "data")))
    assert "无法创建" in line and "ANQUAN_DATA_DIR" in line


def test_a_read_only_data_folder_is_refused(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == folder else real_access(p, mode))
    line = _one_error_line(_invoke(["reports"], ANQUAN_DATA_DIR=str(folder / "data")))
    assert "不能写入" in line and "ANQUAN_DATA_DIR" in line


def test_an_unknown_log_level_is_named(env: dict[str, str]) -> None:
    line = _one_error_line(_invoke(["reports"], ANQUAN_LOG_LEVEL="LOUD"))
    assert "ANQUAN_LOG_LEVEL" in line and "LOUD" in line and "WARNING" in line


@pytest.mark.parametrize(
    ("setting", "what"), [("PROFILE", "镇情档案文件"), ("TEXTS", "用语文件"), ("CALENDAR", "日程表文件")]
)
def test_a_missing_data_file_is_named_in_parse_and_broadcast(
    env: dict[str, str], tmp_path: Path, setting: str, what: str
) -> None:
    missing = str(tmp_path / "nowhere.toml")
    for args in (["parse"], ["broadcast", "--target", "全部", "注意防火"]):
        line = _one_error_line(_invoke(args, **{f"ANQUAN_{setting}": missing}))
        assert what in line and missing in line and f"ANQUAN_{setting}" in line


def test_an_unbalanced_brace_in_texts_is_named(env: dict[str, str], tmp_path: Path) -> None:
    texts = tmp_path / "texts.toml"
    texts.write_text('[replies]\nprivate_guide = "请写清楚{town"\n', encoding="utf-8")
    line = _one_error_line(_invoke(["reports"], ANQUAN_TEXTS=str(texts)))
    assert "花括号不成对" in line and "private_guide" in line and str(texts) in line


def test_data_files_with_a_bom_are_accepted_and_gbk_is_named(env: dict[str, str], tmp_path: Path) -> None:
    for setting, bundled, what in (
        ("PROFILE", BUNDLED_PROFILE, "镇情档案文件"),
        ("CALENDAR", BUNDLED_CALENDAR, "日程表文件"),
    ):
        text = bundled.read_text(encoding="utf-8")
        bom = tmp_path / f"bom_{setting}.toml"
        bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
        result = _invoke(["schedule", "--days", "2"], **{f"ANQUAN_{setting}": str(bom)})
        assert result.exit_code == 0, result.output
        gbk = tmp_path / f"gbk_{setting}.toml"
        gbk.write_bytes(text.encode("gbk", "replace"))
        line = _one_error_line(_invoke(["schedule", "--days", "2"], **{f"ANQUAN_{setting}": str(gbk)}))
        assert "请用 UTF-8 编码保存" in line and str(gbk) in line and what in line
    texts = tmp_path / "texts.toml"
    texts.write_bytes('[replies]\nprivate_guide = "请写清楚"\n'.encode("gbk"))
    line = _one_error_line(_invoke(["reports"], ANQUAN_TEXTS=str(texts)))
    assert "请用 UTF-8 编码保存" in line and str(texts) in line
    texts.write_bytes('\ufeff[replies]\nprivate_guide = "请写清楚"\n'.encode())
    assert _invoke(["reports"], ANQUAN_TEXTS=str(texts)).exit_code == 0


def test_the_first_use_of_a_sqlite_file_says_which_file(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.cli_common.stderr_is_terminal", lambda: True)  # a person at a terminal
    first = _invoke(["reports"])
    assert first.exit_code == 0
    assert f"已新建数据库文件：{(tmp_path / 'data' / 'anquan.db').resolve()}" in first.stderr
    again = _invoke(["reports"])
    assert "已新建数据库文件" not in again.stderr
    monkeypatch.setattr("bot.cli_common.stderr_is_terminal", lambda: False)  # a script: output stays clean
    (tmp_path / "data" / "anquan.db").unlink()
    assert _invoke(["reports"]).output == "（没有记录）\n"


def _run(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ANQUAN, "run"], input="", capture_output=True, text=True, timeout=120, env=env | extra
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"ANQUAN_PLATFORMS": "telegram"}, "ANQUAN_TELEGRAM_TOKEN"),
        ({"ANQUAN_PLATFORMS": "wechaty"}, "ANQUAN_WECHATY_ENDPOINT"),
        ({"ANQUAN_LOG_LEVEL": "LOUD"}, "ANQUAN_LOG_LEVEL"),
        ({"ANQUAN_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"}, "连不上 127.0.0.1:1"),
        ({"ANQUAN_DATABASE_URL": "nonsense"}, "ANQUAN_DATABASE_URL"),
        ({"ANQUAN_PROFILE": "/nonexistent/profile.toml"}, "ANQUAN_PROFILE"),
        ({"ANQUAN_CALENDAR": "/nonexistent/calendar.toml"}, "ANQUAN_CALENDAR"),
    ],
)
def test_anquan_run_answers_a_bad_configuration_with_one_line(
    env: dict[str, str], extra: dict[str, str], expected: str
) -> None:
    proc = _run(env, **extra)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [
        line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("已新建数据库文件")
    ]
    assert len(lines) == 1 and lines[0].startswith("错误：") and expected in lines[0], proc.stderr


def test_a_broken_or_gbk_config_file_is_named(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "anquan.toml"
    config.write_text('platforms = "con\n', encoding="utf-8")
    line = _one_error_line(_invoke(["reports"], ANQUAN_CONFIG=str(config)))
    assert f"配置文件 {config}（ANQUAN_CONFIG）格式有误" in line
    config.write_bytes('# 本镇配置\nplatforms = "console"\n'.encode("gbk"))
    line = _one_error_line(_invoke(["reports"], ANQUAN_CONFIG=str(config)))
    assert str(config) in line and "请用 UTF-8 编码保存" in line
    line = _one_error_line(_invoke(["reports"], ANQUAN_CONFIG=str(tmp_path / "missing.toml")))
    assert "ANQUAN_CONFIG" in line and "missing.toml" in line
