"""Tests for bot.adapters.wecom against a local fake WeCom webhook: delivery, limits per robot, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web

from bot.adapters.base import ChatUnreachable, DeliveryError, RetryLater
from bot.adapters.wecom import RobotLimiter, WecomAdapter, robot_key, split_text
from bot.app import Database
from bot.delivery import DeliveryLoop
from storage.groups import upsert_group
from storage.models import utcnow
from storage.outbox import enqueue, list_outbox


class FakeWebhook:
    """Answers like WeCom's /cgi-bin/webhook/send, with scripted error codes per key."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.errcodes: dict[str, list[int]] = {}

    async def send(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        body = await request.json()
        assert body["msgtype"] == "text"
        codes = self.errcodes.get(key)
        if codes:
            code = codes.pop(0)
            return web.json_response({"errcode": code, "errmsg": "error"})
        self.received.append((key, body["text"]["content"]))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[FakeWebhook, str]]:
    fake = FakeWebhook()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", fake.send)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_text_reaches_the_robot(webhook: tuple[FakeWebhook, str]) -> None:
    fake, base = webhook
    adapter = WecomAdapter(base)
    await adapter.send_text("KEY1", "【克虎镇】注意防火")
    assert fake.received == [("KEY1", "【克虎镇】注意防火")]


async def test_error_codes_map_to_delivery_outcomes(webhook: tuple[FakeWebhook, str]) -> None:
    fake, base = webhook
    adapter = WecomAdapter(base)
    fake.errcodes = {"A": [45009], "B": [93000], "C": [40008]}
    with pytest.raises(RetryLater) as throttled:
        await adapter.send_text("A", "x")
    assert throttled.value.chat_only  # this robot's limit: other robots go on
    with pytest.raises(ChatUnreachable):
        await adapter.send_text("B", "x")
    with pytest.raises(DeliveryError):
        await adapter.send_text("C", "x")


async def test_outbox_rows_to_wecom_groups_are_delivered(
    webhook: tuple[FakeWebhook, str], database: Database
) -> None:
    fake, base = webhook
    with database.sessions.begin() as s:
        g = upsert_group(s, "wecom", "ROBOT", kind="village", unit="王家沟村")
        enqueue(
            s,
            dedup_key="k",
            event="calendar",
            platform="wecom",
            chat_id="ROBOT",
            group_id=g.id,
            text="月度排查提醒",
        )
    await DeliveryLoop(database.sessions, WecomAdapter(base)).drain_once()
    assert fake.received == [("ROBOT", "月度排查提醒")]
    with database.sessions() as s:
        assert [r.status for r in list_outbox(s)] == ["sent"]


def test_limiter_allows_twenty_a_minute_per_robot() -> None:
    now = [1000.0]
    limiter = RobotLimiter(clock=lambda: now[0])
    for _ in range(20):
        assert limiter.wait_time("r") == 0
        limiter.record("r")
    assert limiter.wait_time("r") == pytest.approx(60)
    assert limiter.wait_time("other") == 0
    now[0] += 30
    assert limiter.wait_time("r") == pytest.approx(30)
    now[0] += 30
    assert limiter.wait_time("r") == 0


