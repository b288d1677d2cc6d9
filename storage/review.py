"""Repository functions for the officials' review queue of uncertain group messages. They never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import REVIEW_STATUSES, ReviewItem, utcnow


def find_item(session: Session, platform: str, chat_id: str, message_id: str) -> ReviewItem | None:
    """The review item made from this group message, if any."""
    return session.scalar(
        select(ReviewItem).where(
            ReviewItem.platform == platform,
            ReviewItem.chat_id == chat_id,
            ReviewItem.message_id == message_id,
        )
    )


def add_item(
    session: Session,
    *,
    platform: str,
    chat_id: str,
    group_id: int,
    message_id: str,
    sender_id: str,
    sender_name: str | None,
    text: str,
    category: str | None,
    severity: str | None,
    now: datetime | None = None,
) -> ReviewItem:
    """Queue a group message for review, or return the item already made from it."""
    existing = find_item(session, platform, chat_id, message_id)
    if existing is not None:
        return existing
    item = ReviewItem(
        platform=platform,
        chat_id=chat_id,
        group_id=group_id,
        message_id=message_id,
        sender_id=sender_id,
        sender_name=sender_name or None,
        text=text,
        category=category,
        severity=severity,
        created_at=now or utcnow(),
        status="pending",
    )
    session.add(item)
    session.flush()
    return item


def get_item(session: Session, item_id: int) -> ReviewItem | None:
    """The review item with this number (``R<id>``), if any."""
    return session.get(ReviewItem, item_id)


def unnotified(session: Session) -> list[ReviewItem]:
    """Pending items no official has been told about yet, oldest first."""
    stmt = (
        select(ReviewItem)
        .where(ReviewItem.status == "pending", ReviewItem.notified_at.is_(None))
        .order_by(ReviewItem.id)
    )
    return list(session.scalars(stmt))


def mark_notified(session: Session, items: list[ReviewItem], now: datetime) -> None:
    """Record that the notices for ``items`` went into the outbox."""
    for item in items:
        item.notified_at = now
    session.flush()


def decide(
    session: Session,
    item: ReviewItem,
    status: str,
    actor: str,
    *,
    now: datetime | None = None,
    report_id: int | None = None,
) -> bool:
    """Record an official's decision on a pending item; False if another decision got there first.

    A conditional update, so two officials answering the same notice at once cannot both decide it.
    """
    if status not in REVIEW_STATUSES or status == "pending":
        raise ValueError(f"not a decision: {status!r}")
    result = cast(
        CursorResult[Any],
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == item.id, ReviewItem.status == "pending")
            .values(status=status, decided_by=actor, decided_at=now or utcnow(), report_id=report_id)
            .execution_options(synchronize_session=False)
        ),
    )
    session.refresh(item)
    return result.rowcount == 1


def reopen(session: Session, item: ReviewItem) -> None:
    """Undo a decision within the same transaction (filing it turned out impossible)."""
    item.status = "pending"
    item.decided_by = item.decided_at = item.report_id = None
    session.flush()


def expire(session: Session, before: datetime) -> int:
    """Mark pending items created before ``before`` as expired (nobody decided); returns how many."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.status == "pending", ReviewItem.created_at < before)
            .values(status="expired")
        ),
    )
    return result.rowcount or 0


def list_items(session: Session, *, status: str | None = None) -> list[ReviewItem]:
    """Review items in queue order, optionally of one status."""
    stmt = select(ReviewItem).order_by(ReviewItem.id)
    if status:
        stmt = stmt.where(ReviewItem.status == status)
    return list(session.scalars(stmt))
