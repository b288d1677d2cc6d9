"""Tests for storage.groups: groups are recorded once per platform chat and keep their tags."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import Database
from storage.groups import get_group, list_groups, move_chat, upsert_group
from storage.models import OutboxMessage
from storage.outbox import enqueue


def test_upsert_creates_then_updates_without_losing_fields(database: Database) -> None:
    with database.sessions.begin() as s:
        g = upsert_group(s, "telegram", "-100", title="王家沟村民群", kind="village", unit="王家沟村")
        gid = g.id
    with database.sessions.begin() as s:
        upsert_group(s, "telegram", "-100", title="王家沟村安全群")
    with database.sessions() as s:
        g = get_group(s, "telegram", "-100")
        assert (g.id, g.title, g.kind, g.unit, g.active) == (
            gid,
            "王家沟村安全群",
            "village",
            "王家沟村",
            True,
        )


def test_same_chat_id_on_two_platforms_are_two_groups(database: Database) -> None:
    with database.sessions.begin() as s:
        upsert_group(s, "telegram", "42", kind="village")
        upsert_group(s, "wechaty", "42", kind="station")
    with database.sessions() as s:
        assert [g.platform for g in list_groups(s)] == ["telegram", "wechaty"]


def test_list_filters_by_kind_and_activity(database: Database) -> None:
    with database.sessions.begin() as s:
        upsert_group(s, "telegram", "1", kind="village")
        upsert_group(s, "telegram", "2", kind="station")
        upsert_group(s, "telegram", "3", kind="village", active=False)
    with database.sessions() as s:
        assert [g.chat_id for g in list_groups(s, kinds=["village"])] == ["1", "3"]
        assert [g.chat_id for g in list_groups(s, kinds=["village"], active_only=True)] == ["1"]


def test_unknown_kind_is_rejected(database: Database) -> None:
    with database.sessions.begin() as s, pytest.raises(ValueError, match="unknown group kind"):
        upsert_group(s, "telegram", "1", kind="school")


def test_a_moved_chat_keeps_its_tags_and_its_queued_pushes(database: Database) -> None:
    with database.sessions.begin() as s:
        upsert_group(s, "telegram", "-100", title="王家沟村安全群", kind="village", unit="王家沟村")
        enqueue(s, dedup_key="k1", event="monthly", platform="telegram", chat_id="-100", text="本月安全检查")
    with database.sessions.begin() as s:
        move_chat(s, "telegram", "-100", "-1001")
    with database.sessions() as s:
        assert get_group(s, "telegram", "-100") is None
        moved = get_group(s, "telegram", "-1001")
        assert moved is not None and (moved.kind, moved.unit, moved.active) == ("village", "王家沟村", True)
        assert [r.chat_id for r in s.scalars(select(OutboxMessage))] == ["-1001"]


def test_a_move_onto_a_known_chat_retires_the_old_group(database: Database) -> None:
    with database.sessions.begin() as s:
        upsert_group(s, "telegram", "-100", title="旧群", kind="village", unit="王家沟村")
        upsert_group(s, "telegram", "-1001", title="新群", kind="village", unit="王家沟村")
    with database.sessions.begin() as s:
        move_chat(s, "telegram", "-100", "-1001")
    with database.sessions() as s:
        old = get_group(s, "telegram", "-100")
        assert old is not None and not old.active
        new = get_group(s, "telegram", "-1001")
        assert new is not None and new.active
