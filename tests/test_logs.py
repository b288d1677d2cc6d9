"""Tests for bot.logs: key=value log lines, chatty libraries turned down."""

from __future__ import annotations

import logging

import pytest

from bot.logs import setup_logging


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
