"""Repository functions for broadcasts and the delivery state of their outbox rows. They never commit."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Broadcast, OutboxMessage


def create_broadcast(session: Session, **fields: object) -> Broadcast:
    """Record a broadcast (pending until confirmed)."""
    broadcast = Broadcast(**fields)
    session.add(broadcast)
    session.flush()
    return broadcast


def get_broadcast(session: Session, broadcast_id: int) -> Broadcast | None:
    """The broadcast with this number, if any."""
    return session.get(Broadcast, broadcast_id)


def unfinished(session: Session) -> list[Broadcast]:
    """Confirmed broadcasts whose delivery receipt has not been written yet."""
    return list(
        session.scalars(select(Broadcast).where(Broadcast.status == "confirmed").order_by(Broadcast.id))
    )


def delivery_counts(session: Session, broadcast_id: int) -> Counter[str]:
    """How many of the broadcast's outbox rows are in each status."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.broadcast_id == broadcast_id)
        .group_by(OutboxMessage.status)
    )
    return Counter({status: count for status, count in rows})


def undelivered(session: Session, broadcast_id: int) -> list[OutboxMessage]:
    """The broadcast's rows that failed or were blocked."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status.in_(["failed", "blocked"])
            )
            .order_by(OutboxMessage.id)
        )
    )
