"""Shared fixtures: real databases (SQLite always, PostgreSQL when ANQUAN_TEST_DATABASE_URL is set) and the core."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import Database
from handlers.classifier import Classifier
from handlers.context import Core
from handlers.profile import Profile, load_profile
from handlers.router import Router
from handlers.texts import Texts
from storage.db import make_engine, make_session_factory, upgrade

PG_URL = os.environ.get("ANQUAN_TEST_DATABASE_URL")
PG_REQUIRED = os.environ.get("ANQUAN_TEST_REQUIRE_POSTGRES") == "1"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _postgres_database() -> Iterator[Database]:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set ANQUAN_TEST_DATABASE_URL to run storage tests on it")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        if PG_REQUIRED:
            raise
        pytest.skip(f"PostgreSQL at ANQUAN_TEST_DATABASE_URL unreachable: {exc}")
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield Database(engine, make_session_factory(engine))
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database: a SQLite file, and (when configured) a private PostgreSQL schema."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'anquan.db'}")
        upgrade(engine)
        yield Database(engine, make_session_factory(engine))
        engine.dispose()
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    """A fresh migrated SQLite database, for tests that are about something other than storage."""
    engine = make_engine(f"sqlite:///{tmp_path / 'anquan.db'}")
    upgrade(engine)
    yield Database(engine, make_session_factory(engine))
    engine.dispose()


@pytest.fixture(scope="session")
def profile() -> Profile:
    """The bundled 克虎镇 town profile."""
    return load_profile()


@pytest.fixture(scope="session")
def texts() -> Texts:
    """The bundled wording."""
    return Texts.load()


@pytest.fixture(scope="session")
def classifier(profile: Profile) -> Classifier:
    """The real classifier, loaded once for the whole test session (jieba is slow to load)."""
    return Classifier.load(places=profile.place_names())


class Clock:
    """A settable clock for the core."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A fixed clock at 2026-06-10 10:00 Beijing time (02:00 UTC)."""
    return Clock(datetime(2026, 6, 10, 2, 0, tzinfo=UTC))


def make_core(db: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock) -> Core:
    """A core on ``db`` with the real classifier and a fixed clock."""
    return Core(
        sessions=db.sessions,
        classifier=classifier,
        texts=texts,
        profile=profile,
        secret=b"test-secret",
        clock=clock,
    )


@pytest.fixture
def core(database: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock) -> Core:
    """The core on each test database."""
    return make_core(database, classifier, texts, profile, clock)


@pytest.fixture
def router(core: Core) -> Router:
    """The router on each test database."""
    return Router(core)
