"""The audit trail of powers: officials added, changed, disabled or removed, binding codes, group tags.

Only officials' and operators' acts are recorded here; nothing about a villager or a whistleblower.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, utcnow


def record(
    session: Session,
    actor: str,
    action: str,
    subject: str,
    detail: str | None = None,
    *,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one audit event (``actor`` did ``action`` to ``subject``); never commits."""
    event = AuditEvent(
        at=now or utcnow(), actor=actor[:160], action=action, subject=subject[:160], detail=detail
    )
    session.add(event)
    session.flush()
    return event


def list_events(session: Session, *, limit: int = 100) -> list[AuditEvent]:
    """The most recent audit events, newest first."""
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
