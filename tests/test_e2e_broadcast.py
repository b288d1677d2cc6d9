"""End to end for broadcasts: officials' ``/广播`` over the Bot API wire, the outbox, and delivery under limits.

The in-process tests run the app's own ``serve`` (the Telegram adapter, its outbox delivery loop and the
housekeeping that writes receipts) on the ``sqlite_database`` fixture, against the fake Bot API with the
adapter's real rate limits. The last test runs real ``anquan run`` processes, SIGKILLs one mid-broadcast and
restarts it. Every wait is on a condition with a timeout; the measured rates are printed (run with ``-s``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.adapters.telegram import RetryPolicy, TelegramAdapter
from bot.app import Database, serve
from bot.bridge import Bridge
from bot.cli import main as cli_main
from handlers.classifier import Classifier
from handlers.profile import Profile
from handlers.router import Router
from handlers.texts import Texts
from storage import groups as group_repo
from storage.db import make_engine, make_session_factory
from storage.models import Broadcast, OutboxMessage
from storage.officials import add_official
from tests.conftest import Clock, make_core
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage, private_chat, text_update
from tests.test_e2e_telegram import OFFICIAL, VILLAGER, _anquan, _run_cli, eventually

GROUPS = 40
CHAT_IDS = [str(-1001700000000 - i) for i in range(1, GROUPS + 1)]
UNITS = [f"{i:02d}号村" for i in range(1, GROUPS + 1)]
MEETING = "明天上午九点开安全会"
PREVIEW_ID = re.compile(r"#(\d+)")


# --- measuring what the fake saw --------------------------------------------------------------------------


def limit_breaches(sent: list[SentMessage]) -> list[str]:
    """Telegram's limits checked again from the fake's timestamps: 1/s per chat, 20/min per group, 30/s."""
    breaches = []
    by_chat: dict[str, list[float]] = {}
    times = sorted(s.t for s in sent)
    for s in sorted(sent, key=lambda s: s.t):
        by_chat.setdefault(s.chat_id, []).append(s.t)
    for chat, ts in by_chat.items():
        breaches += [f"chat {chat}: {b - a:.2f}s apart" for a, b in itertools.pairwise(ts) if b - a < 0.9]
        if chat.startswith("-"):
            breaches += [f"group {chat}: >20/min" for i in range(len(ts) - 20) if ts[i + 20] - ts[i] < 60]
    breaches += [f"overall: >30/s at {t:.2f}" for i, t in enumerate(times[30:]) if t - times[i] < 1.0]
    return breaches


def rate_line(label: str, sent: list[SentMessage]) -> str:
    """Messages, time span, mean rate and the busiest 1-second window, for the record."""
    ts = sorted(s.t for s in sent)
    span = ts[-1] - ts[0] if len(ts) > 1 else 0.0
    peak = max((sum(1 for u in ts if t <= u < t + 1.0) for t in ts), default=0)
    mean = (len(ts) - 1) / span if span > 0 else float("nan")
    line = f"{label}: {len(ts)} messages in {span:.2f}s = {mean:.1f} msg/s; peak {peak} in any 1 s"
    if len(ts) > 30:
        tightest = min(b - a for a, b in zip(ts, ts[30:], strict=False))
        line += f"; tightest 31 consecutive span {tightest:.3f}s (limit: > 1 s)"
    return line


def to_groups(api: FakeTelegramAPI, text: str = MEETING) -> list[SentMessage]:
    """The broadcast messages the fake accepted for the registered groups."""
    chats = set(CHAT_IDS)
    return [s for s in api.sent if s.chat_id in chats and text in s.text]


# --- the in-process bot --------------------------------------------------------------------------------------


@dataclass
class BroadcastBot:
    """``serve`` running the Telegram adapter (real limits) + outbox delivery + housekeeping on the fake."""

    api: FakeTelegramAPI
    db: Database
    clock: Clock
    stop: asyncio.Event
    task: asyncio.Task[None]

    def say(self, sender: dict[str, Any], text: str) -> int:
        """A private message to the bot; returns how many messages this sender had received before it."""
        before = len(self.api.sent_to(sender["id"]))
        self.api.push_update(text_update(private_chat(sender), sender, text))
        return before

    async def answer(self, sender: dict[str, Any], before: int, timeout: float = 15.0) -> str:
        """The next message the bot sends to ``sender`` after the first ``before``."""
        await self.api.wait_for(lambda: len(self.api.sent_to(sender["id"])) > before, timeout)
        return self.api.sent_to(sender["id"])[before].text

    async def ask(self, sender: dict[str, Any], text: str) -> str:
        """Say something privately and wait for the bot's answer."""
        return await self.answer(sender, self.say(sender, text))

    async def broadcast(self, text: str = f"/广播 村 {MEETING}") -> tuple[int, str]:
        """An official previews a broadcast; returns its number and the preview."""
        preview = await self.ask(OFFICIAL, text)
        match = PREVIEW_ID.search(preview)
        assert match, preview
        return int(match.group(1)), preview

    async def receipt(self, timeout: float = 40.0) -> str:
        """Wait for the official's delivery receipt."""

        def found() -> bool:
            return any("已送达" in s.text for s in self.api.sent_to(OFFICIAL["id"]))

        try:
            await self.api.wait_for(found, timeout)
        except TimeoutError:
            rows = Counter((r.event, r.status) for r in self.rows())
            states = [b.status for b in self.broadcasts()]
            raise AssertionError(f"no receipt; outbox {dict(rows)}, broadcasts {states}") from None
        return next(s.text for s in self.api.sent_to(OFFICIAL["id"]) if "已送达" in s.text)

    def rows(self) -> list[OutboxMessage]:
        """Every outbox row."""
        with self.db.sessions() as session:
            rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            session.expunge_all()
            return rows

    def broadcasts(self) -> list[Broadcast]:
        """Every broadcast."""
        with self.db.sessions() as session:
            rows = list(session.scalars(select(Broadcast).order_by(Broadcast.id)))
            session.expunge_all()
            return rows


