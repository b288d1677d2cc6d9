"""Tests for bot.logs: key=value log lines, chatty libraries turned down."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.logs import setup_logging
from storage.db import make_engine


def test_extra_fields_are_printed_as_key_values(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    logging.getLogger("anquan.test").info("hazard filed", extra={"report": 7, "platform": "telegram"})
    err = capsys.readouterr().err
    assert "hazard filed" in err and "report=7" in err and "platform=telegram" in err


def test_libraries_that_leak_tokens_or_senders_are_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG")
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:SECRET/getUpdates")
    logging.getLogger("wechaty").info("receive message <Message wxid_abc 张三>")
    err = capsys.readouterr().err
    assert "SECRET" not in err and "wxid_abc" not in err


def test_wechaty_message_logs_are_silenced(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG")
    logging.getLogger("Message").info("receive message <Message#1 Contact <wxid_secret> <李二娃> 举报>")
    logging.getLogger("hpack").debug("Decoded header authorization: token-secret")
    err = capsys.readouterr().err
    assert "wxid_secret" not in err and "token-secret" not in err


def test_sqlalchemy_statement_log_never_shows_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    setup_logging("DEBUG")
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    # Even turned up on purpose, the engine log never shows a statement's parameters.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT :who"), {"who": "wxid_in_a_statement"})
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.NOTSET)
        engine.dispose()
    err = capsys.readouterr().err
    assert "SELECT" in err and "wxid_in_a_statement" not in err
