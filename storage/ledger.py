"""Repository functions for the ledger's workflow: assignment, measures, funds, deadlines, supervision, 五落实,
acceptance and closing. Every change is one audit event with its actor; they never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.constants import FIVE_ITEMS
from storage.models import Attachment, FiveItem, Report, ReportEvent, utcnow
from storage.reports import add_event, set_status


def _touch(report: Report, now: datetime) -> None:
    report.updated_at = now


def assign(
    session: Session,
    report: Report,
    unit: str,
    person: str | None,
    actor: str,
    *,
    now: datetime | None = None,
) -> None:
    """Set the responsible unit (责任单位) and, if given, the responsible person (责任人)."""
    now = now or utcnow()
    report.responsible_unit, report.responsible_person = unit, person or report.responsible_person
    _touch(report, now)
    note = f"{unit} {report.responsible_person or ''}".strip()
    add_event(session, report, actor, "assign", note=note, at=now)


def set_measures(
    session: Session, report: Report, measures: str, actor: str, *, now: datetime | None = None
) -> None:
    """Record the rectification measures (整改措施)."""
    now = now or utcnow()
    report.measures = measures
    _touch(report, now)
    add_event(session, report, actor, "measures", note=measures, at=now)


def set_funds(
    session: Session, report: Report, fen: int, shown: str, actor: str, *, now: datetime | None = None
) -> None:
    """Record the rectification funds (整改资金) in fen; ``shown`` is how the amount reads in the trail."""
    now = now or utcnow()
    report.funds_fen = fen
    _touch(report, now)
    add_event(session, report, actor, "funds", note=shown, at=now)


def extend_deadline(
    session: Session,
    report: Report,
    deadline: datetime,
    reason: str,
    shown: str,
    actor: str,
    *,
    now: datetime | None = None,
) -> None:
    """Move the deadline (整改时限) with a reason; the trail keeps the old and new dates."""
    now = now or utcnow()
    report.deadline = deadline
    _touch(report, now)
    add_event(session, report, actor, "extend", note=f"{shown}：{reason}", at=now)


def supervise(
    session: Session, report: Report, unit: str, actor: str, *, now: datetime | None = None
) -> None:
    """Set the supervising unit (督办单位)."""
    now = now or utcnow()
    report.supervising_unit = unit
    _touch(report, now)
    add_event(session, report, actor, "supervise", note=unit, at=now)


def set_five_item(
    session: Session,
    report: Report,
    item: str,
    done: bool,
    note: str | None,
    actor: str,
    shown: str,
    *,
    now: datetime | None = None,
) -> FiveItem:
    """Mark one 五落实 item done or not done, with a note; ``shown`` is the item's Chinese name for the trail."""
    if item not in FIVE_ITEMS:
        raise ValueError(f"unknown 五落实 item {item!r}")
    now = now or utcnow()
    row = session.scalar(select(FiveItem).where(FiveItem.report_id == report.id, FiveItem.item == item))
    if row is None:
        row = FiveItem(report_id=report.id, item=item)
        session.add(row)
    row.done, row.note, row.actor, row.at = done, note, actor, now
    _touch(report, now)
    add_event(
        session,
        report,
        actor,
        "five",
        note=f"{shown}：{'已落实' if done else '未落实'} {note or ''}".strip(),
        at=now,
    )
    session.flush()
    return row


def five_items(session: Session, report_id: int) -> dict[str, FiveItem]:
    """The report's 五落实 items by code (missing ones were never set)."""
    rows = session.scalars(select(FiveItem).where(FiveItem.report_id == report_id))
    return {row.item: row for row in rows}


def missing_five(session: Session, report_id: int) -> list[str]:
    """The 五落实 item codes not yet done, in the fixed order."""
    done = {code for code, row in five_items(session, report_id).items() if row.done}
    return [code for code in FIVE_ITEMS if code not in done]


def accept(
    session: Session,
    report: Report,
    passed: bool,
    note: str | None,
    actor: str,
    *,
    now: datetime | None = None,
) -> None:
    """Record an acceptance check (验收): passed closes the report (销号); failed sends it back to rectifying.

    A failed check keeps the report on the books (继续挂账) and counts how many times it failed.
    """
    now = now or utcnow()
    report.accepted_by, report.accepted_at = actor, now
    report.acceptance_verdict = "passed" if passed else "failed"
    report.acceptance_note = note
    if passed:
        report.closed_at = now
        set_status(session, report, "closed", actor, note=note, now=now)
    else:
        report.failed_acceptances = (report.failed_acceptances or 0) + 1
        set_status(session, report, "rectifying", actor, note=note, now=now)
    session.flush()


def recent_events(session: Session, report_id: int, limit: int) -> list[ReportEvent]:
    """The report's last ``limit`` audit events, oldest first."""
    rows = session.scalars(
        select(ReportEvent)
        .where(ReportEvent.report_id == report_id)
        .order_by(ReportEvent.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


def extensions(session: Session, report_id: int) -> int:
    """How many times the report's deadline was extended."""
    return (
        session.scalar(
            select(func.count(ReportEvent.id)).where(
                ReportEvent.report_id == report_id, ReportEvent.action == "extend"
            )
        )
        or 0
    )


def photo_counts(session: Session, report_id: int) -> dict[str, int]:
    """How many photos the report has before and after rectification."""
    rows = session.execute(
        select(Attachment.role, func.count(Attachment.id))
        .where(Attachment.report_id == report_id)
        .group_by(Attachment.role)
    )
    return {role: count for role, count in rows}


def awaiting_acceptance(
    session: Session, *, village: str | None = None, limit: int = 20
) -> tuple[int, list[Report]]:
    """Hazards marked rectified and waiting for acceptance (待验收): how many, and the oldest ``limit`` of them."""
    where = [Report.status == "rectified", Report.anonymous.is_(False)]
    if village is not None:
        where.append(Report.village == village)
    count = session.scalar(select(func.count(Report.id)).where(*where)) or 0
    if not count:
        return 0, []
    rows = session.scalars(select(Report).where(*where).order_by(Report.rectified_at, Report.id).limit(limit))
    return count, list(rows)
