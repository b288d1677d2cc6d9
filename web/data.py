"""What the dashboard's pages show, as SQL aggregates and paged queries (never the whole ledger in memory).

Every query takes the viewer's village scope: ``village`` set means a village official sees only that village.
The ledger's filtered view is ``handlers.export.report_query`` (the export's own query) plus free text and order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from handlers.export import LedgerFilter, report_query
from storage.constants import OPEN_STATUSES
from storage.models import OutboxMessage, Report, Tip, TipReward

PAGE_SIZE = 50
SORTS = {
    "id": Report.id,
    "created": Report.created_at,
    "deadline": Report.deadline,
    "village": Report.village,
    "severity": Report.severity,
    "status": Report.status,
}


def _ledger_rows() -> Any:
    """Group reports only (tips have their own page), as the export sees them."""
    return and_(Report.anonymous.is_(False), Report.kind != "tip")


# any SELECT, whatever its columns: the scope only adds WHERE clauses
_Stmt = TypeVar("_Stmt", bound="Select[*tuple[Any, ...]]")


def _scoped(stmt: _Stmt, village: str | None) -> _Stmt:
    return stmt.where(_ledger_rows(), *([Report.village == village] if village else []))


def _overdue(now: datetime) -> Any:
    return and_(Report.status.in_(OPEN_STATUSES), Report.deadline.is_not(None), Report.deadline < now)


def month_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of the first day of the township's current month."""
    local = now.astimezone(tz)
    return datetime.combine(local.date().replace(day=1), time(), tz)


def _month_expr(session: Session, column: Any, tz: ZoneInfo, now: datetime) -> Any:
    """``YYYY-MM`` of a stored UTC time in the township's time zone (its offset now), in the database's dialect."""
    offset = now.astimezone(tz).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column + literal_column(f"interval '{minutes} minutes'"), "YYYY-MM")
    return func.strftime("%Y-%m", column, f"{minutes:+d} minutes")


def _days_expr(session: Session, later: Any, earlier: Any) -> Any:
    """Days between two stored times, as a number, in the database's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


@dataclass
class Overview:
    """The 总览 figures and charts."""

    open: int = 0
    overdue: int = 0
    major_open: int = 0
    rectified_month: int = 0
    total: int = 0
    fixed: int = 0
    avg_days: float | None = None
    tips: int = 0
    tips_verified: int = 0
    months: list[str] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    fixed_by_month: list[int] = field(default_factory=list)
    by_village: list[tuple[str, int]] = field(default_factory=list)
    by_category: list[tuple[str, int]] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Rectification rate: reports rectified (or closed) among all that count (not rejected or duplicate)."""
        return self.fixed / self.total if self.total else None


def last_months(now: datetime, tz: ZoneInfo, count: int = 12) -> list[str]:
    """The ``count`` township months ending with this one, oldest first (``2026-01`` …)."""
    local = now.astimezone(tz).date()
    year, month = local.year, local.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(out))


def overview(session: Session, *, now: datetime, tz: ZoneInfo, village: str | None) -> Overview:
    """The 总览 in a handful of aggregate queries."""
    counted = Report.status.not_in(("rejected", "duplicate"))
    fixed = Report.rectified_at.is_not(None)
    row = session.execute(
        _scoped(
            select(
                func.count(case((Report.status.in_(OPEN_STATUSES), 1))),
                func.count(case((_overdue(now), 1))),
                func.count(case((and_(Report.status.in_(OPEN_STATUSES), Report.severity == "major"), 1))),
                func.count(case((Report.rectified_at >= month_start(now, tz), 1))),
                func.count(case((counted, 1))),
                func.count(case((and_(counted, fixed), 1))),
                func.avg(case((fixed, _days_expr(session, Report.rectified_at, Report.created_at)))),
            ),
            village,
        )
    ).one()
    counts = [int(v or 0) for v in row[:6]]
    out = Overview(
        open=counts[0],
        overdue=counts[1],
        major_open=counts[2],
        rectified_month=counts[3],
        total=counts[4],
        fixed=counts[5],
    )
    out.avg_days = float(row[6]) if row[6] is not None else None
    tip_where = [Tip.village == village] if village else []
    out.tips = session.scalar(select(func.count(Tip.id)).where(*tip_where)) or 0
    out.tips_verified = (
        session.scalar(
            select(func.count(TipReward.tip_id)).join(Tip, Tip.id == TipReward.tip_id).where(*tip_where)
        )
        or 0
    )
    months = last_months(now, tz)
    first = datetime.combine(date.fromisoformat(months[0] + "-01"), time(), tz)
    found_month = _month_expr(session, Report.created_at, tz, now)
    found: dict[str, int] = dict(
        session.execute(
            _scoped(select(found_month, func.count(Report.id)), village)
            .where(Report.created_at >= first)
            .group_by(found_month)
        ).all()
    )
    fixed_month = _month_expr(session, Report.rectified_at, tz, now)
    fixed_rows: dict[str, int] = dict(
        session.execute(
            _scoped(select(fixed_month, func.count(Report.id)), village)
            .where(Report.rectified_at >= first)
            .group_by(fixed_month)
        ).all()
    )
    out.months = months
    out.found = [int(found.get(m, 0)) for m in months]
    out.fixed_by_month = [int(fixed_rows.get(m, 0)) for m in months]
    is_open = Report.status.in_(OPEN_STATUSES)
    out.by_village = [
        (v or "", int(c))
        for v, c in session.execute(
            _scoped(select(Report.village, func.count(Report.id)), village)
            .where(is_open)
            .group_by(Report.village)
            .order_by(func.count(Report.id).desc())
        )
    ]
    out.by_category = [
        (cat, int(c))
        for cat, c in session.execute(
            _scoped(select(Report.category, func.count(Report.id)), village)
            .where(is_open)
            .group_by(Report.category)
            .order_by(func.count(Report.id).desc())
        )
    ]
    return out


