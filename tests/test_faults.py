"""Faults the bot meets in the field: the database goes away (restart, network blip, disk full, read-only).

While it is away messages keep arriving; none may be lost or handled twice, and their replies arrive late, not
never. The PostgreSQL tests cut real connections: through a TCP proxy on loopback that is stopped and started
again, and with ``pg_terminate_backend`` on the bot's own connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.app import Database
from bot.bridge import Bridge
from handlers.classifier import Classifier
from handlers.messages import IncomingMessage, Reply
from handlers.profile import Profile
from handlers.router import Router
from handlers.texts import Texts
from storage.db import make_engine, make_session_factory, upgrade
from storage.models import ProcessedMessage, Report, Tip
from tests.conftest import Clock, make_core
from tests.helpers import group_msg, private_msg

PG_URL = os.environ.get("ANQUAN_TEST_DATABASE_URL")
# How long the PostgreSQL outage lasts in the proxy test; ANQUAN_TEST_OUTAGE_SECONDS=30 for the blip.
OUTAGE_SECONDS = float(os.environ.get("ANQUAN_TEST_OUTAGE_SECONDS", "3"))

HAZARDS = [
    "{v}村东头电线杆子歪了，快倒了",
    "{v}村小学后面的土崖裂了好宽的缝，下雨怕塌",
    "{v}村加油站旁边有人卖散装汽油",
    "{v}村桥上护栏断了一大截，晚上看不见",
    "{v}村煤矿井口冒烟了，味道很大",
]
TIPS = [
    "举报 后沟那个煤窑晚上偷偷开采，别说是我说的",
    "举报 村西头的炮仗作坊在民房里偷偷做鞭炮，不要说是我举报的",
]


# --- a TCP proxy that can cut every connection ------------------------------------------------------------


class CuttableProxy:
    """Forwards loopback TCP to PostgreSQL; ``cut`` drops every connection and refuses new ones until ``mend``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (again) on the same loopback port."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and abort every open connection (what a database restart looks like to the bot)."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def mend(self) -> None:
        """Accept connections again."""
        await self.start()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, migrated schema on the test PostgreSQL (skipped without ANQUAN_TEST_DATABASE_URL)."""
    if not PG_URL:
        pytest.skip("database outage tests need PostgreSQL: set ANQUAN_TEST_DATABASE_URL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at ANQUAN_TEST_DATABASE_URL unreachable: {exc}")
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(engine)
    engine.dispose()
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
async def proxy() -> AsyncIterator[CuttableProxy]:
    """A cuttable proxy in front of the test PostgreSQL."""
    assert PG_URL
    url = make_url(PG_URL)
    p = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await p.start()
    yield p
    with contextlib.suppress(Exception):
        await p.cut()


def _router_on(db: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock) -> Router:
    return Router(make_core(db, classifier, texts, profile, clock))


def _traffic(tag: str, n_groups: int = 4) -> list[IncomingMessage]:
    """Group hazards from many villages and senders, private tips and commands, all with distinct ids."""
    villages = ["王家沟", "李家坪", "后沟", "前山", "克虎"]
    msgs: list[IncomingMessage] = []
    for i in range(n_groups):
        for j, template in enumerate(HAZARDS):
            v = villages[(i + j) % len(villages)]
            msgs.append(
                group_msg(
                    template.format(v=v) + f"（第{i}次）",
                    sender=f"{tag}-s{i}-{j}",
                    chat=f"-{100 + i}",
                    title=f"{v}村民群",
                    message_id=f"{tag}-g{i}-{j}",
                )
            )
        msgs.append(group_msg("/帮助", sender=f"{tag}-c{i}", chat=f"-{100 + i}", message_id=f"{tag}-c{i}"))
        tip = TIPS[i % len(TIPS)] + f"，第{i}回"
        msgs.append(private_msg(tip, sender=f"{tag}-p{i}", message_id=f"{tag}-p{i}"))
    return msgs


class Recorder:
    """Collects the replies the bot sends, per incoming message."""

    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}

    def deliver_for(self, msg: IncomingMessage):  # type: ignore[no-untyped-def]
        async def deliver(reply: Reply) -> None:
            self.replies.setdefault(msg.message_id, []).append(reply)

        return deliver


def _counts(db: Database) -> tuple[int, int, int]:
    with db.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Report)) or 0,
            s.scalar(select(func.count()).select_from(Tip)) or 0,
            s.scalar(select(func.count()).select_from(ProcessedMessage)) or 0,
        )


def _expected(msgs: list[IncomingMessage]) -> tuple[int, int, int]:
    hazards = sum(1 for m in msgs if m.chat_type == "group" and not m.text.startswith("/"))
    tips = sum(1 for m in msgs if m.chat_type == "private")
    return hazards, tips, len(msgs)


# --- PostgreSQL: connections cut ------------------------------------------------------------------------


async def test_a_postgresql_outage_loses_and_duplicates_nothing_and_replies_come_late(
    pg_schema: str,
    proxy: CuttableProxy,
    classifier: Classifier,
    texts: Texts,
    profile: Profile,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert PG_URL
    url = make_url(PG_URL).set(host="127.0.0.1", port=proxy.port)
    engine = make_engine(
        url.render_as_string(hide_password=False), connect_args={"options": f"-csearch_path={pg_schema}"}
    )
    db = Database(engine, make_session_factory(engine))
    bridge = Bridge(*_router_on(db, classifier, texts, profile, clock).parts, retry_base=0.1, retry_max=0.5)
    recorder = Recorder()
    before, during, after = _traffic("a", 2), _traffic("b", 3), _traffic("c", 1)
    try:
        with caplog.at_level(logging.INFO):
            for m in before:
                bridge.submit(m, recorder.deliver_for(m))
            await asyncio.sleep(0.05)  # some are in the database, some in flight when it goes
            await proxy.cut()
            for m in during:
                bridge.submit(m, recorder.deliver_for(m))
                await asyncio.sleep(OUTAGE_SECONDS / len(during))
            assert bridge.held > 0
            answered_during = len(recorder.replies)
            await proxy.mend()
            for m in after:
                bridge.submit(m, recorder.deliver_for(m))
            await asyncio.wait_for(bridge.drain(), timeout=60)
    finally:
        engine.dispose()
    everything = before + during + after
    assert answered_during < len(everything)
    # Every message answered once it was back: hazards with their number, tips with a receipt, commands.
    missing = [m.message_id for m in everything if not recorder.replies.get(m.message_id)]
    assert missing == []
    for m in everything:
        reply = recorder.replies[m.message_id][0].text
        if m.chat_type == "private":
            assert "回执码" in reply or "确认" in reply or "1" in reply
        elif not m.text.startswith("/"):
            assert "#" in reply
    # Nothing lost, nothing twice: one report per hazard, one tip per tip, one key per message.
    check = make_engine(PG_URL, connect_args={"options": f"-csearch_path={pg_schema}"})
    try:
        assert _counts(Database(check, make_session_factory(check))) == _expected(everything)
    finally:
        check.dispose()
    logged = [r for r in caplog.records if r.name == "bot.bridge"]
    assert sum("database unavailable; messages are held" in r.getMessage() for r in logged) == 1
    assert any("database available again" in r.getMessage() for r in logged)
    # No tip's text and no private sender in any log line.
    all_text = "\n".join(r.getMessage() + " " + str(r.__dict__) for r in caplog.records)
    assert "煤窑" not in all_text and "a-p0" not in all_text


async def test_terminated_backends_lose_and_duplicate_nothing(
    pg_schema: str, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock
) -> None:
    assert PG_URL
    app_name = f"anquan-fault-{uuid.uuid4().hex[:8]}"
    engine = make_engine(
        PG_URL, connect_args={"options": f"-csearch_path={pg_schema}", "application_name": app_name}
    )
    killer = make_engine(PG_URL)
    db = Database(engine, make_session_factory(engine))
    bridge = Bridge(*_router_on(db, classifier, texts, profile, clock).parts, retry_base=0.05, retry_max=0.2)
    recorder = Recorder()
    msgs = _traffic("k", 6)
    killed = 0

    def terminate() -> int:
        with killer.begin() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": app_name},
                ).all()
            )

    try:
        for i, m in enumerate(msgs):
            bridge.submit(m, recorder.deliver_for(m))
            if i % 4 == 0:
                await asyncio.sleep(0.02)
                killed += await asyncio.to_thread(terminate)
        await asyncio.wait_for(bridge.drain(), timeout=60)
    finally:
        engine.dispose()
        killer.dispose()
    assert killed > 0
    assert [m.message_id for m in msgs if not recorder.replies.get(m.message_id)] == []
    assert _counts(db) == _expected(msgs)


# --- SQLite: read-only, disk full ----------------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Path]:
    """A migrated SQLite database file."""
    path = tmp_path / "anquan.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield path


async def test_a_full_disk_holds_messages_logs_once_and_recovers(
    sqlite_file: Path,
    classifier: Classifier,
    texts: Texts,
    profile: Profile,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(f"sqlite:///{sqlite_file}")
    db = Database(engine, make_session_factory(engine))
    full = {"on": True}

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def cap(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        if full["on"]:
            pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(f"PRAGMA max_page_count={pages}")  # not one page more: the disk is full

    bridge = Bridge(*_router_on(db, classifier, texts, profile, clock).parts, retry_base=0.05, retry_max=0.2)
    recorder = Recorder()
    msgs = _traffic("f", 30)  # the file fills up part-way through
    try:
        with caplog.at_level(logging.INFO):
            for m in msgs:
                bridge.submit(m, recorder.deliver_for(m))
            for _ in range(200):
                if bridge.held:
                    break
                await asyncio.sleep(0.05)
            # Messages already on their way may still fit; then replies stop.
            answered = -1
            while answered != len(recorder.replies):
                answered = len(recorder.replies)
                await asyncio.sleep(1.0)
            assert bridge.held > 0 and answered < len(msgs)
            # Nothing half-written: every stored message has its whole effect (a report per filed hazard).
            reports, tips, keys = _counts(db)
            stored = [m for m in msgs if m.message_id in recorder.replies]
            assert (reports, tips, keys) == _expected(stored)
            full["on"] = False  # space returns
            engine.dispose()
            await asyncio.wait_for(bridge.drain(), timeout=60)
    finally:
        engine.dispose()
    assert [m.message_id for m in msgs if not recorder.replies.get(m.message_id)] == []
    assert _counts(db) == _expected(msgs)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "database unavailable" in errors[0].getMessage()
    assert errors[0].reason == "disk-full"  # type: ignore[attr-defined]
    assert not any(r.exc_info for r in caplog.records)


async def test_a_read_only_database_holds_messages_and_recovers_when_writable(
    sqlite_file: Path,
    classifier: Classifier,
    texts: Texts,
    profile: Profile,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(f"sqlite:///{sqlite_file}")
    db = Database(engine, make_session_factory(engine))
    readonly = {"on": True}

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def ro(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        if readonly["on"]:
            dbapi_conn.execute("PRAGMA query_only=ON")  # what a read-only reopen of the file does to writes

    bridge = Bridge(*_router_on(db, classifier, texts, profile, clock).parts, retry_base=0.05, retry_max=0.2)
    recorder = Recorder()
    msgs = _traffic("r", 1)
    try:
        with caplog.at_level(logging.INFO):
            for m in msgs:
                bridge.submit(m, recorder.deliver_for(m))
            await asyncio.sleep(0.8)
            assert bridge.held > 0 and not recorder.replies
            readonly["on"] = False
            engine.dispose()
            await asyncio.wait_for(bridge.drain(), timeout=60)
    finally:
        engine.dispose()
    assert [m.message_id for m in msgs if not recorder.replies.get(m.message_id)] == []
    assert _counts(db) == _expected(msgs)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].reason == "read-only"  # type: ignore[attr-defined]


async def test_a_full_waiting_queue_refuses_new_messages_and_says_so(
    sqlite_file: Path,
    classifier: Classifier,
    texts: Texts,
    profile: Profile,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(f"sqlite:///{sqlite_file}")
    db = Database(engine, make_session_factory(engine))
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def ro(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")

    bridge = Bridge(*_router_on(db, classifier, texts, profile, clock).parts, max_held=3, retry_base=0.05)
    recorder = Recorder()
    msgs = _traffic("q", 2)
    with caplog.at_level(logging.INFO):
        for m in msgs:
            bridge.submit(m, recorder.deliver_for(m))
        await asyncio.sleep(0.8)
        assert bridge.held == 3
        assert bridge.abandon_held() == 3
        await asyncio.wait_for(bridge.drain(), timeout=10)
    engine.dispose()
    full = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(full) == 1
    assert any("held messages not handled" in r.getMessage() for r in caplog.records)


def test_a_hazard_stored_just_before_the_connection_broke_still_gets_its_number(
    sqlite_file: Path, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock
) -> None:
    """The COMMIT reached the database, its answer did not: the retry finds the message stored and says so."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    engine = make_engine(f"sqlite:///{sqlite_file}")
    db = Database(engine, make_session_factory(engine))
    router = _router_on(db, classifier, texts, profile, clock)
    broken = {"left": 1}

    @event.listens_for(db.sessions, "after_commit")
    def lose_the_answer(session: object) -> None:
        if broken["left"]:
            broken["left"] -= 1
            raise OperationalError(
                "COMMIT", {}, ConnectionResetError("server closed the connection unexpectedly")
            )

    try:
        result = router.dispatch(group_msg("村东头电线杆子歪了，快倒了", message_id="ack-lost"))
    finally:
        engine.dispose()
    assert result.report_id is not None
    assert [f"#{result.report_id}" in r.text for r in result.replies] == [True]
    assert _counts(db)[0] == 1  # stored once


# --- shutdown never waits for a send throttle ----------------------------------------------------------------


async def test_a_stopping_bot_does_not_sit_out_the_wechat_pacing() -> None:
    """WeChat sends are spaced seconds apart; a SIGTERM must not wait for the queue of them to drain."""
    import time
    from zoneinfo import ZoneInfo

    from bot.adapters.base import RetryLater
    from bot.adapters.wechaty import SendPacer

    pacer = SendPacer(30.0, 0.0, 500, ZoneInfo("Asia/Shanghai"))
    pacer.stop = asyncio.Event()
    await pacer.acquire()
    waiting = asyncio.create_task(pacer.acquire())  # the next send is 30 s away
    await asyncio.sleep(0.05)
    started = time.monotonic()
    pacer.stop.set()
    with pytest.raises(RetryLater):
        await asyncio.wait_for(waiting, timeout=2)
    assert time.monotonic() - started < 1
    short = SendPacer(0.2, 0.0, 500, ZoneInfo("Asia/Shanghai"))
    short.stop = asyncio.Event()
    short.stop.set()
    await short.acquire()
    await short.acquire()  # a gap of a moment is still kept: the reply goes out now
