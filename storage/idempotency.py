"""Idempotency keys of handled platform messages. Repository functions; they never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.db import execute_core
from storage.models import ProcessedMessage, utcnow

# Every message claims a key and every filed group hazard links it: both statements are built once (building one
# costs more CPU than running it). ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING key`` per dialect.
_KEYS = cast(Table, ProcessedMessage.__table__)
_CLAIM = {
    dialect: insert(_KEYS).on_conflict_do_nothing(index_elements=["key"]).returning(_KEYS.c.key)
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_SET_REPORT = (
    update(_KEYS).where(_KEYS.c.key == bindparam("message_key")).values(report_id=bindparam("filed_report"))
)


def seen(session: Session, key: str) -> ProcessedMessage | None:
    """The record of a message already handled under ``key``, if any."""
    return session.get(ProcessedMessage, key)


def claim(session: Session, key: str, *, private: bool, at: datetime | None = None) -> bool:
    """Record ``key`` as handled unless it already is; False means another delivery of the message holds it.

    Only a conflict on this very key is swallowed (``ON CONFLICT (key) DO NOTHING``, which waits for a
    concurrent holder to commit or roll back); any other database error propagates and the caller's
    transaction is left intact for it to decide.
    """
    stmt = _CLAIM["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]
    params = {"key": key, "private": private, "report_id": None, "created_at": at or utcnow()}
    return execute_core(session, stmt, params).scalar() is not None


def remember(
    session: Session, key: str, *, private: bool, report_id: int | None = None, at: datetime | None = None
) -> None:
    """Record that the message with ``key`` has been handled (in the same transaction as its effects)."""
    row = ProcessedMessage(key=key, private=private, report_id=report_id)
    if at is not None:
        row.created_at = at
    session.add(row)
    session.flush()


def purge_private(session: Session, before: datetime) -> int:
    """Forget private-chat keys older than ``before``; returns how many were removed."""
    result = cast(
        CursorResult[Any],
        session.execute(
            delete(ProcessedMessage).where(
                ProcessedMessage.private.is_(True), ProcessedMessage.created_at < before
            )
        ),
    )
    return result.rowcount or 0


def purge_group(session: Session, before: datetime) -> int:
    """Forget group-chat keys older than ``before`` (past any platform's redelivery window); returns how many.

    Keys that filed a report stay: they are how a later ``/登记`` reply finds the message already filed.
    """
    result = cast(
        CursorResult[Any],
        session.execute(
            delete(ProcessedMessage).where(
                ProcessedMessage.private.is_(False),
                ProcessedMessage.report_id.is_(None),
                ProcessedMessage.created_at < before,
            )
        ),
    )
    return result.rowcount or 0


def set_report(session: Session, key: str, report_id: int) -> None:
    """Link a handled message to the report it filed (one UPDATE; nothing if the key is unknown)."""
    execute_core(session, _SET_REPORT, {"message_key": key, "filed_report": report_id})
