"""Tests for storage.db: migrations bring an empty database up to date, repeatably, on every backend."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from bot.app import Database
from storage.db import make_engine, upgrade


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
