"""Tests for bot.delivery: outbox rows go out once, failures back off, blocked chats stop, throttling pauses."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.base import Adapter, ChatMigrated, ChatUnreachable, DeliveryError, RetryLater
from bot.app import Database
from bot.bridge import Bridge
from bot.delivery import DeliveryLoop
from storage.groups import get_group, upsert_group
from storage.outbox import enqueue, list_outbox
from tests.conftest import Clock

NOW = datetime(2026, 6, 1, 1, tzinfo=UTC)


class ScriptedAdapter(Adapter):
    """Records sends; raises the scripted error for a chat's next sends."""

    platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.errors: dict[str, list[Exception]] = {}

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        await stop.wait()

    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        queue = self.errors.get(chat_id)
        if queue:
            raise queue.pop(0)
        self.sent.append((chat_id, text))


def _queue(db: Database, key: str, chat: str, text: str = "通知", platform: str = "telegram") -> None:
    with db.sessions.begin() as s:
        group = upsert_group(s, platform, chat, kind="village")
        enqueue(
            s,
            dedup_key=key,
            event="test",
            platform=platform,
            chat_id=chat,
            group_id=group.id,
            text=text,
            not_before=NOW,
        )


def _statuses(db: Database) -> dict[str, tuple[str, int]]:
    with db.sessions() as s:
        return {r.dedup_key: (r.status, r.attempts) for r in list_outbox(s)}


async def test_each_row_is_sent_once_and_marked(database: Database) -> None:
    adapter = ScriptedAdapter()
    _queue(database, "a", "1", "甲")
    _queue(database, "b", "2", "乙")
    _queue(database, "c", "3", "丙", platform="wechaty")
    loop = DeliveryLoop(database.sessions, adapter, clock=Clock(NOW))
    assert await loop.drain_once() == 2
    assert await loop.drain_once() == 0
    assert adapter.sent == [("1", "甲"), ("2", "乙")]
    assert _statuses(database) == {"a": ("sent", 1), "b": ("sent", 1), "c": ("queued", 0)}


async def test_transient_failures_back_off_then_succeed_or_fail_for_good(database: Database) -> None:
    adapter = ScriptedAdapter()
    adapter.errors["1"] = [DeliveryError("502 Bad Gateway")]
    adapter.errors["2"] = [DeliveryError("502")] * 5
    _queue(database, "a", "1")
    _queue(database, "b", "2")
    clock = Clock(NOW)
    loop = DeliveryLoop(database.sessions, adapter, clock=clock, max_attempts=3, base_backoff=10)
    await loop.drain_once()
    assert _statuses(database) == {"a": ("queued", 1), "b": ("queued", 1)}
    assert await loop.drain_once() == 0  # backing off: not due yet
    clock.now = NOW + timedelta(seconds=11)
    await loop.drain_once()
    assert _statuses(database) == {"a": ("sent", 2), "b": ("queued", 2)}
    clock.now = NOW + timedelta(seconds=40)
    await loop.drain_once()
    assert _statuses(database)["b"] == ("failed", 3)
    assert adapter.sent == [("1", "通知")]


async def test_blocked_chat_is_marked_and_its_group_deactivated(database: Database) -> None:
    adapter = ScriptedAdapter()
    adapter.errors["9"] = [ChatUnreachable("Forbidden: bot was kicked")]
    _queue(database, "a", "9")
    await DeliveryLoop(database.sessions, adapter, clock=Clock(NOW)).drain_once()
    assert _statuses(database) == {"a": ("blocked", 1)}
    with database.sessions() as s:
        assert get_group(s, "telegram", "9").active is False


async def test_a_blocked_row_without_a_group_link_still_retires_its_group(database: Database) -> None:
    adapter = ScriptedAdapter()
    adapter.errors["-9"] = [ChatUnreachable("Forbidden: bot was kicked")]
    with database.sessions.begin() as s:
        upsert_group(s, "telegram", "-9", kind="village")
        enqueue(
            s, dedup_key="r", event="reply", platform="telegram", chat_id="-9", text="回复", not_before=NOW
        )
    await DeliveryLoop(database.sessions, adapter, clock=Clock(NOW)).drain_once()
    assert _statuses(database) == {"r": ("blocked", 1)}
    with database.sessions() as s:
        assert get_group(s, "telegram", "-9").active is False


