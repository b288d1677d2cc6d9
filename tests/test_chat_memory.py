"""Tests for handlers.chat_memory: the in-memory stores between messages, and what purging them forgets."""

from __future__ import annotations

from datetime import timedelta

from handlers.chat_memory import ChatMemory
from handlers.context import Core
from tests.conftest import Clock


def test_purge_forgets_expired_items_and_keeps_fresh_ones(core: Core, clock: Clock) -> None:
    memory = ChatMemory(core)
    memory.held_receipts.hold("telegram", "old", "回执码：OLD", clock.now)
    clock.now += timedelta(minutes=20)
    memory.held_receipts.hold("telegram", "new", "回执码：NEW", clock.now)
    assert len(memory.held_receipts) == 2
    memory.purge(clock.now + timedelta(minutes=15))
    assert len(memory.held_receipts) == 1
    assert memory.held_receipts.take("telegram", "new", clock.now) == "回执码：NEW"


def test_the_photo_desk_follows_the_tip_a_chat_is_following_up(core: Core, clock: Clock) -> None:
    memory = ChatMemory(core)
    assert memory.photos.current_tip is not None
    assert memory.photos.current_tip("telegram", "wxid_a") is None
    memory.followups.open("telegram", "wxid_a", 482913, clock.now)
    assert memory.photos.current_tip("telegram", "wxid_a") == 482913
    clock.now += timedelta(minutes=11)
    assert memory.photos.current_tip("telegram", "wxid_a") is None


def test_each_memory_keeps_its_own_items(core: Core, clock: Clock) -> None:
    a, b = ChatMemory(core), ChatMemory(core)
    a.held_receipts.hold("telegram", "wxid_a", "回执码：A", clock.now)
    assert len(b.held_receipts) == 0
