"""Repository functions for anonymous tips: their own store, random numbers, hour-only times. They never commit.

A tip's public number is ``T`` followed by six random digits, so it says nothing about when the tip came in or
how many tips came before it. Receipt codes are stored only as hashes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from storage.constants import OPEN_STATUSES, REPORT_STATUSES
from storage.models import Tip, TipEvent, utcnow
from storage.officials import hash_code

NUMBER_LOW = 100_000
NUMBER_HIGH = 999_999
TIP_NUMBER_RE = re.compile(r"^[#＃]?\s*[TtＴｔ]\s*(\d{6})\b\s*(.*)$", re.DOTALL)


def hour(at: datetime) -> datetime:
    """``at`` truncated to the whole hour: the only precision a tip's times keep."""
    return at.replace(minute=0, second=0, microsecond=0)


def tip_label(tip_id: int) -> str:
    """The public number of a tip as people type it: ``T482913``."""
    return f"T{tip_id}"


_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}


def parse_tip_number(text: str) -> tuple[int, str] | None:
    """``(number, rest)`` if ``text`` starts with a tip number such as ``T482913``; None otherwise."""
    # Full-width letters and digits (Ｔ４８２９１３) count; the rest is cut from the text as typed.
    typed = text.strip()
    match = TIP_NUMBER_RE.match(typed.translate(_FULL_WIDTH))
    if not match:
        return None
    return int(match.group(1)), typed[match.start(2) :].strip()


def _new_number(session: Session) -> int:
    while True:
        number = NUMBER_LOW + secrets.randbelow(NUMBER_HIGH - NUMBER_LOW + 1)
        if session.get(Tip, number) is None:
            return number


def add_event(
    session: Session,
    tip: Tip,
    actor: str,
    action: str,
    *,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
) -> TipEvent:
    """Append one entry to the tip's audit trail, under a random key."""
    ev = TipEvent(
        id=secrets.token_hex(16),
        tip_id=tip.id,
        at=at,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
    )
    session.add(ev)
    session.flush()
    return ev


def create_tip(session: Session, *, receipt_code: str, now: datetime, **fields: object) -> Tip:
    """File a tip under a fresh random number with its 'filed' event; times are kept to the hour only."""
    at = hour(now)
    tip = Tip(
        id=_new_number(session),
        receipt_hash=hash_code(receipt_code),
        status="reported",
        created_at=at,
        updated_at=at,
        **fields,
    )
    session.add(tip)
    session.flush()
    add_event(session, tip, "anonymous", "filed", to_status=tip.status, at=at)
    return tip


def get_tip(session: Session, number: int) -> Tip | None:
    """The tip with this public number, if any."""
    return session.get(Tip, number)


def find_by_receipt(session: Session, code: str) -> Tip | None:
    """The tip a receipt code was issued for (also when that code has been voided for reissue), if any."""
    return session.scalar(select(Tip).where(Tip.receipt_hash == hash_code(code)))


def void_receipt(session: Session, code: str) -> bool:
    """Mark a code that was seen outside a private chat; its next private use gets a new code. True if known."""
    tip = find_by_receipt(session, code)
    if tip is None:
        return False
    tip.receipt_voided = True
    session.flush()
    return True


def reissue_receipt(session: Session, tip: Tip, new_code: str) -> None:
    """Replace the tip's receipt code by ``new_code``; the old code then finds nothing, for good."""
    tip.receipt_hash = hash_code(new_code)
    tip.receipt_voided = False
    session.flush()


def set_status(
    session: Session,
    tip: Tip,
    status: str,
    actor: str,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> Tip:
    """Move a tip to ``status`` and log which official did it; the note is what the tipster sees on /进度."""
    if status not in REPORT_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    now = now or utcnow()
    old = tip.status
    tip.status = status
    if status == "rectified":
        tip.rectified_at = now
        tip.rectified_by = actor
        tip.rectification_note = note
    if note:
        tip.public_note = note
    tip.updated_at = hour(now)
    add_event(session, tip, actor, "status", from_status=old, to_status=status, note=note, at=now)
    return tip


def _tips_query(statuses: Sequence[str] | None, village: str | None) -> Select[Tip]:
    stmt = select(Tip).order_by(Tip.id)
    if statuses:
        stmt = stmt.where(Tip.status.in_(list(statuses)))
    if village:
        stmt = stmt.where(Tip.village == village)
    return stmt


def list_tips(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    village: str | None = None,
    limit: int | None = None,
) -> list[Tip]:
    """Tips ordered by their (random) number, optionally filtered by status or village, at most ``limit``."""
    return list(session.scalars(_tips_query(statuses, village).limit(limit)))


def iter_tips(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
    batch: int = 500,
) -> Iterator[Tip]:
    """Tips by number, fetched ``batch`` at a time (a server-side cursor on PostgreSQL), never all at once."""
    stmt = _tips_query(statuses, None).offset(offset or None).limit(limit)
    for tip in session.scalars(stmt.execution_options(yield_per=batch)):
        yield tip
        session.expunge(tip)


def open_tips(session: Session, *, village: str | None = None, limit: int | None = None) -> list[Tip]:
    """Tips still waiting for verification or rectification (the first ``limit`` by number, if given)."""
    return list_tips(session, statuses=OPEN_STATUSES, village=village, limit=limit)
