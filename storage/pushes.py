"""What the scheduler's pushes read and write in the ledger: overdue and soon-due hazards, the weekly digest's
numbers, the open major hazards, public listing (挂牌督办) and which pushes are queued already.

Repository functions: they take a session and never commit; ``scheduler`` decides what to push and words it.
Every query is set-based and bounded (a fixed number of statements, lists cut at ``limit``), whatever the size
of the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from storage.models import OPEN_STATUSES, Group, OutboxMessage, Report, ReportEvent, UTCDateTime


@dataclass(frozen=True, slots=True)
class Item:
    """The columns of a hazard that a push shows; read straight from the ledger, without loading reports."""

    id: int
    village: str | None
    location: str | None
    category: str
    severity: str
    status: str
    deadline: datetime | None
    anonymous: bool
    group_id: int | None


ITEM_COLUMNS = (
    Report.id,
    Report.village,
    Report.location,
    Report.category,
    Report.severity,
    Report.status,
    Report.deadline,
    Report.anonymous,
    Report.group_id,
)


def _items(rows: Iterable[Any]) -> list[Item]:
    return [Item(*row) for row in rows]


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# ---------------------------------------------------------------------------------------------------------------
# Public listing (挂牌督办) and deadline reminders


def mark_overdue_listed(session: Session, now: datetime) -> list[Item]:
    """Mark every open hazard past its deadline and not yet listed as listed at ``now``; those hazards, by id.

    One conditional UPDATE … RETURNING: a second run (or a second instance) finds nothing left to mark.
    """
    marked = session.execute(
        update(Report)
        .where(
            Report.status.in_(OPEN_STATUSES),
            Report.deadline.is_not(None),
            Report.deadline < now,
            Report.listed_at.is_(None),
        )
        .values(listed_at=now)
        .returning(*ITEM_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    return sorted(_items(marked), key=lambda i: i.id)


def record_listing_events(
    session: Session, now: datetime, listed: Sequence[Item], notes: Sequence[tuple[datetime, str]], actor: str
) -> None:
    """One INSERT … SELECT writing a ``listed`` event for each hazard ``mark_overdue_listed`` just marked.

    ``notes`` are (end, note) pairs sorted by ``end``: a hazard's note is the first whose ``end`` is after its
    deadline (the last note for the rest). ``listed`` must be sorted by id.
    """
    if not listed:
        return
    session.execute(
        insert(ReportEvent).from_select(
            ["report_id", "at", "actor", "action", "note"],
            select(
                Report.id,
                literal(now, UTCDateTime()),
                literal(actor, String()),
                literal("listed", String()),
                _note_case(notes),
            )
            .where(
                # The rows just marked: the same open, overdue ones (found by the same index), now listed at ``now``.
                Report.status.in_(OPEN_STATUSES),
                Report.deadline < now,
                Report.listed_at == now,
                Report.id >= listed[0].id,
                Report.id <= listed[-1].id,
            )
            .order_by(Report.id),
        )
    )


def _note_case(notes: Sequence[tuple[datetime, str]]) -> ColumnElement[str]:
    """The note for a report's deadline, as SQL: a CASE tree halving ``notes`` at each level.

    A tree, not one branch per note: a backlog spanning a thousand days costs ten comparisons per row, not a
    thousand.
    """
    if len(notes) == 1:
        return literal(notes[0][1], String())
    mid = len(notes) // 2
    return case(
        (Report.deadline < notes[mid - 1][0], _note_case(notes[:mid])),
        else_=_note_case(notes[mid:]),
    )


def due_within(session: Session, now: datetime, windows: Sequence[tuple[datetime, datetime]]) -> list[Item]:
    """Open, non-anonymous hazards whose deadline is still ahead and in one of ``windows`` ([start, end)).

    In deadline order: what the deadline reminders list.
    """
    if not windows:
        return []
    return _items(
        session.execute(
            select(*ITEM_COLUMNS)
            .where(
                Report.status.in_(OPEN_STATUSES),
                Report.deadline.is_not(None),
                Report.deadline >= now,
                or_(*(and_(Report.deadline >= start, Report.deadline < end) for start, end in windows)),
                Report.anonymous.is_(False),
            )
            .order_by(Report.deadline, Report.id)
        )
    )


def groups_by_id(session: Session, ids: Iterable[int]) -> dict[int, Group]:
    """The groups with these ids (one query; none for no ids)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {g.id: g for g in session.scalars(select(Group).where(Group.id.in_(wanted)))}


