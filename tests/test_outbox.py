"""Tests for storage.outbox: a push is queued once per dedup key, and due rows come out oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import Database
from storage.outbox import due, enqueue, list_outbox

NOW = datetime(2026, 6, 1, 1, tzinfo=UTC)


def test_same_dedup_key_is_queued_once(database: Database) -> None:
    with database.sessions.begin() as s:
        assert enqueue(
            s, dedup_key="k1", event="e", platform="telegram", chat_id="1", text="a", not_before=NOW
        )
    with database.sessions.begin() as s:
        assert not enqueue(
            s, dedup_key="k1", event="e", platform="telegram", chat_id="1", text="b", not_before=NOW
        )
    with database.sessions() as s:
        rows = list_outbox(s)
        assert [(r.dedup_key, r.text, r.status) for r in rows] == [("k1", "a", "queued")]


def test_due_respects_platform_time_and_order(database: Database) -> None:
    with database.sessions.begin() as s:
        enqueue(s, dedup_key="a", event="e", platform="telegram", chat_id="1", text="1", not_before=NOW)
        enqueue(s, dedup_key="b", event="e", platform="wechaty", chat_id="1", text="2", not_before=NOW)
        enqueue(
            s,
            dedup_key="c",
            event="e",
            platform="telegram",
            chat_id="1",
            text="3",
            not_before=NOW + timedelta(hours=1),
        )
        enqueue(s, dedup_key="d", event="e", platform="telegram", chat_id="2", text="4", not_before=NOW)
    with database.sessions() as s:
        assert [r.dedup_key for r in due(s, "telegram", now=NOW)] == ["a", "d"]
        assert [r.dedup_key for r in due(s, "telegram", now=NOW + timedelta(hours=2))] == ["a", "c", "d"]


def test_a_push_to_a_group_is_addressed_to_its_platform_and_chat(database: Database) -> None:
    from storage.groups import upsert_group
    from storage.outbox import enqueue_to_group

    with database.sessions.begin() as s:
        group = upsert_group(s, "wechaty", "room@chatroom", kind="village")
        assert enqueue_to_group(s, group, dedup_key="k", event="e", text="通知", not_before=NOW)
    with database.sessions() as s:
        row = list_outbox(s)[0]
        assert (row.platform, row.chat_id, row.group_id, row.text) == (
            "wechaty",
            "room@chatroom",
            group.id,
            "通知",
        )
