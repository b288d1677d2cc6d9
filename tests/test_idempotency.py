"""Tests for storage.idempotency: handled messages are remembered; private keys are purged after a while."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bot.app import Database
from storage.idempotency import purge_private, remember, seen
from storage.models import ProcessedMessage


def test_a_key_can_be_remembered_once(database: Database) -> None:
    with database.sessions.begin() as s:
        remember(s, "g:telegram:1:1", private=False)
    with database.sessions() as s:
        assert seen(s, "g:telegram:1:1") is not None
        assert seen(s, "g:telegram:1:2") is None
    with pytest.raises(IntegrityError), database.sessions.begin() as s:
        remember(s, "g:telegram:1:1", private=False)


def test_only_old_private_keys_are_purged(database: Database) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    with database.sessions.begin() as s:
        s.add(ProcessedMessage(key="p:old", private=True, created_at=old))
        s.add(ProcessedMessage(key="g:old", private=False, created_at=old))
        s.add(ProcessedMessage(key="p:new", private=True))
    with database.sessions.begin() as s:
        assert purge_private(s, datetime.now(UTC) - timedelta(days=2)) == 1
    with database.sessions() as s:
        assert seen(s, "p:old") is None and seen(s, "g:old") and seen(s, "p:new")
