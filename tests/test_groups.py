"""Tests for storage.groups: groups are recorded once per platform chat and keep their tags."""

from __future__ import annotations

import pytest

from bot.app import Database
from storage.groups import get_group, list_groups, upsert_group


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
