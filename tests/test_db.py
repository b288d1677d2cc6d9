"""Tests for storage.db: migrations bring an empty database up to date, repeatably, on every backend."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from bot.app import Database
from storage.db import execute_core, make_engine, upgrade
from storage.models import Group


def test_upgrade_creates_every_table_and_is_repeatable(database: Database) -> None:
    upgrade(database.engine)  # second run: nothing to do, no error
    tables = set(inspect(database.engine).get_table_names())
    assert {"groups", "officials", "reports", "report_events", "processed_messages", "outbox"} <= tables
    with database.engine.connect() as conn:
        current = conn.execute(text("select version_num from alembic_version")).scalar()
    versions = Path(__file__).parent.parent / "storage" / "migrations" / "versions"
    newest = max(p.name[:4] for p in versions.glob("0*.py"))
    assert current == newest


def test_sqlite_file_gets_its_folder_and_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "anquan.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert path.exists()
    engine.dispose()


def test_migrations_go_down_and_up_again(database: Database) -> None:
    from alembic import command

    from storage.db import alembic_config

    command.downgrade(alembic_config(database.engine), "base")
    assert "reports" not in inspect(database.engine).get_table_names()
    upgrade(database.engine)
    assert "broadcasts" in inspect(database.engine).get_table_names()


def test_models_and_migrations_agree(database: Database) -> None:
    """Autogenerate finds nothing to do: every model change has its migration, and no foreign table is left over."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base

    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrade_drops_the_old_pickled_job_table(database: Database) -> None:
    """APScheduler's old job table (pickled rows) is dropped by the upgrade on every backend."""
    from alembic import command

    from storage.db import alembic_config

    command.downgrade(alembic_config(database.engine), "0005")
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, job_state TEXT)"))
        conn.execute(text("INSERT INTO apscheduler_jobs VALUES ('anquan.calendar', 'pickled')"))
    upgrade(database.engine)
    assert "apscheduler_jobs" not in inspect(database.engine).get_table_names()


# --- which errors mean "the database is away for now" -----------------------------------------------------


def test_real_outages_count_as_unavailable_and_bugs_do_not(tmp_path: Path) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError, ProgrammingError

    from storage.db import unavailable_reason

    def sqlite_error(message: str) -> OperationalError:
        return OperationalError("INSERT", {}, sqlite3.OperationalError(message))

    assert unavailable_reason(sqlite_error("database or disk is full")) == "disk-full"
    assert unavailable_reason(sqlite_error("attempt to write a readonly database")) == "read-only"
    assert unavailable_reason(sqlite_error("unable to open database file")) == "disconnected"
    assert unavailable_reason(sqlite_error("database is locked")) == "busy"
    # SQLite calls these "operational" too, but waiting cures none of them.
    assert unavailable_reason(sqlite_error("malformed JSON")) is None
    assert unavailable_reason(sqlite_error("no such table: officials")) is None
    assert unavailable_reason(ProgrammingError("SELECT", {}, Exception("syntax error"))) is None
    assert unavailable_reason(ValueError("x")) is None

    class PgError(Exception):
        def __init__(self, sqlstate: str | None) -> None:
            super().__init__("pg")
            self.sqlstate = sqlstate

    def pg(sqlstate: str | None) -> OperationalError:
        return OperationalError("INSERT", {}, PgError(sqlstate))

    assert unavailable_reason(pg(None)) == "disconnected"  # refused, reset, closed: no SQLSTATE
    assert unavailable_reason(pg("57P01")) == "disconnected"  # terminating connection (admin command)
    assert unavailable_reason(pg("08006")) == "disconnected"
    assert unavailable_reason(pg("53100")) == "disk-full"
    assert unavailable_reason(pg("25006")) == "read-only"
    assert unavailable_reason(pg("42P01")) is None  # undefined table: a bug


def test_permissions_are_never_changed_on_something_the_bot_did_not_make(tmp_path: Path) -> None:
    import os

    from storage.db import PRIVATE_DIR, PRIVATE_FILE, restrict_permissions

    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    os.chmod(a_file, 0o644)
    assert restrict_permissions(a_file, PRIVATE_DIR) is None  # a data folder set to a file by mistake
    assert a_file.stat().st_mode & 0o777 == 0o644
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    assert restrict_permissions(folder, PRIVATE_FILE) is None
    assert restrict_permissions(folder, PRIVATE_DIR) == 0o755
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import storage.db

    url = os.environ.get("ANQUAN_TEST_DATABASE_URL")
    if not url:
        pytest.skip("needs PostgreSQL: set ANQUAN_TEST_DATABASE_URL")
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE", 0.05)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    killer = make_engine(url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with killer.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(
            0.2
        )  # idle longer than PING_AFTER_IDLE: the checkout pings, finds it dead, connects afresh
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()
        killer.dispose()


def test_a_core_statement_sees_pending_objects_and_commits_nothing(database: Database) -> None:
    # the filing path's plain statements run in the caller's transaction, after its autoflush, like session.execute
    with database.sessions() as session:
        session.add(Group(platform="telegram", chat_id="-42", title="王家沟村安全群", kind="village"))
        count = execute_core(session, select(func.count()).select_from(Group.__table__), {}).scalar()
        assert count == 1
        session.rollback()
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Group)) == 0