async def test_a_migrated_group_is_moved_with_its_queue_and_the_row_sent_there_once(
    database: Database,
) -> None:
    adapter = ScriptedAdapter()
    adapter.errors["-4128856402"] = [ChatMigrated("-1009999999")]
    _queue(database, "a", "-4128856402", "第一条")
    _queue(database, "b", "-4128856402", "第二条")
    loop = DeliveryLoop(database.sessions, adapter, clock=Clock(NOW))
    assert await loop.drain_once() == 2  # both go to the new id in the same round
    assert adapter.sent == [("-1009999999", "第一条"), ("-1009999999", "第二条")]
    assert _statuses(database) == {"a": ("sent", 1), "b": ("sent", 1)}
    with database.sessions() as s:
        assert get_group(s, "telegram", "-4128856402") is None
        moved = get_group(s, "telegram", "-1009999999")
        assert moved is not None and moved.active and moved.kind == "village"
        assert {r.chat_id for r in list_outbox(s)} == {"-1009999999"}


async def test_a_throttle_of_one_chat_defers_only_its_row(database: Database) -> None:
    adapter = ScriptedAdapter()
    adapter.errors["1"] = [RetryLater(600, chat_only=True)]
    _queue(database, "a", "1", "甲")
    _queue(database, "b", "2", "乙")
    loop = DeliveryLoop(database.sessions, adapter, clock=Clock(NOW))
    assert await asyncio.wait_for(loop.drain_once(), timeout=5) == 1  # no ten-minute pause for everyone
    assert adapter.sent == [("2", "乙")]
    assert _statuses(database) == {"a": ("queued", 0), "b": ("sent", 1)}


async def test_throttling_pauses_without_spending_an_attempt(database: Database) -> None:
    adapter = ScriptedAdapter()
    adapter.errors["1"] = [RetryLater(0.05)]
    _queue(database, "a", "1")
    clock = Clock(NOW)
    loop = DeliveryLoop(database.sessions, adapter, clock=clock)
    await loop.drain_once()
    assert _statuses(database) == {"a": ("queued", 0)}
    clock.now = NOW + timedelta(seconds=1)
    await loop.drain_once()
    assert _statuses(database) == {"a": ("sent", 1)}


async def test_run_keeps_draining_until_stopped(database: Database) -> None:
    adapter = ScriptedAdapter()
    stop = asyncio.Event()
    loop = DeliveryLoop(database.sessions, adapter, poll_interval=0.02)
    task = asyncio.create_task(loop.run(stop))
    with database.sessions.begin() as s:
        enqueue(s, dedup_key="late", event="t", platform="telegram", chat_id="5", text="后来的")
    for _ in range(100):
        if adapter.sent:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert adapter.sent == [("5", "后来的")]


async def test_images_go_only_to_platforms_that_show_them(database: Database) -> None:
    class ImageAdapter(ScriptedAdapter):
        supports_images = True

        def __init__(self) -> None:
            super().__init__()
            self.images: list[tuple[str, bytes]] = []

        async def send_image(self, chat_id: str, image: bytes) -> None:
            self.images.append((chat_id, image))

    with database.sessions.begin() as s:
        enqueue(
            s,
            dedup_key="a",
            event="r",
            platform="telegram",
            chat_id="1",
            text="月报",
            image=b"PNG",
            not_before=NOW,
        )
        enqueue(
            s,
            dedup_key="b",
            event="r",
            platform="wechaty",
            chat_id="2",
            text="月报",
            image=b"PNG",
            not_before=NOW,
        )
    with_images, text_only = ImageAdapter(), ScriptedAdapter()
    text_only.platform = "wechaty"
    await DeliveryLoop(database.sessions, with_images, clock=Clock(NOW)).drain_once()
    await DeliveryLoop(database.sessions, text_only, clock=Clock(NOW)).drain_once()
    assert with_images.images == [("1", b"PNG")] and with_images.sent == [("1", "月报")]
    assert text_only.sent == [("2", "月报")]


