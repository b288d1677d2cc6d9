"""Engine and session factory for SQLite (default) and PostgreSQL, plus schema upgrades via Alembic.

Engines never put SQL parameters (a tip's text, a sender's id) into logs or exception text, SQLite overwrites
deleted content, and its files are private to the bot's user.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# PostgreSQL: give up a connection attempt after this long, and notice a silently dead peer within about a minute
# (TCP keepalives), so a network blip raises an error the bridge can wait out instead of hanging a worker.
PG_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
# A pooled connection idle longer than this is pinged before use (a round trip). One handed back a moment ago is
# used as is: should it have died since, its first statement fails as "disconnected", the pool drops every older
# connection and the dispatcher tries the message again. Pinging every checkout cost a round trip per message.
PING_AFTER_IDLE = 5.0  # seconds


class DatabaseUnavailable(Exception):
    """The database cannot be reached or written right now (down, restarting, disk full, read-only).

    Carries no driver text on purpose: a driver's message can quote a row (a tip's text, a sender's id).
    ``reason`` is a short, fixed label for logs.
    """

    def __init__(self, reason: str = "unavailable") -> None:
        super().__init__(reason)
        self.reason = reason


def unavailable_reason(exc: BaseException) -> str | None:
    """A short label when ``exc`` means the database is unreachable or unwritable for now, else None.

    Such errors pass by themselves (a restart, a network blip, space freed, permissions fixed), so the message
    that met one is worth holding and trying again. Other errors (a bug, a missing table, a constraint, bad
    data) are not, even when the driver calls them "operational" (SQLite reports almost everything so).
    """
    if isinstance(exc, DatabaseUnavailable):
        return exc.reason
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return "disconnected"
    orig = getattr(exc, "orig", None)
    detail = str(orig if orig is not None else exc).lower()
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate:  # PostgreSQL says exactly what happened
        if sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03"):
            return "disconnected"  # connection exceptions; admin or crash shutdown; starting up
        if sqlstate == "53100":
            return "disk-full"
        if sqlstate.startswith("53"):
            return "busy"  # out of memory, too many connections
        if sqlstate == "25006":
            return "read-only"  # a standby after a failover, or a read-only transaction default
        if sqlstate in ("40001", "40P01", "55P03"):
            return "busy"  # serialization failure, deadlock, lock not available
        return None
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    if "readonly" in detail or "read-only" in detail or "read only" in detail:
        return "read-only"
    if "disk is full" in detail or "no space" in detail:
        return "disk-full"
    if "database is locked" in detail or "deadlock" in detail:
        return "busy"
    if "unable to open database" in detail or "disk i/o error" in detail:
        return "disconnected"
    if "sqlite" in type(orig).__module__:
        return None  # malformed SQL, a failing trigger, a missing table: not something waiting cures
    return "disconnected"  # a client-side connection failure (no SQLSTATE): refused, reset, closed


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine that hides SQL parameters; SQLite gets a private file, WAL, secure_delete and foreign keys."""
    # A failed statement's log line and exception text would otherwise carry its parameters.
    kwargs["hide_parameters"] = True
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            db_file = Path(parsed.database)
            db_file.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            # Create the file ourselves so it is 0600 from the start; SQLite gives its -wal/-shm the same mode.
            os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    ping_idle = "pool_pre_ping" not in kwargs
    if parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {**PG_CONNECT_ARGS, **kwargs.get("connect_args", {})}
    engine = create_engine(url, **kwargs)
    if ping_idle:
        _ping_when_idle(engine, PING_AFTER_IDLE)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout only when it sat idle ``idle_seconds`` or longer; replace it if dead."""

    def checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # just connected, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise DisconnectionError("stale pooled connection") from exc  # the pool connects afresh
            raise

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows (a withdrawn tip, purged keys) are overwritten with zeros, not left in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def masked_url(url: str) -> str:
    """``url`` fit for printing: the password, if any, replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: show no part of it that might be a secret
        return "<无法解析的数据库地址>"


def scrub_password(text: str, url: str) -> str:
    """``text`` (say, a driver's error) with the password of ``url`` masked; nothing of it if ``url`` is unparsable."""
    try:
        password = make_url(url).password
    except Exception:
        return "数据库地址无法解析"
    if password:
        raw = str(password)
        for form in {raw, quote(raw, safe=""), quote_plus(raw, safe="")}:
            text = text.replace(form, "***")
    return text


def sqlite_files(url: str) -> list[Path]:
    """The SQLite database file behind ``url`` and its WAL companions that exist (none for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return []
    base = Path(parsed.database)
    return [p for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists()]


def restrict_permissions(path: Path, mode: int) -> int | None:
    """Take away every permission on ``path`` beyond ``mode``; returns the old mode if it was wider, else None."""
    if os.name != "posix" or not path.exists():
        return None
    # Only what the bot made: a folder where a folder is meant, a regular file where a file is (a data folder
    # set to an existing file by mistake must not have that file's permissions changed).
    if path.is_dir() != (mode == PRIVATE_DIR) or not (path.is_dir() or path.is_file()):
        return None
    old = stat.S_IMODE(path.stat().st_mode)
    if old & ~mode == 0:
        return None
    os.chmod(path, old & mode)
    return old


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose sessions keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the bundled migrations and bound to ``engine``."""
    from alembic.config import Config  # imported here: commands that never migrate start faster

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (the latest by default)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def execute_core(session: Session, stmt: Executable, params: Mapping[str, Any]) -> CursorResult[Any]:
    """Run a plain Core statement (tables, no ORM entities) on the session's connection, after its autoflush.

    The same as ``session.execute`` for such a statement, without the ORM layer around it (execution context,
    events, result wrapping), which costs more CPU than running a cheap statement does. The session's
    transaction is used as is: nothing here commits.
    """
    if session.autoflush:
        session.flush()  # what session.execute would do first; nothing when there is nothing pending
    return session.connection().execute(stmt, params)
