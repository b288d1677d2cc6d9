"""Tests for bot.cli_corrections: ``anquan corrections`` exports the officials' decisions for retraining."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.cli_common import load_settings, open_db
from storage.corrections import add_correction


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean ANQUAN_* environment with its own data folder and SQLite file."""
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, ["corrections", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _seed() -> None:
    db = open_db(load_settings())
    with db.sessions.begin() as s:
        add_correction(
            s,
            text="路边电线杆有点斜",
            chat="group",
            intent="hazard",
            category="electric",
            severity="general",
            source="reply_file",
            decided_by="李秀英(telegram:6120334580)",
        )
        add_correction(s, text="后沟好像有人挖煤", chat="private", intent="chatter", source="false_alarm")
    db.engine.dispose()


def test_json_lines_are_in_the_corpus_format_without_who_decided(env: Path) -> None:
    _seed()
    rows = [json.loads(line) for line in _run("--json").splitlines()]
    assert rows == [
        {
            "text": "路边电线杆有点斜",
            "chat": "group",
            "intent": "hazard",
            "category": "electric",
            "severity": "general",
            "location": None,
            "source": "reply_file",
        },
        {
            "text": "后沟好像有人挖煤",
            "chat": "private",
            "intent": "chatter",
            "category": None,
            "severity": None,
            "location": None,
            "source": "false_alarm",
        },
    ]


def test_table_lists_each_correction_in_chinese(env: Path) -> None:
    _seed()
    lines = _run().splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t")[1:5] == ["reply_file", "群", "隐患", "用电"]
    assert lines[1].split("\t")[1:5] == ["false_alarm", "私聊", "非隐患", "-"]


def test_empty_database_says_so(env: Path) -> None:
    assert _run() == "（还没有纠正记录）\n"
    assert _run("--json") == ""
