"""The hazard ledger (台账) as the office files it: Excel, CSV and Open311 GeoReport v2, for the CLI, chat and web.

One filter (``LedgerFilter``) drives every export, and every export honours all of it: the filter becomes the
``WHERE`` clause of one query per table (group reports, then tips), streamed in pages (``yield_per``). Photo counts
and the 五落实 come from grouped subqueries joined to that query, never from one query per row.

Sheet 1 (隐患台账) follows the office's column order; sheet 2 (重大隐患) repeats it for major hazards and adds the
five 五落实 columns. Tips appear only when the filter asks for them (the admin's export), numbered ``T482913`` and
marked 举报; nothing about a tipster exists in the tip table, and nothing here adds any.

Every header and word comes from the ``[export]`` section of ``handlers/data/texts.toml``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Result, Select, and_, case, func, select
from sqlalchemy.orm import Session

from handlers import permissions
from handlers.messages import DocumentText
from handlers.texts import Texts
from storage.constants import FIVE_ITEMS, OPEN_STATUSES, REPORT_STATUSES
from storage.models import Attachment, FiveItem, Report, Tip
from storage.tips import tip_label

if TYPE_CHECKING:
    from handlers.chat_commands import CommandContext
    from scheduler.quarterly_report import QuarterlyReport

# Rows fetched per round trip while streaming a ledger.
PAGE_SIZE = 500

# Sheet 1's columns, in the office's order: (texts.toml key under [export], width in characters).
LEDGER_COLUMNS: tuple[tuple[str, float], ...] = (
    ("col_seq", 6),
    ("col_number", 10),
    ("col_village", 12),
    ("col_found", 17),
    ("col_source", 7),
    ("col_place", 18),
    ("col_text", 40),
    ("col_category", 10),
    ("col_severity", 10),
    ("col_measures", 30),
    ("col_unit", 16),
    ("col_person", 10),
    ("col_deadline", 12),
    ("col_funds", 12),
    ("col_rectified", 17),
    ("col_done", 14),
    ("col_acceptor", 14),
    ("col_accepted", 17),
    ("col_verdict", 20),
    ("col_closed", 17),
    ("col_supervisor", 16),
    ("col_before", 8),
    ("col_after", 8),
    ("col_remark", 30),
)
# Sheet 2 adds the 五落实, in the order of ``storage.constants.FIVE_ITEMS``.
FIVE_COLUMNS: dict[str, tuple[str, float]] = {
    "goal": ("col_goal", 22),
    "funds": ("col_funds_items", 22),
    "staff": ("col_staff", 22),
    "schedule": ("col_schedule", 22),
    "safety": ("col_safety", 22),
}
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
FUNDS_FORMAT = "#,##0.00"
# Columns holding times (index into LEDGER_COLUMNS) and how each is shown.
_TIME_COLUMNS = {
    3: DATETIME_FORMAT,
    12: DATE_FORMAT,
    14: DATETIME_FORMAT,
    17: DATETIME_FORMAT,
    19: DATETIME_FORMAT,
}
_FUNDS_COLUMN = 13

# The fields of a GeoReport v2 service request, with the JSON types each may take (None: null allowed).
OPEN311_FIELDS: dict[str, tuple[type | None, ...]] = {
    "service_request_id": (str,),
    "status": (str,),
    "status_notes": (str, None),
    "service_name": (str,),
    "service_code": (str,),
    "description": (str,),
    "agency_responsible": (str, None),
    "service_notice": (str, None),
    "requested_datetime": (str,),
    "updated_datetime": (str,),
    "expected_datetime": (str, None),
    "address": (str, None),
    "address_id": (str, None),
    "zipcode": (str, None),
    "lat": (float, None),
    "long": (float, None),
    "media_url": (str, None),
}
OPEN311_STATUSES = ("open", "closed")


class FilterError(ValueError):
    """A filter value that cannot be used (an unknown status, severity, category or a reversed date range)."""


@dataclass(frozen=True)
class LedgerFilter:
    """Which hazards an export holds. Dates are township dates of 发现时间 (filing), both ends included.

    ``statuses`` empty means every status; ``overdue_only`` keeps open hazards past their deadline;
    ``include_tips`` adds the anonymous tips (only for officials who may read tips).
    """

    date_from: date | None = None
    date_to: date | None = None
    village: str | None = None
    statuses: tuple[str, ...] = ()
    severity: str | None = None
    category: str | None = None
    overdue_only: bool = False
    include_tips: bool = False

    def __post_init__(self) -> None:
        """Refuse values that would silently match nothing."""
        unknown = [s for s in self.statuses if s not in REPORT_STATUSES]
        if unknown:
            raise FilterError(f"未知的状态：{'、'.join(unknown)}（可选：{'、'.join(REPORT_STATUSES)}、open）")
        if self.severity not in (None, "major", "general"):
            raise FilterError(f"等级只能是 major 或 general，现在是 {self.severity!r}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise FilterError(f"开始日期 {self.date_from} 晚于结束日期 {self.date_to}")

    def bounds(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The filter's dates as instants: from the first day's midnight to the midnight after the last day."""
        start = datetime.combine(self.date_from, time(), tz) if self.date_from else None
        end = datetime.combine(self.date_to + timedelta(days=1), time(), tz) if self.date_to else None
        return start, end

    def describe(self, texts: Texts) -> str:
        """The filter in words, for the title row: ``王家沟村，发现时间 2026-10-01 至 2026-12-31，重大隐患``."""
        parts: list[str] = []
        if self.village:
            parts.append(self.village)
        if self.date_from and self.date_to:
            parts.append(texts("export.filter_dates", start=self.date_from, end=self.date_to))
        elif self.date_from:
            parts.append(texts("export.filter_since", start=self.date_from))
        elif self.date_to:
            parts.append(texts("export.filter_until", end=self.date_to))
        if self.statuses:
            if set(self.statuses) == set(OPEN_STATUSES):
                shown = texts("export.filter_status_open")
            else:
                shown = "、".join(texts.label("statuses", s) for s in self.statuses)
            parts.append(texts("export.filter_status", status=shown))
        if self.severity:
            parts.append(texts.label("severities", self.severity))
        if self.category:
            parts.append(texts("export.filter_category", category=texts.label("categories", self.category)))
        if self.overdue_only:
            parts.append(texts("export.filter_overdue"))
        if self.include_tips:
            parts.append(texts("export.filter_tips"))
        return texts("export.filter_sep").join(parts) if parts else texts("export.filter_all")


