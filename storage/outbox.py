"""Repository functions for the outbox of pushes. They take a session and never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import Group, OutboxMessage, utcnow


def enqueue(
    session: Session,
    *,
    dedup_key: str,
    event: str,
    platform: str,
    chat_id: str,
    text: str,
    group_id: int | None = None,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
    image: bytes | None = None,
) -> bool:
    """Queue one push unless a push with the same dedup key exists; True if a row was written."""
    values = {
        "dedup_key": dedup_key,
        "event": event,
        "platform": platform,
        "chat_id": chat_id,
        "text": text,
        "group_id": group_id,
        "broadcast_id": broadcast_id,
        "image": image,
        "status": "queued",
        "attempts": 0,
        "not_before": not_before or utcnow(),
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(OutboxMessage.id)
    )
    return session.execute(stmt).scalar() is not None


def enqueue_to_group(
    session: Session, group: Group, *, dedup_key: str, event: str, text: str, **extra: Any
) -> bool:
    """Queue one push addressed to ``group`` (its platform and chat id); see ``enqueue``."""
    return enqueue(
        session,
        dedup_key=dedup_key,
        event=event,
        platform=group.platform,
        chat_id=group.chat_id,
        group_id=group.id,
        text=text,
        **extra,
    )


def due(
    session: Session, platform: str, *, now: datetime | None = None, limit: int = 50
) -> list[OutboxMessage]:
    """Queued pushes for ``platform`` whose time has come, oldest first."""
    now = now or utcnow()
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.platform == platform,
            OutboxMessage.status == "queued",
            OutboxMessage.not_before <= now,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def list_outbox(session: Session, *, status: str | None = None, limit: int = 200) -> list[OutboxMessage]:
    """Recent outbox rows, newest first, optionally of one status."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    return list(session.scalars(stmt))


def readdress(session: Session, platform: str, old_chat_id: str, new_chat_id: str) -> int:
    """Point the still-queued pushes for a chat at its new id; returns how many were changed."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.platform == platform,
                OutboxMessage.chat_id == old_chat_id,
                OutboxMessage.status == "queued",
            )
            .values(chat_id=new_chat_id)
        ),
    )
    return result.rowcount or 0
