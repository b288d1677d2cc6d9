"""Tests for storage.corrections: decided labels kept for retraining, private ones without identity or minutes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import Database
from storage.corrections import add_correction, list_corrections

AT = datetime(2026, 6, 10, 2, 37, 15, tzinfo=UTC)


def test_corrections_come_back_in_order_with_their_labels(database: Database) -> None:
    with database.sessions.begin() as s:
        add_correction(
            s,
            text="路边电线杆有点斜",
            chat="group",
            intent="hazard",
            category="electric",
            severity="general",
            source="reply_file",
            decided_by="李秀英(telegram:1)",
            now=AT,
        )
        add_correction(s, text="收到", chat="group", intent="chatter", source="review_ignore", now=AT)
    with database.sessions() as s:
        rows = list_corrections(s)
    assert [(r.text, r.chat, r.intent, r.category, r.severity, r.source) for r in rows] == [
        ("路边电线杆有点斜", "group", "hazard", "electric", "general", "reply_file"),
        ("收到", "group", "chatter", None, None, "review_ignore"),
    ]
    assert rows[0].decided_by == "李秀英(telegram:1)" and rows[0].created_at == AT


def test_a_private_correction_keeps_only_the_hour(database: Database) -> None:
    with database.sessions.begin() as s:
        add_correction(
            s,
            text="后沟好像有人晚上挖煤",
            chat="private",
            intent="hazard",
            category="mining",
            severity="major",
            source="private_confirm",
            now=AT,
        )
    with database.sessions() as s:
        (row,) = list_corrections(s)
    assert row.created_at == datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
    assert row.decided_by is None


def test_chatter_keeps_no_category(database: Database) -> None:
    with database.sessions.begin() as s:
        row = add_correction(
            s, text="热炸了", chat="group", intent="chatter", category="fire", source="false_alarm", now=AT
        )
        assert (row.category, row.severity) == (None, None)


@pytest.mark.parametrize(
    ("field", "value"), [("chat", "channel"), ("intent", "command"), ("source", "guess")]
)
def test_unknown_labels_are_refused(sqlite_database: Database, field: str, value: str) -> None:
    values = {"text": "x", "chat": "group", "intent": "chatter", "source": "review_ignore"} | {field: value}
    with sqlite_database.sessions.begin() as s, pytest.raises(ValueError, match=field):
        add_correction(s, **values)