@pytest.fixture
async def bot(
    sqlite_database: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock
) -> AsyncIterator[BroadcastBot]:
    """40 village groups and an official registered; the app's ``serve`` running against the fake."""
    with sqlite_database.sessions.begin() as session:
        add_official(session, "telegram", str(OFFICIAL["id"]), "李秀英")
        for chat_id, unit in zip(CHAT_IDS, UNITS, strict=True):
            group_repo.upsert_group(
                session, "telegram", chat_id, title=f"{unit}安全群", kind="village", unit=unit, active=True
            )
    bridge = Bridge(*Router(make_core(sqlite_database, classifier, texts, profile, clock)).parts)
    async with FakeTelegramAPI() as api:
        # The default SendLimiter: Telegram's real limits are what these tests measure.
        adapter = TelegramAdapter(
            api.token, base_url=api.base_url, poll_timeout=2.0, retry=RetryPolicy(base_delay=0.05)
        )
        stop = asyncio.Event()
        task = asyncio.create_task(serve([adapter], bridge, stop, sessions=sqlite_database.sessions))
        await api.wait_for(lambda: any(c.method == "getupdates" for c in api.calls) or task.done(), 15)
        if task.done():
            task.result()
        try:
            yield BroadcastBot(api, sqlite_database, clock, stop, task)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)


async def test_broadcast_to_40_groups_through_502s_and_a_429_arrives_once_within_limits(
    bot: BroadcastBot,
) -> None:
    bid, preview = await bot.broadcast()
    assert "40 个群" in preview and MEETING in preview
    assert bot.rows() == []  # nothing is queued before the confirmation

    for chat_id in CHAT_IDS[3:30:6]:  # five groups' first attempt meets a bad gateway
        bot.api.fail_sends(1, 502, chat_id=chat_id)
    bot.api.fail_sends(1, 429, retry_after=1, chat_id=CHAT_IDS[20])
    confirmed = await bot.ask(OFFICIAL, f"/确认广播 {bid}")
    assert f"#{bid}" in confirmed and "40" in confirmed

    receipt = await bot.receipt()
    assert f"#{bid}" in receipt and "已送达 40/40 个群" in receipt

    # The receipt is written only once no row is queued: nothing more can go out, so counts are final.
    got = Counter(s.chat_id for s in to_groups(bot.api))
    assert got == Counter(CHAT_IDS)  # every group exactly once
    assert all(s.text.startswith("【") for s in to_groups(bot.api))  # with the office's header
    sends = [c for c in bot.api.calls if c.method == "sendmessage"]
    assert Counter(c.status for c in sends) == {200: 40 + 3, 502: 5, 429: 1}  # + preview, confirm, receipt
    throttled = next(i for i, c in enumerate(sends) if c.status == 429)
    assert sends[throttled + 1].t - sends[throttled].t >= 1.0  # retry_after held back every chat
    await eventually(lambda: all(r.status == "sent" for r in bot.rows()))  # marked right after acceptance
    rows = bot.rows()
    assert {(r.event, r.status) for r in rows} == {("broadcast", "sent"), ("broadcast-receipt", "sent")}
    assert sorted(r.attempts for r in rows if r.event == "broadcast") == [1] * 35 + [2] * 5
    assert [b.status for b in bot.broadcasts()] == ["finished"]

    assert bot.api.limit_violations == []
    assert limit_breaches(bot.api.sent) == []
    print("\n" + rate_line("broadcast, 5×502 + 1×429", to_groups(bot.api)))


