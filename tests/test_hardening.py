"""Hardening promises: database errors leak no tip text or sender, files are private, secrets are never printed."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.app import Database, open_database
from bot.bridge import Bridge
from bot.cli import main
from bot.config import Settings
from bot.logs import KeyValueFormatter
from handlers.messages import Reply
from handlers.router import Router
from storage.db import make_engine, masked_url, scrub_password
from tests.conftest import PG_URL
from tests.helpers import group_msg, private_msg

# Distinctive strings: if either shows up in a rendered log line, the promise is broken.
TIP = "举报 后沟那个煤窑晚上偷偷开采，别说是我说的 暗号QX7731"
MARKER = "暗号QX7731"
SENDER = "wxid_whistle_5529"
PASSWORD = "hunter2-Zk81"


def _rendered(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as the bot would write it, tracebacks included."""
    formatter = KeyValueFormatter()
    return "\n".join(formatter.format(record) for record in caplog.records)


def _break_text_inserts(db: Database) -> None:
    """Make every INSERT into a table with a ``text`` column fail inside the database, as a real error would."""
    engine = db.engine
    tables = [
        t
        for t in inspect(engine).get_table_names()
        if "text" in {c["name"] for c in inspect(engine).get_columns(t)}
    ]
    assert tables
    with engine.begin() as conn:
        for table in tables:
            if engine.dialect.name == "sqlite":
                # A runtime error (malformed JSON) while the INSERT carrying the text runs.
                conn.execute(
                    text(
                        f"CREATE TRIGGER break_{table} BEFORE INSERT ON {table} BEGIN SELECT json('{{x'); END"
                    )
                )
            else:
                # PostgreSQL's check violation quotes the whole failing row, the text included, in its DETAIL.
                conn.execute(
                    text(
                        f"ALTER TABLE {table} ADD CONSTRAINT break_{table} CHECK (length(text) < 0) NOT VALID"
                    )
                )


def _run_through_bridge(router: Router, msg_text: str, *, private: bool) -> list[Reply]:
    sent: list[Reply] = []

    async def deliver(reply: Reply) -> None:
        sent.append(reply)

    msg = private_msg(msg_text, sender=SENDER) if private else group_msg(msg_text, sender=SENDER)
    asyncio.run(Bridge(*router.parts).process(msg, deliver))
    return sent


def test_failed_statement_hides_its_parameters(database: Database) -> None:
    with pytest.raises(DBAPIError) as caught, database.engine.connect() as conn:
        conn.execute(
            text("SELECT * FROM officials WHERE user_id = :uid AND no_such_column = 1"), {"uid": SENDER}
        )
    assert SENDER not in str(caught.value)
    assert "parameters hidden" in str(caught.value)


def test_private_tip_failing_in_the_database_logs_only_the_error_type(
    database: Database, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    _break_text_inserts(database)
    caplog.set_level(logging.DEBUG)
    assert _run_through_bridge(router, TIP, private=True) == []
    rendered = _rendered(caplog)
    assert MARKER not in rendered and SENDER not in rendered
    assert "private message failed" in rendered and "error=" in rendered
    assert "Traceback" not in rendered


def test_private_command_failing_on_the_officials_lookup_leaks_no_sender(
    database: Database, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    with database.engine.begin() as conn:  # the table disappears under the running router
        conn.execute(text("ALTER TABLE officials RENAME TO officials_gone"))
    caplog.set_level(logging.DEBUG)
    assert _run_through_bridge(router, "/整改完成 1", private=True) == []
    rendered = _rendered(caplog)
    assert SENDER not in rendered
    assert "private message failed" in rendered


def test_group_failure_keeps_its_traceback_but_not_the_parameters(
    database: Database, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("ALTER TABLE officials RENAME TO officials_gone"))
    caplog.set_level(logging.DEBUG)
    _run_through_bridge(router, "/整改完成 1", private=False)
    rendered = _rendered(caplog)
    assert "Traceback" in rendered and "officials" in rendered
    assert "parameters hidden" in rendered and f"'{SENDER}'" not in rendered


def test_sqlite_connections_use_secure_delete(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1
    engine.dispose()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_data_folder_and_files_are_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    db = open_database(settings)
    settings.secret()
    with db.sessions.begin() as session:
        session.execute(text("SELECT 1"))
    db.engine.dispose()
    assert _mode(tmp_path / "data") == 0o700
    assert _mode(tmp_path / "data" / "anquan.db") == 0o600
    assert _mode(tmp_path / "data" / "secret.key") == 0o600


def test_wide_permissions_are_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    settings.secret()
    open_database(settings).engine.dispose()
    os.chmod(data, 0o755)
    os.chmod(data / "secret.key", 0o644)
    os.chmod(data / "anquan.db", 0o666)
    caplog.set_level(logging.WARNING)
    open_database(settings).engine.dispose()
    assert (_mode(data), _mode(data / "secret.key"), _mode(data / "anquan.db")) == (0o700, 0o600, 0o600)
    warned = [r for r in caplog.records if r.getMessage() == "permissions too wide; tightened"]
    assert {Path(r.__dict__["path"]).name for r in warned} >= {"data", "secret.key", "anquan.db"}


def test_settings_never_print_tokens_key_or_database_password() -> None:
    settings = Settings(
        database_url=f"postgresql+psycopg://anquan:{PASSWORD}@db.example.cn/anquan",
        telegram_token="123456:TG-SECRET-TOKEN",
        wechaty_token="puppet-secret-token",
        secret_key="KEY-SECRET-VALUE",
        telegram_proxy=f"http://proxy:{PASSWORD}@127.0.0.1:3128",
    )
    shown = repr(settings) + str(settings)
    for secret in (PASSWORD, "TG-SECRET-TOKEN", "puppet-secret-token", "KEY-SECRET-VALUE"):
        assert secret not in shown
    assert "db.example.cn" in shown  # the rest of the URL still helps whoever reads it
    assert settings.secret() == b"KEY-SECRET-VALUE"
    assert (
        settings.telegram_token is not None
        and settings.telegram_token.get_secret_value() == "123456:TG-SECRET-TOKEN"
    )


def test_failing_db_upgrade_never_shows_the_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Nothing listens on port 1: the connection fails, and the error names the URL.
    monkeypatch.setenv("ANQUAN_DATABASE_URL", f"postgresql+psycopg://anquan:{PASSWORD}@127.0.0.1:1/anquan")
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ANQUAN_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "无法打开数据库" in result.output and "127.0.0.1:1" in result.output
    assert PASSWORD not in result.output


def test_db_upgrade_prints_the_url_with_its_password_masked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set ANQUAN_TEST_DATABASE_URL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        # The test server trusts local connections, so any password is accepted: it must still never be shown.
        url = (
            make_url(PG_URL).set(password=PASSWORD).update_query_dict({"options": f"-csearch_path={schema}"})
        )
        monkeypatch.setenv("ANQUAN_DATABASE_URL", url.render_as_string(hide_password=False))
        monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path))
        monkeypatch.delenv("ANQUAN_CONFIG", raising=False)
        result = CliRunner().invoke(main, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "数据库已是最新结构" in result.output and ":***@" in result.output
        assert PASSWORD not in result.output
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_driver_messages_lose_the_password_in_every_spelling() -> None:
    url = "postgresql+psycopg://anquan:p%40ss%2Fw0rd@db/anquan"
    assert scrub_password("auth failed for p@ss/w0rd and p%40ss%2Fw0rd", url) == "auth failed for *** and ***"
    assert "p%40ss" not in masked_url(url) and "db/anquan" in masked_url(url)
    assert "secret" not in masked_url("postgresql://u:secret@[bad")
