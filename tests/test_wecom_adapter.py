"""Tests for bot.adapters.wecom against a local fake WeCom webhook: delivery, limits, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.adapters.base import ChatUnreachable, DeliveryError, RetryLater
from bot.adapters.wecom import RobotLimiter, WecomAdapter, split_text
from bot.app import Database
from bot.delivery import DeliveryLoop
from storage.groups import upsert_group
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
    with pytest.raises(RetryLater):
        await adapter.send_text("A", "x")
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


async def test_sends_wait_for_the_window(webhook: tuple[FakeWebhook, str]) -> None:
    fake, base = webhook
    adapter = WecomAdapter(base, limiter=RobotLimiter(limit=2))
    adapter.limiter.record("K")
    adapter.limiter.record("K")
    task = asyncio.create_task(adapter.send_text("K", "third"))
    await asyncio.sleep(0.2)
    assert fake.received == [] and not task.done()
    task.cancel()


def test_long_text_is_split_under_the_byte_limit() -> None:
    text = "\n".join(f"第{i}条：" + "注意安全" * 30 for i in range(40))
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 2000 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
