"""Repository functions for the hazard ledger and its audit trail. They take a session and never commit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Row, Select, String, Table, bindparam, case, func, insert, literal, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from storage.db import execute_core
from storage.models import OPEN_STATUSES, REPORT_STATUSES, Report, ReportEvent, utcnow
from storage.officials import hash_code

# The statements every filed group message runs are built once: building a statement (and its cache key) each
# time costs several times more CPU than executing it, and the bot's throughput is bound by that CPU.
_REPORTS = cast(Table, Report.__table__)
_R = _REPORTS.c
_INSERT_EVENT = insert(cast(Table, ReportEvent.__table__))


# ``file_hazard``'s INSERT on SQLite: only what the "filed" event needs back (cheaper than a unit-of-work flush).
_INSERT_REPORT_ID = insert(_REPORTS).returning(_R.id, _R.created_at, _R.status)


@lru_cache(maxsize=32)
def _filed_with_event(keys: Iterable[str]) -> ExecutableReturnsRows:
    """PostgreSQL: the report and its "filed" event in one statement (the event's INSERT in a CTE), by given fields;
    it returns the new report's number."""
    filed = (
        insert(_REPORTS)
        .values({key: bindparam(key, type_=_R[key].type) for key in keys})
        .returning(_R.id, _R.created_at, _R.status)
        .cte("filed")
    )
    event = insert(cast(Table, ReportEvent.__table__)).from_select(
        ["report_id", "at", "actor", "action", "to_status"],
        select(
            filed.c.id,
            filed.c.created_at,
            bindparam("filed_by", type_=String),
            literal("filed", String),
            filed.c.status,
        ),
    )
    return select(filed.c.id).add_cte(event.cte("filed_event"))


# Of every category: a repeat told in other words may be classified otherwise (井盖没了 as water, 井盖还没盖上 as
# other); handlers.similarity decides whether two reports of different categories are one hazard.
_CANDIDATES = select(_R.category, _R.id, _R.text, _R.evidence, _R.location, _R.reporter_id).where(
    _R.kind == "hazard",
    _R.anonymous.is_(False),
    _R.status.in_(OPEN_STATUSES),
    _R.duplicate_of.is_(None),
    _R.created_at >= bindparam("since"),
)
_CANDIDATES_IN_VILLAGE = (
    _CANDIDATES.where(_R.village == bindparam("village")).order_by(_R.id.desc()).limit(bindparam("limit"))
)
_CANDIDATES_IN_GROUP = (
    _CANDIDATES.where(_R.group_id == bindparam("group_id")).order_by(_R.id.desc()).limit(bindparam("limit"))
)
_RECENT_BY_REPORTER = select(func.count(_R.id)).where(
    _R.platform == bindparam("platform"),
    _R.reporter_id == bindparam("reporter_id"),
    _R.created_at >= bindparam("since"),
    _R.duplicate_of.is_(None),
)


def _with_recent_count(candidates: Select[Any]) -> Select[Any]:
    """``candidates`` joined to the sender's count since ``counted_since``: one row with NULLs when none match."""
    recent = (
        select(func.count(_R.id).label("recent"))
        .where(
            _R.platform == bindparam("platform"),
            _R.reporter_id == bindparam("reporter_id"),
            _R.created_at >= bindparam("counted_since"),
            _R.duplicate_of.is_(None),
        )
        .subquery("recent")
    )
    similar = candidates.subquery("similar")
    return (
        select(recent.c.recent, *(similar.c[name] for name in _CANDIDATE_COLUMNS))
        .select_from(recent.outerjoin(similar, true()))
        .order_by(similar.c.id.desc())
    )


# Every candidate row ends in these columns, in this order (handlers.intake reads them by position).
_CANDIDATE_COLUMNS = ("category", "id", "text", "evidence", "location", "reporter_id")
_SIMILAR_AND_RECENT_IN_VILLAGE = _with_recent_count(_CANDIDATES_IN_VILLAGE)
_SIMILAR_AND_RECENT_IN_GROUP = _with_recent_count(_CANDIDATES_IN_GROUP)


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
    """File a new report and its 'filed' event (see :func:`file_hazard`) and return the report loaded."""
    report = session.get(Report, file_hazard(session, actor=actor, receipt_code=receipt_code, **fields))
    assert report is not None  # just inserted in this transaction
    return report


def file_hazard(session: Session, *, actor: str, receipt_code: str | None = None, **fields: object) -> int:
    """File a new report and its 'filed' event and return its number; a receipt code is stored only as a hash.

    No unit-of-work flush and no Report loaded back (filing a group hazard reads nothing back but the number, and
    loading a whole Report costs more CPU than the INSERT itself): on PostgreSQL one statement writes both rows (the
    event's INSERT in a CTE), on SQLite a plain INSERT … RETURNING and the event's INSERT.
    """
    _check_fields(fields, receipt_code)
    if session.get_bind().dialect.name == "postgresql":  # one round trip for both rows
        stmt = _filed_with_event(tuple(sorted(fields)))
        return int(execute_core(session, stmt, {**fields, "filed_by": actor}).scalar_one())
    filed = execute_core(session, _INSERT_REPORT_ID, fields).one()
    execute_core(
        session,
        _INSERT_EVENT,
        {
            "report_id": filed.id,
            "actor": actor,
            "action": "filed",
            "from_status": None,
            "to_status": filed.status,
            "note": None,
            "at": filed.created_at,
        },
    )
    return int(filed.id)


def _check_fields(fields: dict[str, object], receipt_code: str | None) -> None:
    """Refuse unknown report fields, hash a receipt code into ``receipt_hash`` and default the status (in place)."""
    unknown = fields.keys() - _R.keys()
    if unknown:  # a plain INSERT would silently drop them
        raise TypeError(f"unknown report fields: {', '.join(sorted(unknown))}")
    if receipt_code is not None:
        fields["receipt_hash"] = hash_code(receipt_code)
    fields["status"] = fields.get("status") or "reported"


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
    village: str | None,
    group_id: int | None,
    since: datetime,
    limit: int = 50,
) -> list[Row[tuple[str, int, str, str, str | None, str | None]]]:
    """The newest ``limit`` open, non-duplicate group hazards of any category in one village (or group) since ``since``.

    Light rows (category, id, text, evidence, location, reporter_id), not whole reports: most are only compared, never
    used. Anonymous reports never take part: linking to one would tell a group that someone reported it privately.
    """
    params: dict[str, Any] = {"since": since, "limit": limit}
    if village:
        stmt, params["village"] = _CANDIDATES_IN_VILLAGE, village
    elif group_id is not None:
        stmt, params["group_id"] = _CANDIDATES_IN_GROUP, group_id
    else:
        return []
    return list(session.execute(stmt, params))


