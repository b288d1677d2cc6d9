"""Repository functions for the hazard ledger and its audit trail. They take a session and never commit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, case, func, select
from sqlalchemy.orm import Session

from storage.models import OPEN_STATUSES, REPORT_STATUSES, Report, ReportEvent, utcnow
from storage.officials import hash_code


def add_event(
    session: Session,
    report: Report,
    actor: str,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> ReportEvent:
    """Append one entry to the report's audit trail."""
    ev = ReportEvent(
        report_id=report.id,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        at=at or utcnow(),
    )
    session.add(ev)
    session.flush()
    return ev


def create_report(
    session: Session, *, actor: str, receipt_code: str | None = None, **fields: object
) -> Report:
    """File a new report and its 'filed' event; a receipt code, if given, is stored only as a hash."""
    if receipt_code is not None:
        fields["receipt_hash"] = hash_code(receipt_code)
    report = Report(**fields)
    report.status = report.status or "reported"
    session.add(report)
    session.flush()
    add_event(session, report, actor, "filed", to_status=report.status, at=report.created_at)
    return report


def get_report(session: Session, report_id: int) -> Report | None:
    """The report with this number, if any."""
    return session.get(Report, report_id)


def find_by_receipt(session: Session, code: str) -> Report | None:
    """The anonymous report a receipt code was issued for, if any."""
    return session.scalar(select(Report).where(Report.receipt_hash == hash_code(code)))


def set_status(
    session: Session,
    report: Report,
    status: str,
    actor: str,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Move a report to ``status`` and log who did it; rectification also records the note, who and when."""
    if status not in REPORT_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    now = now or utcnow()
    old = report.status
    report.status = status
    if status == "rectified":
        report.rectified_at = now
        report.rectified_by = actor
        report.rectification_note = note
    if note:
        report.public_note = note
    report.updated_at = now
    add_event(session, report, actor, "status", from_status=old, to_status=status, note=note, at=now)
    return report


def list_reports(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    village: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> list[Report]:
    """Reports in filing order, optionally filtered by status, village or kind."""
    stmt = select(Report).order_by(Report.id)
    if statuses:
        stmt = stmt.where(Report.status.in_(list(statuses)))
    if village:
        stmt = stmt.where(Report.village == village)
    if kind:
        stmt = stmt.where(Report.kind == kind)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def open_reports(session: Session, *, village: str | None = None) -> list[Report]:
    """Hazards still waiting for rectification (待核实 or 整改中)."""
    return list_reports(session, statuses=OPEN_STATUSES, village=village)


def iter_reports(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
    batch: int = 500,
) -> Iterator[Report]:
    """Reports in filing order, fetched ``batch`` at a time (a server-side cursor on PostgreSQL), never all at once."""
    stmt = select(Report).order_by(Report.id).offset(offset or None).limit(limit)
    if statuses:
        stmt = stmt.where(Report.status.in_(list(statuses)))
    for report in session.scalars(stmt.execution_options(yield_per=batch)):
        yield report
        session.expunge(report)


def _open_where(stmt: Select[Any], village: str | None, include_anonymous: bool) -> Select[Any]:
    stmt = stmt.where(Report.status.in_(OPEN_STATUSES))
    if village:
        stmt = stmt.where(Report.village == village)
    if not include_anonymous:
        stmt = stmt.where(Report.anonymous.is_(False))
    return stmt


def count_open(session: Session, *, village: str | None = None, include_anonymous: bool = True) -> int:
    """How many hazards are open (待核实 or 整改中), optionally in one village, optionally without anonymous ones."""
    return int(session.scalar(_open_where(select(func.count(Report.id)), village, include_anonymous)) or 0)


def open_page(
    session: Session,
    *,
    village: str | None = None,
    include_anonymous: bool = True,
    limit: int = 20,
    offset: int = 0,
) -> list[Report]:
    """One page of open hazards: major ones first, then in filing order (as /清单 lists them)."""
    major_first = case((Report.severity == "major", 0), else_=1)
    # The page's numbers come from the open-hazards index alone; only those rows are then read.
    page = (
        _open_where(select(Report.id), village, include_anonymous)
        .order_by(major_first, Report.id)
        .offset(offset or None)
        .limit(limit)
    )
    stmt = select(Report).where(Report.id.in_(page.scalar_subquery())).order_by(major_first, Report.id)
    return list(session.scalars(stmt))


def recent_similar_candidates(
    session: Session,
    *,
    category: str,
    village: str | None,
    group_id: int | None,
    since: datetime,
    limit: int = 50,
) -> list[Row[tuple[int, str, str, str | None, str | None]]]:
    """The newest ``limit`` open, non-duplicate group hazards of one category in one village (or group) since ``since``.

    Light rows (id, text, evidence, location, reporter_id), not whole reports: most are only compared, never used.
    Anonymous reports never take part: linking to one would tell a group that someone reported it privately.
    """
    stmt = select(Report.id, Report.text, Report.evidence, Report.location, Report.reporter_id).where(
        Report.kind == "hazard",
        Report.anonymous.is_(False),
        Report.category == category,
        Report.status.in_(OPEN_STATUSES),
        Report.duplicate_of.is_(None),
        Report.created_at >= since,
    )
    if village:
        stmt = stmt.where(Report.village == village)
    elif group_id is not None:
        stmt = stmt.where(Report.group_id == group_id)
    else:
        return []
    return list(session.execute(stmt.order_by(Report.id.desc()).limit(limit)))


def count_recent_by_reporter(session: Session, platform: str, reporter_id: str, since: datetime) -> int:
    """How many reports one group member filed since ``since`` (the flood limit); merged duplicates don't count."""
    return (
        session.scalar(
            select(func.count(Report.id)).where(
                Report.platform == platform,
                Report.reporter_id == reporter_id,
                Report.created_at >= since,
                Report.duplicate_of.is_(None),
            )
        )
        or 0
    )
