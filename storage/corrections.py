"""Repository functions for corrections: officials' decisions that become the classifier's training data.

A private correction keeps only the text, the label and the hour; never who sent it or where. They never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import (
    CORRECTION_CHATS,
    CORRECTION_INTENTS,
    CORRECTION_SOURCES,
    Correction,
    utcnow,
)


def add_correction(
    session: Session,
    *,
    text: str,
    chat: str,
    intent: str,
    source: str,
    category: str | None = None,
    severity: str | None = None,
    decided_by: str | None = None,
    now: datetime | None = None,
) -> Correction:
    """Store one decided label for a message text; a private one gets its time cut to the hour."""
    if chat not in CORRECTION_CHATS:
        raise ValueError(f"unknown chat {chat!r}")
    if intent not in CORRECTION_INTENTS:
        raise ValueError(f"unknown intent {intent!r}")
    if source not in CORRECTION_SOURCES:
        raise ValueError(f"unknown source {source!r}")
    at = now or utcnow()
    if chat == "private":
        at = at.replace(minute=0, second=0, microsecond=0)
    if intent == "chatter":
        category = severity = None
    row = Correction(
        text=text,
        chat=chat,
        intent=intent,
        category=category,
        severity=severity,
        source=source,
        decided_by=decided_by,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return row


def list_corrections(session: Session) -> list[Correction]:
    """Every correction, oldest first (``.text .chat .intent .category .severity .source``)."""
    return list(session.scalars(select(Correction).order_by(Correction.id)))