async def test_villager_cannot_broadcast_and_unconfirmed_broadcast_expires(bot: BroadcastBot) -> None:
    refused = await bot.ask(VILLAGER, f"/广播 村 {MEETING}")
    assert "只有登记过的镇村干部" in refused and "预览" not in refused
    assert bot.broadcasts() == [] and bot.rows() == []

    bid, _ = await bot.broadcast()
    bot.clock.now += timedelta(minutes=11)
    expired = await bot.ask(OFFICIAL, f"/确认广播 {bid}")
    assert f"#{bid}" in expired and "作废" in expired
    assert bot.rows() == []
    assert [b.status for b in bot.broadcasts()] == ["pending"]
    # Confirming again does not revive it.
    assert "作废" in await bot.ask(OFFICIAL, f"/确认广播 {bid}")
    assert bot.rows() == [] and to_groups(bot.api) == []


async def test_403_group_is_blocked_made_inactive_and_named_in_the_receipt(bot: BroadcastBot) -> None:
    kicked = 7
    bot.api.forbid_chat(CHAT_IDS[kicked])
    bid, _ = await bot.broadcast()
    await bot.ask(OFFICIAL, f"/确认广播 {bid}")
    receipt = await bot.receipt()
    assert "已送达 39/40 个群" in receipt and UNITS[kicked] in receipt
    assert all(u not in receipt for i, u in enumerate(UNITS) if i != kicked)

    got = Counter(s.chat_id for s in to_groups(bot.api))
    assert got == Counter(c for i, c in enumerate(CHAT_IDS) if i != kicked)
    row = next(r for r in bot.rows() if r.chat_id == CHAT_IDS[kicked])
    assert row.status == "blocked" and row.attempts == 1 and row.last_error
    with bot.db.sessions() as session:
        group = group_repo.get_group(session, "telegram", CHAT_IDS[kicked])
        assert group is not None and group.active is False
    forbidden = [c for c in bot.api.calls if c.params.get("chat_id") == CHAT_IDS[kicked]]
    assert len(forbidden) == 1  # a 403 is never retried
    assert bot.api.limit_violations == []
    print("\n" + rate_line("broadcast, one group 403", to_groups(bot.api)))

    # The next broadcast leaves the inactive group out.
    _, preview = await bot.broadcast(f"/广播 村 {MEETING}（第二次）")
    assert "39 个群" in preview


# --- real processes: SIGKILL mid-broadcast, restart ------------------------------------------------------------


class SlowFakeTelegramAPI(FakeTelegramAPI):
    """The fake, with sendMessage answering after ``send_delay`` seconds (a slow link), so a kill lands mid-way."""

    send_delay = 0.0

    async def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        return await super()._m_sendmessage(params)


async def _start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(_anquan(), "run", env=env, stdout=out, stderr=out)


async def _wait(
    api: FakeTelegramAPI,
    proc: asyncio.subprocess.Process,
    check: Callable[[], bool],
    timeout: float,
    log: Path,
) -> None:
    """Wait for ``check`` on the fake's state; fail at once (with the log) if the bot process dies."""
    condition = asyncio.ensure_future(api.wait_for(check, timeout))
    died = asyncio.ensure_future(proc.wait())
    await asyncio.wait({condition, died}, return_when=asyncio.FIRST_COMPLETED)
    died.cancel()
    if not condition.done():
        condition.cancel()
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise AssertionError(f"anquan run exited with {proc.returncode}:\n{tail}")
    condition.result()