def similar_and_recent(
    session: Session,
    *,
    village: str | None,
    group_id: int | None,
    since: datetime,
    limit: int,
    platform: str,
    reporter_id: str,
    counted_since: datetime,
) -> tuple[list[Any], int]:
    """``recent_similar_candidates`` and ``count_recent_by_reporter(…, counted_since)`` in one statement.

    A filed group hazard needs both before it is inserted; one round trip instead of two. Without a village or a
    group there are no candidates and only the count is run.
    """
    params: dict[str, Any] = {
        "since": since,
        "limit": limit,
        "platform": platform,
        "reporter_id": reporter_id,
        "counted_since": counted_since,
    }
    if village:
        stmt, params["village"] = _SIMILAR_AND_RECENT_IN_VILLAGE, village
    elif group_id is not None:
        stmt, params["group_id"] = _SIMILAR_AND_RECENT_IN_GROUP, group_id
    else:
        return [], count_recent_by_reporter(session, platform, reporter_id, counted_since)
    rows: Sequence[Any] = execute_core(session, stmt, params).all()
    # Rows carry the count, then category, id, text, evidence, location and reporter_id like
    # recent_similar_candidates'.
    candidates = [row for row in rows if row[2] is not None]  # row[2] is the id (by position: cheaper)
    return candidates, int(rows[0].recent) if rows else 0


def count_recent_by_reporter(session: Session, platform: str, reporter_id: str, since: datetime) -> int:
    """How many reports one group member filed since ``since`` (the flood limit); merged duplicates don't count."""
    params = {"platform": platform, "reporter_id": reporter_id, "since": since}
    return execute_core(session, _RECENT_BY_REPORTER, params).scalar() or 0