@dataclass
class LedgerRow:
    """One line of the ledger, from a group report or (admin's export only) a tip; never anything about a tipster."""

    number: str
    source: str  # group | tip | inspection
    village: str | None
    found_at: datetime
    place: str | None
    text: str
    category: str
    severity: str
    status: str
    updated_at: datetime
    deadline: datetime | None = None
    measures: str | None = None
    responsible_unit: str | None = None
    responsible_person: str | None = None
    funds_fen: int | None = None
    rectified_at: datetime | None = None
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    verdict: str | None = None
    acceptance_note: str | None = None
    closed_at: datetime | None = None
    supervising_unit: str | None = None
    photos_before: int = 0
    photos_after: int = 0
    duplicate_of: int | None = None
    listed: bool = False
    failed_acceptances: int = 0
    public_note: str | None = None
    # item -> (done, note); only items someone has recorded.
    five: dict[str, tuple[bool, str | None]] = field(default_factory=dict)

    @property
    def is_tip(self) -> bool:
        """Whether the row is an anonymous tip."""
        return self.source == "tip"

    def overdue(self, now: datetime) -> bool:
        """Open and past its deadline at ``now``."""
        return self.status in OPEN_STATUSES and self.deadline is not None and self.deadline < now


# --- the queries ---------------------------------------------------------------------------------------------


def _photo_counts(owner: Any) -> Any:
    """Before/after photo counts per report (or tip), as one grouped subquery."""
    return (
        select(
            owner.label("owner"),
            func.sum(case((Attachment.role == "before", 1), else_=0)).label("before"),
            func.sum(case((Attachment.role == "after", 1), else_=0)).label("after"),
        )
        .where(owner.is_not(None))
        .group_by(owner)
        .subquery()
    )


