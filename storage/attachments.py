"""Repository functions for photo evidence (``attachments``): before/after photos of reports, photos of tips.

They take a session and never commit. A row names the stored file by its sha256 (the file itself lives under the
data folder, see ``handlers.photos``). Rows of tips keep nobody's name and only the hour, and every key is random,
so an attachment can't place a tip among other rows.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from storage.constants import ATTACHMENT_ROLES
from storage.models import Attachment


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _owner(report_id: int | None, tip_id: int | None) -> ColumnElement[bool]:
    if (report_id is None) == (tip_id is None):
        raise ValueError("exactly one of report_id and tip_id is needed")
    if report_id is not None:
        return Attachment.report_id == report_id
    return Attachment.tip_id == tip_id


def add_attachment(
    session: Session,
    *,
    sha256: str,
    size: int,
    mime: str,
    role: str,
    now: datetime,
    report_id: int | None = None,
    tip_id: int | None = None,
    added_by: str | None = None,
) -> Attachment:
    """Record one stored photo for a report or a tip, under a random key.

    A tip's photo names nobody (``added_by`` is refused) and keeps only the hour of ``now``.
    """
    _owner(report_id, tip_id)
    if role not in ATTACHMENT_ROLES:
        raise ValueError(f"unknown attachment role {role!r}")
    if tip_id is not None and added_by is not None:
        raise ValueError("a tip's photo never names who sent it")
    row = Attachment(
        id=secrets.token_hex(16),
        report_id=report_id,
        tip_id=tip_id,
        role=role,
        sha256=sha256,
        size=size,
        mime=mime,
        added_by=added_by,
        created_at=_hour(now) if tip_id is not None else now,
    )
    session.add(row)
    session.flush()
    return row


def list_attachments(
    session: Session, *, report_id: int | None = None, tip_id: int | None = None, role: str | None = None
) -> list[Attachment]:
    """The photos of one report or tip (optionally one side), before ones first, oldest first."""
    stmt = select(Attachment).where(_owner(report_id, tip_id))
    if role is not None:
        stmt = stmt.where(Attachment.role == role)
    # "before" sorts ahead of "after" only by intent, so order explicitly.
    order = {r: i for i, r in enumerate(ATTACHMENT_ROLES)}
    rows = list(session.scalars(stmt.order_by(Attachment.created_at, Attachment.id)))
    return sorted(rows, key=lambda a: order.get(a.role, len(order)))


def counts(session: Session, *, report_id: int | None = None, tip_id: int | None = None) -> dict[str, int]:
    """How many photos each side (``before``, ``after``) of one report or tip has; every role is present."""
    stmt = select(Attachment.role, func.count()).where(_owner(report_id, tip_id)).group_by(Attachment.role)
    found = {role: int(n) for role, n in session.execute(stmt)}
    return {role: found.get(role, 0) for role in ATTACHMENT_ROLES}


def total_size(session: Session, *, report_id: int | None = None, tip_id: int | None = None) -> int:
    """The bytes of all photos of one report or tip, both sides together."""
    stmt = select(func.coalesce(func.sum(Attachment.size), 0)).where(_owner(report_id, tip_id))
    return int(session.scalar(stmt) or 0)


def find(
    session: Session, sha256: str, *, role: str, report_id: int | None = None, tip_id: int | None = None
) -> Attachment | None:
    """The row of this very photo on this side of this report or tip, if it is attached already."""
    stmt = select(Attachment).where(
        _owner(report_id, tip_id), Attachment.role == role, Attachment.sha256 == sha256
    )
    return session.scalars(stmt.limit(1)).first()


def is_referenced(session: Session, sha256: str) -> bool:
    """Whether any row still names the stored file ``sha256``."""
    return session.scalar(select(Attachment.id).where(Attachment.sha256 == sha256).limit(1)) is not None