async def test_sigkill_mid_broadcast_then_restart_delivers_the_rest_at_most_one_duplicate(
    tmp_path: Path,
) -> None:
    async with SlowFakeTelegramAPI() as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANQUAN_")}
        mine = {
            "ANQUAN_PLATFORMS": "telegram",
            "ANQUAN_TELEGRAM_TOKEN": api.token,
            "ANQUAN_TELEGRAM_BASE_URL": api.base_url,
            "ANQUAN_DATA_DIR": str(tmp_path),
            "ANQUAN_LOG_LEVEL": "INFO",
        }
        env.update(mine)
        # The CLI's own `groups add` for each group (in-process: 40 process start-ups would take half a minute).
        runner = CliRunner()
        cli_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ANQUAN_")} | mine
        for chat_id, unit in zip(CHAT_IDS, UNITS, strict=True):
            args = ["groups", "add", "--platform", "telegram", "--chat-id", chat_id, "--kind", "village"]
            result = runner.invoke(cli_main, [*args, "--unit", unit], env=cli_env)
            assert result.exit_code == 0, result.output

        log = tmp_path / "anquan.log"
        proc = await _start_bot(env, log)
        try:
            await _wait(api, proc, lambda: any(c.method == "getupdates" for c in api.calls), 30, log)
            api.send_delay = 0.2
            queued = await _run_cli(env, "broadcast", "--target", "villages", MEETING)
            assert "40" in queued

            def mid_way() -> bool:  # 12+ delivered and the next send is in flight
                in_flight = any(c.method == "sendmessage" and c.status == 0 for c in api.calls)
                return len(to_groups(api)) >= 12 and in_flight

            await _wait(api, proc, mid_way, 30, log)
            proc.send_signal(signal.SIGKILL)
            in_flight = {
                str(c.params.get("chat_id")) for c in api.calls if c.method == "sendmessage" and c.status == 0
            }
            assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL
            before_kill = len(to_groups(api))
            assert before_kill < GROUPS

            api.send_delay = 0.0
            calls_before_restart = len(api.calls)
            proc = await _start_bot(env, log)
            await _wait(api, proc, lambda: set(CHAT_IDS) <= {s.chat_id for s in to_groups(api)}, 40, log)

            engine = make_engine(f"sqlite:///{tmp_path / 'anquan.db'}")
            sessions = make_session_factory(engine)

            def statuses() -> Counter[str]:
                with sessions() as session:
                    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    return Counter({status: n for status, n in session.execute(query)})

            try:  # each row is marked sent right after the fake accepted it
                await eventually(lambda: statuses() == {"sent": GROUPS})
            finally:
                engine.dispose()
            listed = [json.loads(line) for line in (await _run_cli(env, "outbox", "--json")).splitlines()]
            assert sorted(r["chat_id"] for r in listed) == sorted(CHAT_IDS)
            assert {r["status"] for r in listed} == {"sent"}
            attempts = Counter(r["attempts"] for r in listed)

            proc.send_signal(signal.SIGTERM)
            rc = await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert rc == 0, log.read_text(encoding="utf-8")[-3000:]

    restart_t = next(c.t for c in api.calls[calls_before_restart:] if c.method == "getme")
    got = Counter(s.chat_id for s in to_groups(api))
    duplicates = sorted(c for c, n in got.items() if n > 1)
    assert set(got) == set(CHAT_IDS)
    assert max(got.values()) <= 2 and len(duplicates) <= 1, got
    assert set(duplicates) <= in_flight  # only the send in flight at the kill may repeat
    assert api.limit_violations == []
    assert limit_breaches(api.sent) == []
    print(
        f"\nkill test: {before_kill} groups reached before SIGKILL, duplicates after restart: {len(duplicates)} "
        f"{duplicates}; outbox attempts per row: {dict(sorted(attempts.items()))}\n"
        + rate_line("after restart (no added delay)", [s for s in to_groups(api) if s.t > restart_t])
    )
    # The logs never carry the broadcast's text or the token.
    logs = log.read_text(encoding="utf-8")
    assert MEETING not in logs and api.token not in logs