def _five_items() -> Any:
    """Each report's 五落实 in one row: per item whether recorded, whether done, and its note."""
    columns = []
    for item in FIVE_ITEMS:
        columns += [
            func.count(case((FiveItem.item == item, 1))).label(f"{item}_set"),
            func.max(case((and_(FiveItem.item == item, FiveItem.done.is_(True)), 1), else_=0)).label(
                f"{item}_done"
            ),
            func.max(case((FiveItem.item == item, FiveItem.note))).label(f"{item}_note"),
        ]
    return select(FiveItem.report_id.label("owner"), *columns).group_by(FiveItem.report_id).subquery()


def _apply_filter(
    stmt: Select[Any], table: Any, flt: LedgerFilter, now: datetime, tz: ZoneInfo
) -> Select[Any]:
    start, end = flt.bounds(tz)
    if start is not None:
        stmt = stmt.where(table.created_at >= start)
    if end is not None:
        stmt = stmt.where(table.created_at < end)
    if flt.village:
        stmt = stmt.where(table.village == flt.village)
    if flt.statuses:
        stmt = stmt.where(table.status.in_(list(flt.statuses)))
    if flt.severity:
        stmt = stmt.where(table.severity == flt.severity)
    if flt.category:
        stmt = stmt.where(table.category == flt.category)
    if flt.overdue_only:
        stmt = stmt.where(
            table.status.in_(list(OPEN_STATUSES)), table.deadline.is_not(None), table.deadline < now
        )
    return stmt


def report_query(flt: LedgerFilter, now: datetime, tz: ZoneInfo) -> Select[Any]:
    """Group reports matching ``flt`` with their photo counts and 五落实, in filing order (one statement)."""
    photos = _photo_counts(Attachment.report_id)
    five = _five_items()
    stmt = (
        select(Report, photos.c.before, photos.c.after, *[c for c in five.c if c.name != "owner"])
        .outerjoin(photos, photos.c.owner == Report.id)
        .outerjoin(five, five.c.owner == Report.id)
        .order_by(Report.id)
    )
    if not flt.include_tips:
        # Anonymous rows left in the reports table by old versions are tips too.
        stmt = stmt.where(Report.anonymous.is_(False), Report.kind != "tip")
    return _apply_filter(stmt, Report, flt, now, tz)


def tip_query(flt: LedgerFilter, now: datetime, tz: ZoneInfo) -> Select[Any]:
    """Tips matching ``flt`` with their photo counts, ordered by filing hour then number (one statement)."""
    photos = _photo_counts(Attachment.tip_id)
    stmt = (
        select(Tip, photos.c.before, photos.c.after)
        .outerjoin(photos, photos.c.owner == Tip.id)
        .order_by(Tip.created_at, Tip.id)
    )
    return _apply_filter(stmt, Tip, flt, now, tz)


def _report_row(report: Report, before: int | None, after: int | None, five: dict[str, Any]) -> LedgerRow:
    if report.anonymous or report.kind == "tip":
        source = "tip"
    elif report.group_id is None:
        source = "inspection"  # filed by an official outside any group
    else:
        source = "group"
    return LedgerRow(
        number=f"#{report.id}",
        source=source,
        village=report.village,
        found_at=report.created_at,
        place=report.location,
        text=report.text,
        category=report.category,
        severity=report.severity,
        status=report.status,
        updated_at=report.updated_at,
        deadline=report.deadline,
        measures=report.measures,
        responsible_unit=report.responsible_unit,
        responsible_person=report.responsible_person,
        funds_fen=report.funds_fen,
        rectified_at=report.rectified_at,
        accepted_by=report.accepted_by,
        accepted_at=report.accepted_at,
        verdict=report.acceptance_verdict,
        acceptance_note=report.acceptance_note,
        closed_at=report.closed_at,
        supervising_unit=report.supervising_unit,
        photos_before=int(before or 0),
        photos_after=int(after or 0),
        duplicate_of=report.duplicate_of,
        listed=report.listed_at is not None,
        failed_acceptances=report.failed_acceptances or 0,
        public_note=report.public_note,
        five={
            item: (bool(five[f"{item}_done"]), five[f"{item}_note"])
            for item in FIVE_ITEMS
            if five.get(f"{item}_set")
        },
    )


