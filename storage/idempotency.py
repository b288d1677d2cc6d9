"""Idempotency keys of handled platform messages. Repository functions; they never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from storage.models import ProcessedMessage


def seen(session: Session, key: str) -> ProcessedMessage | None:
    """The record of a message already handled under ``key``, if any."""
    return session.get(ProcessedMessage, key)


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
    result = session.execute(
        delete(ProcessedMessage).where(
            ProcessedMessage.private.is_(True), ProcessedMessage.created_at < before
        )
    )
    return result.rowcount or 0


def set_report(session: Session, key: str, report_id: int) -> None:
    """Link a handled message to the report it filed."""
    row = session.get(ProcessedMessage, key)
    if row is not None:
        row.report_id = report_id
        session.flush()