@dataclass
class Tile:
    """One village's (or unit's) tile on the 村级看板."""

    name: str
    open: int = 0
    overdue: int = 0
    major: int = 0
    total: int = 0

    @property
    def colour(self) -> str:
        """red: something overdue or a major hazard open; amber: open ones; green: nothing open."""
        if self.overdue or self.major:
            return "red"
        return "amber" if self.open else "green"


def unit_tiles(session: Session, *, now: datetime, village: str | None) -> list[Tile]:
    """Counts per responsible unit (责任单位: stations, enterprises…) of assigned hazards, in one grouped query."""
    is_open = Report.status.in_(OPEN_STATUSES)
    rows = session.execute(
        _scoped(
            select(
                Report.responsible_unit,
                func.count(case((is_open, 1))),
                func.count(case((_overdue(now), 1))),
                func.count(case((and_(is_open, Report.severity == "major"), 1))),
                func.count(Report.id),
            ).where(Report.responsible_unit.is_not(None)),
            village,
        )
        .group_by(Report.responsible_unit)
        .order_by(Report.responsible_unit)
    )
    return [Tile(name or "", int(o), int(d), int(m), int(t)) for name, o, d, m, t in rows]


def tiles(session: Session, names: list[str], *, now: datetime, village: str | None) -> list[Tile]:
    """Counts per village in one grouped query; every named village gets a tile, empty ones too."""
    is_open = Report.status.in_(OPEN_STATUSES)
    rows = session.execute(
        _scoped(
            select(
                Report.village,
                func.count(case((is_open, 1))),
                func.count(case((_overdue(now), 1))),
                func.count(case((and_(is_open, Report.severity == "major"), 1))),
                func.count(Report.id),
            ),
            village,
        ).group_by(Report.village)
    )
    found = {name: Tile(name or "", int(o), int(d), int(m), int(t)) for name, o, d, m, t in rows}
    wanted = [village] if village else names
    out = [found.pop(name, Tile(name)) for name in wanted]
    out += [t for key, t in sorted(found.items(), key=lambda kv: kv[0] or "") if key and not village]
    return out


@dataclass(frozen=True)
class LedgerQuery:
    """The 台账 page's filter: the export's ``LedgerFilter`` plus free text, order and page."""

    flt: LedgerFilter
    text: str = ""
    sort: str = "id"
    descending: bool = True
    page: int = 1


def text_condition(text: str) -> Any:
    """Free text: a report number (``23`` or ``#23``), or words in the description, place or responsible unit."""
    value = text.strip().lstrip("#＃")
    words = [Report.text.contains(text.strip(), autoescape=True)]
    words.append(Report.location.contains(text.strip(), autoescape=True))
    words.append(Report.responsible_unit.contains(text.strip(), autoescape=True))
    if value.isdigit() and len(value) < 10:
        words.append(Report.id == int(value))
    return or_(*words)


def ledger_statement(q: LedgerQuery, *, now: datetime, tz: ZoneInfo) -> Select[Any]:
    """The export's query for the filter, with the free text; the rows of the page and of the export alike."""
    stmt = report_query(q.flt, now, tz)
    if q.text.strip():
        stmt = stmt.where(text_condition(q.text))
    return stmt


def ledger_page(session: Session, q: LedgerQuery, *, now: datetime, tz: ZoneInfo) -> tuple[list[Any], int]:
    """One page of the filtered ledger (LIMIT/OFFSET in SQL) and how many rows match in all (COUNT)."""
    where = ledger_statement(q, now=now, tz=tz)
    total = session.scalar(where.with_only_columns(func.count(Report.id)).order_by(None)) or 0
    column = SORTS.get(q.sort, Report.id)
    order = [column.desc() if q.descending else column.asc(), Report.id.desc() if q.descending else Report.id]
    rows = session.execute(
        where.order_by(None).order_by(*order).limit(PAGE_SIZE).offset((max(q.page, 1) - 1) * PAGE_SIZE)
    ).all()
    return [r[0] for r in rows], int(total)


def outbox_status(session: Session, keys: list[str], since: datetime) -> dict[str, dict[str, int]]:
    """Per push (``entry:date``), how many of its outbox rows are queued, sent, failed or blocked."""
    out: dict[str, dict[str, int]] = {key: {} for key in keys}
    if not keys:
        return out
    rows = session.execute(
        select(OutboxMessage.dedup_key, OutboxMessage.status).where(OutboxMessage.created_at >= since)
    )
    for dedup_key, status in rows:
        prefix = dedup_key.rsplit(":", 1)[0]
        if prefix in out:
            out[prefix][status] = out[prefix].get(status, 0) + 1
    return out