def _tip_row(tip: Tip, before: int | None, after: int | None) -> LedgerRow:
    # Only what the office needs to follow the hazard up; the tip table holds nothing about the sender anyway.
    return LedgerRow(
        number=tip_label(tip.id),
        source="tip",
        village=tip.village,
        found_at=tip.created_at,
        place=tip.location,
        text=tip.text,
        category=tip.category,
        severity=tip.severity,
        status=tip.status,
        updated_at=tip.updated_at,
        deadline=tip.deadline,
        rectified_at=tip.rectified_at,
        photos_before=int(before or 0),
        photos_after=int(after or 0),
        public_note=tip.public_note,
    )


def iter_rows(
    session: Session, flt: LedgerFilter, *, now: datetime, tz: ZoneInfo, page_size: int = PAGE_SIZE
) -> Iterator[LedgerRow]:
    """Stream the ledger rows ``flt`` selects: group reports in filing order, then (if asked) the tips."""
    result = session.execute(report_query(flt, now, tz).execution_options(yield_per=page_size))
    for row in result:
        mapping = row._mapping
        yield _report_row(row[0], row[1], row[2], dict(mapping))
    if flt.include_tips:
        tips = session.execute(tip_query(flt, now, tz).execution_options(yield_per=page_size))
        # the statement is built up as Select[Any]; its rows are (Tip, photos before, photos after)
        for tip, before, after in cast("Result[Tip, int | None, int | None]", tips):
            yield _tip_row(tip, before, after)


# --- cells ---------------------------------------------------------------------------------------------------


def ledger_headers(texts: Texts) -> list[str]:
    """Sheet 1's header row, in the office's order."""
    return [texts(f"export.{key}") for key, _ in LEDGER_COLUMNS]


def major_headers(texts: Texts) -> list[str]:
    """Sheet 2's header row: sheet 1's plus the five 五落实 columns."""
    return ledger_headers(texts) + [texts(f"export.{FIVE_COLUMNS[item][0]}") for item in FIVE_ITEMS]


