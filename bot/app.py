"""The one place that wires the bot together: settings → database → core → adapters, and runs them.

Nothing here runs at import time; ``run_bot`` is called by ``anquan run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.adapters import build_adapter
from bot.adapters.base import Adapter
from bot.bridge import Bridge
from bot.config import Settings
from bot.datafiles import DataFiles, resolve
from bot.delivery import DeliveryLoop
from bot.scheduling import start_scheduler, stop_scheduler
from handlers.context import Core
from handlers.profile import Profile
from handlers.router import wire
from storage.db import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    make_engine,
    make_session_factory,
    restrict_permissions,
    sqlite_files,
    upgrade,
)

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
HOUSEKEEPING_INTERVAL = 5.0
# On stop during a database outage, messages held for the database get this long before they are given up.
SHUTDOWN_GRACE = 10.0


@dataclass
class Database:
    """An engine whose schema is up to date, and its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]


def open_database(settings: Settings) -> Database:
    """Connect and bring the schema up to date (every command and the bot do this at start)."""
    secure_data_files(settings)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    secure_data_files(settings)  # the SQLite file and its WAL companions exist now
    return Database(engine, make_session_factory(engine))


def secure_data_files(settings: Settings) -> None:
    """Make the data folder 0700 and the SQLite and key files 0600; wider permissions are tightened with a warning.

    We tighten rather than refuse to start: a copied or restored folder keeps working and the log says what changed.
    """
    # Missing ones are left alone: make_engine and Settings.secret create them private.
    wanted = [(settings.data_dir, PRIVATE_DIR), (settings.data_dir / "secret.key", PRIVATE_FILE)]
    wanted += [(path, PRIVATE_FILE) for path in sqlite_files(settings.db_url)]
    for path, mode in wanted:
        old = restrict_permissions(path, mode)
        if old is not None:
            log.warning(
                "permissions too wide; tightened",
                extra={"path": str(path), "was": oct(old), "now": oct(mode)},
            )


def build_core(
    settings: Settings, db: Database, profile: Profile | None = None, *, files: DataFiles | None = None
) -> Core:
    """Load the town profile, wording, publicity and classifier (jieba loads here, once) into the core's services.

    ``files`` are the data files in force (``bot.datafiles.resolve``; resolved from ``settings`` when not given).
    """
    files = files or resolve(settings)
    profile = profile or files.load_profile()
    return Core(
        sessions=db.sessions,
        classifier=files.load_classifier(profile.place_names()),
        texts=files.load_texts(),
        profile=profile,
        publicity=files.load_publicity(),
        secret=settings.secret(),
        tz=settings.tz,
        data_dir=settings.data_dir,
    )


def make_adapters(settings: Settings, core: Core) -> list[Adapter]:
    """One adapter per configured platform; platform SDKs are imported only when configured."""
    return [build_adapter(name, settings, core) for name in settings.platforms]


async def supervise(adapter: Adapter, bridge: Bridge, stop: asyncio.Event, *, backoff: float = 1.0) -> None:
    """Run one adapter; if its connection fails, retry with exponential backoff, never affecting the others."""
    delay = backoff
    while not stop.is_set():
        try:
            await adapter.run(bridge, stop)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "adapter failed; restarting",
                extra={"platform": adapter.platform, "error": type(exc).__name__, "retry_in": delay},
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            delay = min(delay * 2, MAX_BACKOFF)


async def housekeeping(bridge: Bridge, stop: asyncio.Event, interval: float = HOUSEKEEPING_INTERVAL) -> None:
    """Run the core's periodic chores until ``stop``."""
    while not stop.is_set():
        await bridge.housekeeping()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def serve(
    adapters: list[Adapter],
    bridge: Bridge,
    stop: asyncio.Event,
    *,
    backoff: float = 1.0,
    sessions: sessionmaker[Session] | None = None,
    shutdown_grace: float = SHUTDOWN_GRACE,
) -> None:
    """Run all adapters (and, given ``sessions``, their outbox delivery loops) until ``stop``.

    On stop, messages already received are handled and their replies sent before this returns; messages still
    waiting for an unavailable database ``shutdown_grace`` seconds after the stop are given up (and logged).
    """
    tasks = [
        asyncio.create_task(supervise(a, bridge, stop, backoff=backoff), name=f"adapter-{a.platform}")
        for a in adapters
    ]
    if sessions is not None:
        tasks += [
            asyncio.create_task(DeliveryLoop(sessions, a).run(stop), name=f"outbox-{a.platform}")
            for a in adapters
        ]
        tasks.append(asyncio.create_task(housekeeping(bridge, stop), name="housekeeping"))
    await stop.wait()
    # Messages held for an unavailable database must not keep a stopping bot alive for ever.
    give_up = asyncio.get_running_loop().call_later(shutdown_grace, bridge.abandon_held)
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
        await bridge.drain()
    finally:
        give_up.cancel()


async def run_bot(settings: Settings, db: Database | None = None, files: DataFiles | None = None) -> None:
    """``anquan run``: start every configured adapter and stop cleanly on SIGTERM or SIGINT.

    ``db`` is the database already opened (the CLI opens it first, to explain a failure in one line); ``files``
    are the data files in force (resolved from ``settings`` when not given), the same for the core, the
    scheduler and the dashboard.
    """
    files = files or resolve(settings)
    if db is None:
        db = await asyncio.to_thread(open_database, settings)
    core = await asyncio.to_thread(build_core, settings, db, files=files)
    bridge = Bridge(*wire(core))
    adapters = await asyncio.to_thread(make_adapters, settings, core)  # the console registers its official
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler = start_scheduler(settings, db.sessions, files.load_calendar(core.texts), core.texts)
    from bot.cli_web import start_web_server

    web = start_web_server(settings, core, files)  # the dashboard (挂图作战), when ANQUAN_WEB_LISTEN is set
    log.info("anquan started", extra={"platforms": ",".join(settings.platforms)})
    try:
        await serve(adapters, bridge, stop, sessions=db.sessions)
    finally:
        if web is not None:
            await web.stop()
        await stop_scheduler(scheduler)
        db.engine.dispose()
        log.info("anquan stopped")