async def test_nothing_is_attempted_while_the_adapter_is_not_connected(database: Database) -> None:
    class Offline(ScriptedAdapter):
        connected = False

        @property
        def ready(self) -> bool:
            return self.connected

    adapter = Offline()
    _queue(database, "a", "1")
    loop = DeliveryLoop(database.sessions, adapter, clock=Clock(NOW))
    assert await loop.drain_once() == 0
    assert _statuses(database) == {"a": ("queued", 0)}  # no attempt spent while offline
    adapter.connected = True
    assert await loop.drain_once() == 1


async def test_a_stop_ends_the_batch(database: Database) -> None:
    adapter = ScriptedAdapter()
    _queue(database, "a", "1")
    _queue(database, "b", "2")
    stop = asyncio.Event()
    stop.set()
    assert await DeliveryLoop(database.sessions, adapter, clock=Clock(NOW)).drain_once(stop) == 0
    assert adapter.sent == []


# --- shutdown and outages ----------------------------------------------------------------------------------


async def test_stop_never_waits_for_a_throttle_and_the_pause_is_persisted(database: Database) -> None:
    """WeChat's daily cap says "after midnight": a stop must not wait for it, and the row keeps its time."""
    adapter = ScriptedAdapter()
    adapter.errors["1"] = [RetryLater(20 * 3600.0, "daily cap")]
    _queue(database, "a", "1")
    loop = DeliveryLoop(database.sessions, adapter, clock=Clock(NOW), poll_interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    for _ in range(100):
        if _statuses(database)["a"] != ("queued", 0) or adapter.errors["1"] == []:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, timeout=2)  # not twenty hours
    with database.sessions() as s:
        (row,) = list_outbox(s)
        assert row.status == "queued" and row.attempts == 0
        assert row.not_before.replace(tzinfo=UTC) == NOW + timedelta(hours=20)


class FlushingAdapter(ScriptedAdapter):
    """An adapter that asks for one last outbox round when the program stops (the console on a pipe)."""

    platform = "console"
    flush_outbox_on_stop = True


async def test_an_adapter_that_flushes_on_stop_gets_the_last_pushes_out(database: Database) -> None:
    adapter = FlushingAdapter()
    loop = DeliveryLoop(database.sessions, adapter, clock=Clock(NOW), poll_interval=30)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await asyncio.sleep(0.05)  # the first round found nothing; the next would be in 30 s
    _queue(database, "last", "group:克虎村", "广播内容", platform="console")
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert adapter.sent == [("group:克虎村", "广播内容")]


async def test_a_database_outage_pauses_the_outbox_with_one_log_line(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import event

    adapter = ScriptedAdapter()
    _queue(sqlite_database, "a", "1")
    away = {"on": True}

    @event.listens_for(sqlite_database.engine, "connect")
    def refuse(dbapi_conn: object, _record: object) -> None:
        if away["on"]:
            raise sqlite3.OperationalError("unable to open database file")

    sqlite_database.engine.dispose()
    loop = DeliveryLoop(sqlite_database.sessions, adapter, clock=Clock(NOW), poll_interval=0.01)
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO):
        task = asyncio.create_task(loop.run(stop))
        await asyncio.sleep(0.3)
        away["on"] = False
        for _ in range(200):
            if adapter.sent:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    assert adapter.sent == [("1", "通知")]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.delivery"] == [
        "outbox paused: database unavailable",
        "outbox resumed",
    ]
    assert not any(r.exc_info for r in caplog.records)


async def test_a_push_sent_while_the_database_is_away_is_not_sent_again(database: Database) -> None:
    adapter = ScriptedAdapter()
    _queue(database, "a", "1")
    loop = DeliveryLoop(database.sessions, adapter, clock=Clock(NOW))
    real_mark = loop._mark

    def mark_fails_once(row_id: int, **changes: object) -> None:
        loop._mark = real_mark  # type: ignore[method-assign]
        from sqlalchemy.exc import OperationalError

        raise OperationalError("UPDATE", {}, Exception("server closed the connection unexpectedly"))

    loop._mark = mark_fails_once  # type: ignore[method-assign]
    assert await loop.drain_once() == 1
    assert await loop.drain_once() == 0
    assert adapter.sent == [("1", "通知")]
    assert _statuses(database) == {"a": ("sent", 1)}