def _local(when: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A stored instant as a naive township time: Excel cells have no time zone."""
    return when.astimezone(tz).replace(tzinfo=None) if when is not None else None


def _with_note(texts: Texts, state: str, note: str | None) -> str:
    return texts("export.with_note", state=state, note=note) if note else state


def _remark(row: LedgerRow, texts: Texts) -> str:
    parts = []
    if row.duplicate_of:
        parts.append(texts("export.remark_duplicate", id=row.duplicate_of))
    if row.listed:
        parts.append(texts("export.remark_listed"))
    if row.failed_acceptances:
        parts.append(texts("export.remark_failed", count=row.failed_acceptances))
    if row.public_note:
        parts.append(row.public_note)
    return texts("export.remark_sep").join(parts)


def ledger_values(row: LedgerRow, seq: int, texts: Texts, tz: ZoneInfo, now: datetime) -> list[Any]:
    """Sheet 1's cells for one row: times as naive township datetimes, funds in yuan, counts as numbers."""
    status = texts.label("statuses", row.status)
    if row.overdue(now):
        status = texts("export.status_overdue", status=status)
    verdict = ""
    if row.verdict:
        verdict = _with_note(texts, texts(f"export.verdict_{row.verdict}"), row.acceptance_note)
    return [
        seq,
        row.number,
        row.village or "",
        _local(row.found_at, tz),
        texts(f"export.source_{row.source}"),
        row.place or "",
        row.text,
        texts.label("categories", row.category),
        texts.label("severities", row.severity),
        row.measures or "",
        row.responsible_unit or "",
        row.responsible_person or "",
        _local(row.deadline, tz),
        Decimal(row.funds_fen) / 100 if row.funds_fen is not None else None,
        _local(row.rectified_at, tz),
        status,
        row.accepted_by or "",
        _local(row.accepted_at, tz),
        verdict,
        _local(row.closed_at, tz),
        row.supervising_unit or "",
        row.photos_before,
        row.photos_after,
        _remark(row, texts),
    ]


def five_values(row: LedgerRow, texts: Texts) -> list[str]:
    """The five 五落实 cells: 已落实/未落实, with the note when there is one."""
    cells = []
    for item in FIVE_ITEMS:
        done, note = row.five.get(item, (False, None))
        cells.append(_with_note(texts, texts("export.five_done" if done else "export.five_not_done"), note))
    return cells


def title_text(flt: LedgerFilter, texts: Texts, town: str, now: datetime, tz: ZoneInfo) -> str:
    """The title row: the town, the filter in words and when it was exported."""
    at = now.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return texts("export.title", town=town, filter=flt.describe(texts), at=at)


# --- writers -------------------------------------------------------------------------------------------------


@dataclass
class ExportStats:
    """How many rows an export wrote: all, major ones, and tips among them."""

    rows: int = 0
    major: int = 0
    tips: int = 0

    def add(self, row: LedgerRow) -> None:
        """Count one written row."""
        self.rows += 1
        self.major += row.severity == "major"
        self.tips += row.is_tip


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def write_xlsx(
    rows: Iterator[LedgerRow] | Sequence[LedgerRow],
    target: str | IO[bytes] | Any,
    *,
    texts: Texts,
    title: str,
    tz: ZoneInfo,
    now: datetime,
) -> ExportStats:
    """Write the two sheets (隐患台账, 重大隐患) in openpyxl's write-only mode, streaming ``rows`` once."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    wb = Workbook(write_only=True)
    ledger = wb.create_sheet(texts("export.sheet_ledger"))
    major = wb.create_sheet(texts("export.sheet_major"))
    widths = [w for _, w in LEDGER_COLUMNS]
    sheets = (
        (ledger, ledger_headers(texts), widths),
        (major, major_headers(texts), widths + [FIVE_COLUMNS[i][1] for i in FIVE_ITEMS]),
    )
    bold = Font(bold=True)
    for ws, headers, column_widths in sheets:
        for i, width in enumerate(column_widths, 1):
            ws.column_dimensions[_column_letter(i)].width = width
        ws.freeze_panes = "A3"
        title_cell = WriteOnlyCell(ws, value=title)
        title_cell.font = Font(bold=True, size=14)
        ws.append([title_cell])
        header_cells = []
        for h in headers:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = bold
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            header_cells.append(cell)
        ws.append(header_cells)

    formats = {**_TIME_COLUMNS, _FUNDS_COLUMN: FUNDS_FORMAT}

    def cells(ws: Any, values: list[Any]) -> list[Any]:
        # Only cells with a number format need a cell object; the rest go in as plain values (much faster).
        out = list(values)
        for i, number_format in formats.items():
            if out[i] is not None:
                cell = WriteOnlyCell(ws, value=out[i])
                cell.number_format = number_format
                out[i] = cell
        return out

    stats = ExportStats()
    major_seq = 0
    for row in rows:
        stats.add(row)
        values = ledger_values(row, stats.rows, texts, tz, now)
        ledger.append(cells(ledger, values))
        if row.severity == "major":
            major_seq += 1
            values[0] = major_seq
            major.append(cells(major, values + five_values(row, texts)))
    ledger.auto_filter.ref = f"A2:{_column_letter(len(LEDGER_COLUMNS))}{stats.rows + 2}"
    major.auto_filter.ref = f"A2:{_column_letter(len(LEDGER_COLUMNS) + len(FIVE_ITEMS))}{major_seq + 2}"
    wb.save(target)
    return stats


def _csv_cell(value: Any, index: int) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d" if _TIME_COLUMNS.get(index) == DATE_FORMAT else "%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return "" if value is None else value


def write_csv(
    rows: Iterator[LedgerRow] | Sequence[LedgerRow],
    out: IO[bytes],
    *,
    texts: Texts,
    tz: ZoneInfo,
    now: datetime,
) -> ExportStats:
    """Write sheet 1's columns as CSV, UTF-8 with a BOM so that Excel on Windows reads the Chinese right."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow(ledger_headers(texts))
        stats = ExportStats()
        for row in rows:
            stats.add(row)
            values = ledger_values(row, stats.rows, texts, tz, now)
            writer.writerow([_csv_cell(v, i) for i, v in enumerate(values)])
        text.flush()
    finally:
        text.detach()  # the caller owns ``out``
    return stats


def export_xlsx_bytes(
    session: Session, flt: LedgerFilter, *, texts: Texts, town: str, tz: ZoneInfo, now: datetime
) -> tuple[bytes, ExportStats]:
    """The filtered ledger as an .xlsx file in memory (for chat and the web dashboard)."""
    buffer = io.BytesIO()
    stats = write_xlsx(
        iter_rows(session, flt, now=now, tz=tz),
        buffer,
        texts=texts,
        title=title_text(flt, texts, town, now, tz),
        tz=tz,
        now=now,
    )
    return buffer.getvalue(), stats


def file_stem(texts: Texts, town: str, village: str | None, now: datetime, tz: ZoneInfo) -> str:
    """A default file name without extension: ``克虎镇隐患台账-全镇-20261203``."""
    scope = village or texts("export.scope_all")
    return texts("export.file_name", town=town, scope=scope, date=now.astimezone(tz).strftime("%Y%m%d"))


# --- Open311 -------------------------------------------------------------------------------------------------


def _iso(when: datetime | None, tz: ZoneInfo) -> str | None:
    return when.astimezone(tz).isoformat(timespec="seconds") if when is not None else None


def open311_request(row: LedgerRow, texts: Texts, tz: ZoneInfo) -> dict[str, Any]:
    """One GeoReport v2 service request: status open|closed, finer states in status_notes, times with +08:00."""
    if row.status == "closed":
        status, notes = "closed", texts("export.open311_closed")
    elif row.status == "rejected":
        status, notes = "closed", texts("export.open311_rejected")
    elif row.status == "duplicate":
        status, notes = "closed", texts("export.open311_duplicate")
    else:
        status, notes = "open", texts.label("statuses", row.status)
    return {
        "service_request_id": row.number.lstrip("#"),
        "status": status,
        "status_notes": notes,
        "service_name": texts.label("categories", row.category),
        "service_code": row.category,
        "description": row.text,
        "agency_responsible": row.responsible_unit,
        "requested_datetime": _iso(row.found_at, tz),
        "updated_datetime": _iso(row.updated_at, tz),
        "expected_datetime": _iso(row.deadline, tz),
        "address": row.place,
    }


def open311_requests(
    rows: Iterator[LedgerRow] | Sequence[LedgerRow], texts: Texts, tz: ZoneInfo
) -> Iterator[dict[str, Any]]:
    """The rows as GeoReport v2 service requests, in ledger order."""
    for row in rows:
        yield open311_request(row, texts, tz)


def open311_problems(request: dict[str, Any]) -> list[str]:
    """What is wrong with a service request against the GeoReport v2 field list (empty when it is valid)."""
    problems = [f"unknown field {key!r}" for key in request if key not in OPEN311_FIELDS]
    for key, value in request.items():
        allowed = OPEN311_FIELDS.get(key)
        if allowed is None:
            continue
        if value is None:
            if None not in allowed:
                problems.append(f"{key} may not be null")
        elif not any(t is not None and isinstance(value, t) for t in allowed):
            problems.append(f"{key} has type {type(value).__name__}")
    for key in ("service_request_id", "status", "service_code", "requested_datetime"):
        if key not in request:
            problems.append(f"missing {key}")
    if request.get("status") not in OPEN311_STATUSES:
        problems.append(f"status {request.get('status')!r} is not open or closed")
    for key in ("requested_datetime", "updated_datetime", "expected_datetime"):
        value = request.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                problems.append(f"{key} is not ISO 8601")
                continue
            if parsed.tzinfo is None:
                problems.append(f"{key} has no time zone")
    return problems


# --- quarterly statistics as a workbook -----------------------------------------------------------------------


def write_quarterly_xlsx(
    report: QuarterlyReport, target: str | IO[bytes] | Any, *, texts: Texts, town: str
) -> None:
    """The quarterly numbers as one sheet: a title, the totals, then the rows by village and by category."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = texts("export.q_sheet")
    ws.append([quarterly_title(report, texts, town)])
    ws["A1"].font = Font(bold=True, size=14)
    headers = [
        texts(f"export.q_col_{k}")
        for k in ("slice", "name", "found", "fixed", "open", "open_major", "overdue")
    ]
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    t = report.totals
    ws.append([texts("export.q_total"), "", t.found, t.fixed, t.open, t.open_major, t.overdue])
    for label, slices, names in (
        (texts("export.q_by_village"), report.by_village, {"": texts("export.unknown_village")}),
        (texts("export.q_by_category"), report.by_category, None),
    ):
        for key, c in slices.items():
            name = names.get(key, key) if names is not None else texts.label("categories", key)
            ws.append([label, name, c.found, c.fixed, c.open, c.open_major, c.overdue])
    ws.append([])
    ws.append([texts("export.q_rate"), report.rectification_rate])
    ws.cell(ws.max_row, 2).number_format = "0.0%"
    for letter, width in zip("ABCDEFG", (10, 16, 8, 10, 8, 12, 8), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A3"
    wb.save(target)


def quarterly_title(report: QuarterlyReport, texts: Texts, town: str) -> str:
    """The quarter's title line, e.g. ``克虎镇2026年第四季度安全生产隐患排查治理统计分析``."""
    return render_quarterly_text(report, texts, town).splitlines()[0]


def quarter_label(report: QuarterlyReport, texts: Texts) -> str:
    """``2026年第4季度`` as the wording file writes it."""
    return texts("export.quarter_label", year=report.year, n=report.quarter)


def render_quarterly_text(report: QuarterlyReport, texts: Texts, town: str) -> str:
    """The quarterly statistical analysis as Chinese text."""

    def rows(slices: dict[str, Any], names: dict[str, str] | None) -> str:
        lines = []
        for key, c in slices.items():
            name = names.get(key, key) if names is not None else texts.label("categories", key)
            lines.append(
                texts(
                    "export.quarterly_row",
                    name=name,
                    found=c.found,
                    fixed=c.fixed,
                    open=c.open,
                    open_major=c.open_major,
                    overdue=c.overdue,
                )
            )
        return "\n".join(lines) if lines else texts("export.quarterly_none")

    t = report.totals
    rate = report.rectification_rate
    last_day = (report.end - timedelta(microseconds=1)).date()
    return texts(
        "export.quarterly_body",
        town=town,
        quarter=quarter_label(report, texts),
        start=report.start.date(),
        end=last_day,
        found=t.found,
        found_major=t.found_major,
        fixed=t.fixed,
        rate=f"{rate:.1%}" if rate is not None else texts("export.quarterly_na"),
        open=t.open,
        open_major=t.open_major,
        overdue=t.overdue,
        tips_received=report.tips_received,
        tips_verified=report.tips_verified,
        by_village=rows(report.by_village, {"": texts("export.unknown_village")}),
        by_category=rows(report.by_category, None),
    ).strip()


# --- chat: /台账 ---------------------------------------------------------------------------------------------


def ledger_command(ctx: CommandContext) -> str:
    """Official, in private: the filtered ledger as an Excel file; village officials get their own village only."""
    core, official = ctx.core, ctx.official
    assert official is not None  # registered official-only
    if ctx.msg.chat_type != "private":
        return ctx.t("export.chat_group_refused")
    village: str | None = None
    if ctx.args:
        village = core.profile.village_of(ctx.args)
        if village is None:
            choices = "、".join(v.name for v in core.profile.villages)
            return ctx.t("export.chat_unknown_village", choices=choices)
    if not permissions.town_wide(official):
        if official.unit is None or (village is not None and village != official.unit):
            return ctx.t("export.chat_other_village", unit=official.unit or "")
        village = official.unit
    flt = LedgerFilter(village=village, include_tips=permissions.may_read_tips(official))
    now = core.clock()
    town = core.profile.town
    data, stats = export_xlsx_bytes(ctx.session, flt, texts=core.texts, town=town, tz=core.tz, now=now)
    filename = f"{file_stem(core.texts, town, village, now, core.tz)}.xlsx"
    tips = ctx.t("export.chat_sent_tips", count=stats.tips) if flt.include_tips and stats.tips else ""
    text = ctx.t(
        "export.chat_sent",
        scope=village or ctx.t("export.scope_all"),
        count=stats.rows,
        major=stats.major,
        tips=tips,
        file=filename,
    )
    return DocumentText(text, (filename, data))
