"""Tests for bot.bridge: the core runs off the event loop, failures never escape, shutdown waits for replies."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from bot.bridge import Bridge
from handlers.messages import DispatchResult, IncomingMessage, Reply
from tests.helpers import group_msg, private_msg


class SlowRouter:
    """A router stand-in that records which thread it ran on and answers after a delay."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail, self.threads = delay, fail, []

    def dispatch(self, msg: IncomingMessage) -> DispatchResult:
        import time

        self.threads.append(threading.get_ident())
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError(f"boom {msg.text}")
        return DispatchResult([Reply(msg.chat_id, "ok:" + msg.text)], "filed")


async def test_router_runs_in_a_worker_thread_and_replies_are_delivered() -> None:
    router = SlowRouter()
    bridge = Bridge(router, router)  # type: ignore[arg-type]
    sent: list[str] = []

    async def deliver(reply: Reply) -> None:
        sent.append(reply.text)

    await bridge.process(group_msg("a"), deliver)
    assert sent == ["ok:a"]
    assert router.threads[0] != threading.get_ident()


async def test_a_failing_message_is_logged_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    bridge = Bridge(SlowRouter(fail=True), None)  # type: ignore[arg-type]
    sent: list[Reply] = []

    async def deliver(reply: Reply) -> None:
        sent.append(reply)

    with caplog.at_level(logging.INFO):
        await bridge.process(private_msg("secret words", sender="whistle"), deliver)
    assert sent == []
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "message handling failed" in logged
    assert "secret words" not in "".join(r.getMessage() for r in caplog.records)


async def test_drain_waits_for_messages_in_flight() -> None:
    bridge = Bridge(SlowRouter(delay=0.2), None)  # type: ignore[arg-type]
    sent: list[str] = []

    async def deliver(reply: Reply) -> None:
        sent.append(reply.text)

    bridge.submit(group_msg("x"), deliver)
    bridge.submit(group_msg("y"), deliver)
    await asyncio.wait_for(bridge.drain(), timeout=5)
    assert sorted(sent) == ["ok:x", "ok:y"]


async def test_a_failing_delivery_does_not_stop_the_next_reply() -> None:
    class TwoReplies(SlowRouter):
        def dispatch(self, msg: IncomingMessage) -> DispatchResult:
            return DispatchResult([Reply("c", "1"), Reply("c", "2")])

    bridge = Bridge(TwoReplies(), None)  # type: ignore[arg-type]
    sent: list[str] = []

    async def deliver(reply: Reply) -> None:
        if reply.text == "1":
            raise ConnectionError("network down")
        sent.append(reply.text)

    await bridge.process(group_msg("x"), deliver)
    assert sent == ["2"]


async def test_throttled_group_reply_waits_in_the_outbox_and_private_reply_is_not_stored(router) -> None:
    from bot.adapters.base import RetryLater
    from storage.outbox import list_outbox

    bridge = Bridge(*router.parts)

    async def refuse(reply: Reply) -> None:
        raise RetryLater(30)

    await bridge.process(group_msg("王家沟村东头老窑洞裂了好宽的缝，下雨怕塌", message_id="m1"), refuse)
    await bridge.process(private_msg("后沟那个煤窑晚上偷偷开采，别说是我说的", sender="wxid_z"), refuse)
    with router.core.sessions() as s:
        rows = list_outbox(s)
    assert [(r.event, r.chat_id) for r in rows] == [("reply", "-100")]
    assert "已登记隐患" in rows[0].text


# --- a database that is away ------------------------------------------------------------------------------


class AwayRouter:
    """A router stand-in whose database is away until ``back`` is set; records the order messages are handled."""

    def __init__(self) -> None:
        self.back = threading.Event()
        self.handled: list[str] = []
        self.tries = 0

    def dispatch(self, msg: IncomingMessage, *, retried: bool = False) -> DispatchResult:
        from storage.db import DatabaseUnavailable

        self.tries += 1
        if not self.back.is_set():
            raise DatabaseUnavailable("disconnected")
        self.handled.append(msg.text)
        return DispatchResult([Reply(msg.chat_id, "ok:" + msg.text)], "filed")


async def test_messages_held_for_the_database_are_handled_in_order_once_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = AwayRouter()
    bridge = Bridge(router, None, retry_base=0.01, retry_max=0.05)  # type: ignore[arg-type]
    sent: list[str] = []

    async def deliver(reply: Reply) -> None:
        sent.append(reply.text)

    with caplog.at_level(logging.INFO):
        for i in range(5):
            bridge.submit(group_msg(f"m{i}") if i % 2 else private_msg(f"m{i}"), deliver)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert sent == [] and bridge.held == 5
        router.back.set()
        await asyncio.wait_for(bridge.drain(), timeout=5)
    assert router.handled == [f"m{i}" for i in range(5)]  # arrival order, each once
    assert sorted(sent) == [f"ok:m{i}" for i in range(5)]
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.bridge"]
    assert (
        messages.count("database unavailable; messages are held in memory and retried until it is back") == 1
    )
    assert any(m.startswith("database available again") for m in messages)
    assert not any("m3" in str(r.__dict__) for r in caplog.records)  # no message text in any log


async def test_a_stop_during_an_outage_gives_up_held_messages_and_ends() -> None:
    router = AwayRouter()
    bridge = Bridge(router, None, retry_base=0.01, retry_max=0.05)  # type: ignore[arg-type]

    async def deliver(reply: Reply) -> None:
        raise AssertionError("nothing can be answered")

    task = asyncio.create_task(bridge.process(private_msg("举报 夜里偷采"), deliver))
    await asyncio.sleep(0.1)
    assert bridge.abandon_held() == 1
    await asyncio.wait_for(task, timeout=2)
    assert bridge.held == 0


async def test_housekeeping_during_an_outage_logs_one_line_not_one_every_round(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy.exc import OperationalError

    class DownRouter:
        def housekeeping(self) -> None:
            raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    bridge = Bridge(None, DownRouter())  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            await bridge.housekeeping()
    lines = [r for r in caplog.records if r.name == "bot.bridge"]
    assert [r.getMessage() for r in lines] == ["housekeeping failed: database unavailable"]
    assert not any(r.exc_info for r in lines)