class FakeTime:
    """A virtual clock whose sleep just advances it (and records the waits)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


async def test_a_short_wait_for_the_window_is_sat_out(webhook: tuple[FakeWebhook, str]) -> None:
    fake, base = webhook
    t = FakeTime()
    adapter = WecomAdapter(base, limiter=RobotLimiter(limit=2, clock=t), sleep=t.sleep)
    adapter.limiter.record("K")
    t.now += 59.5
    adapter.limiter.record("K")
    await adapter.send_text("K", "third")  # the first send leaves the window in half a second
    assert t.waits == [pytest.approx(0.5)]
    assert fake.received == [("K", "third")]


async def test_a_full_robot_hands_back_its_row_and_other_robots_do_not_wait(
    webhook: tuple[FakeWebhook, str],
) -> None:
    fake, base = webhook
    adapter = WecomAdapter(base, limiter=RobotLimiter(limit=2))
    adapter.limiter.record("K")
    adapter.limiter.record("K")
    started = time.monotonic()
    with pytest.raises(RetryLater) as info:
        await adapter.send_text("K", "third")
    assert info.value.chat_only and 55 < info.value.retry_after <= 60
    await adapter.send_text("OTHER", "另一个群")
    assert time.monotonic() - started < 1
    assert fake.received == [("OTHER", "另一个群")]


async def test_two_robots_send_at_the_same_time(webhook: tuple[FakeWebhook, str]) -> None:
    fake, base = webhook
    adapter = WecomAdapter(base, limiter=RobotLimiter(limit=1), max_inline_wait=120)
    adapter.limiter.record("SLOW")  # SLOW's window is full for a minute: its send waits, inline
    waiting = asyncio.create_task(adapter.send_text("SLOW", "等一分钟"))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(adapter.send_text("FAST", "马上"), timeout=1)  # no lock shared with SLOW
    assert fake.received == [("FAST", "马上")] and not waiting.done()
    waiting.cancel()


async def test_a_stopping_bot_does_not_wait_for_a_robots_window(webhook: tuple[FakeWebhook, str]) -> None:
    fake, base = webhook
    adapter = WecomAdapter(base, limiter=RobotLimiter(limit=1), max_inline_wait=120)
    stop = asyncio.Event()
    running = asyncio.create_task(adapter.run(None, stop))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    adapter.limiter.record("K")
    waiting = asyncio.create_task(adapter.send_text("K", "第二条"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    started = time.monotonic()
    stop.set()
    with pytest.raises(RetryLater):
        await asyncio.wait_for(waiting, timeout=2)
    assert time.monotonic() - started < 1
    assert fake.received == []
    await running


async def test_outbox_defers_a_full_robots_row_and_sends_the_others_in_the_same_round(
    webhook: tuple[FakeWebhook, str], database: Database
) -> None:
    fake, base = webhook
    with database.sessions.begin() as s:
        for key in ("FULL", "FREE"):
            enqueue(s, dedup_key=key, event="calendar", platform="wecom", chat_id=key, text=f"提醒{key}")
    adapter = WecomAdapter(base, limiter=RobotLimiter(limit=1))
    adapter.limiter.record("FULL")
    started = time.monotonic()
    assert await DeliveryLoop(database.sessions, adapter).drain_once() == 1
    assert time.monotonic() - started < 5  # no pause for the whole platform
    assert fake.received == [("FREE", "提醒FREE")]
    with database.sessions() as s:
        rows = {r.chat_id: r for r in list_outbox(s)}
    assert rows["FREE"].status == "sent"
    full = rows["FULL"]
    assert full.status == "queued" and full.attempts == 0  # a throttle spends no attempt
    assert full.not_before.replace(tzinfo=None) > (utcnow() + timedelta(seconds=50)).replace(tzinfo=None)


def test_a_key_and_its_full_url_are_one_robot() -> None:
    assert robot_key("KEY1") == "KEY1"
    assert robot_key("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY1") == "KEY1"


async def test_emoji_are_split_by_bytes_and_never_halved(webhook: tuple[FakeWebhook, str]) -> None:
    fake, base = webhook
    text = "🔥" * 600  # 2400 UTF-8 bytes in one line: counting 3 bytes a character sent 2664-byte pieces
    await WecomAdapter(base).send_text("K", text)
    assert len(fake.received) == 2
    assert all(len(body.encode()) <= 2000 for _, body in fake.received)
    assert "".join(body for _, body in fake.received) == text


def test_long_text_is_split_under_the_byte_limit() -> None:
    text = "\n".join(f"第{i}条：" + "注意安全" * 30 for i in range(40))
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 2000 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