# ---------------------------------------------------------------------------------------------------------------
# The weekly digest and the monthly major hazard list


@dataclass
class Digest:
    """The weekly numbers for officials and the hazards that need attention.

    ``overdue`` and ``due_soon`` hold the first of those hazards by deadline, enough to itemise ``limit`` of them
    in any group; the ``*_count`` fields count them all, ``*_public`` those without the anonymous ones.
    """

    open: int
    overdue: list[Item]
    due_soon: list[Item]
    new: int
    rectified: int
    overdue_count: int = 0
    overdue_public: int = 0
    due_soon_count: int = 0
    due_soon_public: int = 0
    awaiting: int = 0  # rectified, waiting for acceptance (待验收)
    failed: int = 0  # open again after a failed acceptance (继续挂账)


def digest_numbers(session: Session, now: datetime, since: datetime, soon: datetime, limit: int) -> Digest:
    """Open hazards, those overdue and due before ``soon``, and the new and rectified ones since ``since``.

    Counted in SQL, and only the first ``limit`` hazards of each list are read (once for officials' groups, once
    without anonymous tips): seven small queries however big the ledger.
    """
    is_open = Report.status.in_(OPEN_STATUSES)
    public = Report.anonymous.is_(False)
    overdue = and_(Report.deadline.is_not(None), Report.deadline < now)
    due_soon = and_(Report.deadline.is_not(None), Report.deadline >= now, Report.deadline < soon)
    counts = session.execute(
        select(
            func.count(Report.id),
            _count(overdue),
            _count(and_(overdue, public)),
            _count(due_soon),
            _count(and_(due_soon, public)),
        ).where(is_open)
    ).one()

    def first(condition: ColumnElement[bool]) -> list[Item]:
        seen: dict[int, Item] = {}
        for only_public in (False, True):
            stmt = select(*ITEM_COLUMNS).where(is_open, condition)
            if only_public:
                stmt = stmt.where(public)
            for item in _items(session.execute(stmt.order_by(Report.deadline, Report.id).limit(limit))):
                seen.setdefault(item.id, item)
        return sorted(seen.values(), key=lambda i: (i.deadline, i.id))

    new = session.scalar(
        select(func.count(Report.id)).where(
            Report.created_at >= since,
            Report.created_at < now,
            Report.status.not_in(("rejected", "duplicate")),
        )
    )
    rectified = session.scalar(
        select(func.count(Report.id)).where(Report.rectified_at >= since, Report.rectified_at < now)
    )
    acceptance = session.execute(
        select(
            _count(Report.status == "rectified"),
            _count(and_(is_open, Report.failed_acceptances > 0)),
        ).where(public)
    ).one()
    return Digest(
        awaiting=int(acceptance[0]),
        failed=int(acceptance[1]),
        open=int(counts[0]),
        overdue=first(overdue),
        due_soon=first(due_soon),
        new=int(new or 0),
        rectified=int(rectified or 0),
        overdue_count=int(counts[1]),
        overdue_public=int(counts[2]),
        due_soon_count=int(counts[3]),
        due_soon_public=int(counts[4]),
    )


def open_major(session: Session) -> list[Report]:
    """The open major hazards, by id (the monthly list sent to the responsible units)."""
    return list(
        session.scalars(
            select(Report)
            .where(Report.status.in_(OPEN_STATUSES), Report.severity == "major")
            .order_by(Report.id)
        )
    )


def queued_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that an outbox row already has (pushes queued before, whatever their status)."""
    return set(
        session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(list(keys))))
    )
