"""The monthly progress report (治本攻坚推进情况): numbers from the ledger, a Chinese text and a PNG chart.

Definitions (the month runs from the 1st 00:00 to the next 1st 00:00, township time; "end" is that instant or now,
whichever is earlier; a report's status at an instant is read from its audit trail):

- counted: every report (hazards from groups and tips alike) except those rejected (不属实) or marked duplicate;
- new: counted reports filed in the month;
- rectified: counted reports whose rectification (整改完成, or 销号 without it) falls in the month;
- open / overdue / listed: counted reports still 待核实 or 整改中 at the end; of those, past their deadline; publicly
  listed (挂牌督办);
- rectification rate: rectified-or-closed at the end over all counted reports filed up to the end (cumulative);
- average days to rectify: filing to rectification, over the month's rectified reports;
- tips received: tips filed in the month (any outcome); tips verified: tips first moved to 整改中/已整改/已销号
  in the month.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, SQLColumnExpression, Subquery, and_, exists, func, select, union
from sqlalchemy.orm import Session, aliased

from scheduler.calendar import Calendar
from storage.models import OPEN_STATUSES, Report, ReportEvent, Tip, TipEvent, TipReward

NOT_COUNTED = ("rejected", "duplicate")
DONE = ("rectified", "closed")
VERIFIED = ("rectifying", "rectified", "closed")
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)


class MonthError(ValueError):
    """A month that is not written as YYYY-MM."""


@dataclass
class Counts:
    """New, rectified, open and overdue hazards of one slice (a village, a category, or all)."""

    new: int = 0
    rectified: int = 0
    open: int = 0
    overdue: int = 0

    def any(self) -> bool:
        """Whether anything happened in this slice."""
        return bool(self.new or self.rectified or self.open or self.overdue)


@dataclass
class MonthlyReport:
    """The month's numbers; ``by_village`` uses "" for reports without a village."""

    month: str
    start: datetime
    end: datetime
    totals: Counts = field(default_factory=Counts)
    listed: int = 0
    by_village: dict[str, Counts] = field(default_factory=dict)
    by_category: dict[str, Counts] = field(default_factory=dict)
    filed_total: int = 0
    done_total: int = 0
    rectification_rate: float | None = None
    avg_days_to_rectify: float | None = None
    tips_received: int = 0
    tips_verified: int = 0
    tips_rewarded: int = (
        0  # reward records created (tips verified for a reward) in the month, cancelled ones aside
    )
    tips_paid: int = 0  # rewards paid out in the month

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the numbers."""
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        return out


def parse_month(month: str) -> tuple[int, int]:
    """``"2026-05"`` → ``(2026, 5)``; MonthError with a Chinese message otherwise."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise MonthError(f"月份应写成 YYYY-MM，例如 2026-05，现在是 {month!r}")
    return int(m.group(1)), int(m.group(2))


def previous_month(day: date) -> str:
    """The month before ``day``'s month, as YYYY-MM (the report sent early in a month covers the last one)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's first instant, township time."""
    year, mon = parse_month(month)
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def _slice_counts(
    status: SQLColumnExpression[str], start: datetime, end: datetime
) -> list[ColumnElement[int]]:
    """new, open, overdue, listed, counted and done, as ``COUNT(*) FILTER (WHERE …)``, for reports in ``status``."""
    counted = status.not_in(NOT_COUNTED)
    is_open = status.in_(OPEN_STATUSES)
    return [
        func.count().filter(and_(counted, Report.created_at >= start)),
        func.count().filter(is_open),
        func.count().filter(and_(is_open, Report.deadline < end)),
        func.count().filter(and_(is_open, Report.listed_at < end)),
        func.count().filter(counted),
        func.count().filter(status.in_(DONE)),
    ]


def _status_at(moment: datetime) -> Subquery:
    """Rows (report_id, status) for the reports whose status changed at or after ``moment``: their status then.

    A report's status just before ``moment`` is the last status its audit trail records before it (the latest
    entry; on a tie of times, the greatest status, as the trail is read in (time, status) order), or its current
    status if the trail has none before it. Every status change appends to the trail, so a report whose trail
    has nothing at or after ``moment`` is still in its current status, and only the changed ones are read here.
    """
    changed = select(ReportEvent.report_id).where(
        ReportEvent.to_status.is_not(None), ReportEvent.at >= moment
    )
    ranked = (
        select(
            ReportEvent.report_id,
            ReportEvent.to_status,
            func.row_number()
            .over(
                partition_by=ReportEvent.report_id,
                order_by=(ReportEvent.at.desc(), ReportEvent.to_status.desc()),
            )
            .label("rn"),
        )
        .where(
            ReportEvent.report_id.in_(changed),
            ReportEvent.to_status.is_not(None),
            ReportEvent.at < moment,
        )
        .subquery("ranked")
    )
    return (
        select(ranked.c.report_id, ranked.c.to_status.label("status"))
        .where(ranked.c.rn == 1)
        .subquery("status_at_end")
    )


def _first_in(
    events: type[ReportEvent] | type[TipEvent],
    owner: SQLColumnExpression[int],
    statuses: tuple[str, ...],
    start: datetime,
    end: datetime,
) -> ColumnElement[bool]:
    """Whether the first trail entry moving to one of ``statuses`` falls in [start, end)."""
    key = events.report_id if events is ReportEvent else events.tip_id  # type: ignore[union-attr]
    in_window = exists().where(
        key == owner, events.to_status.in_(statuses), events.at >= start, events.at < end
    )
    earlier = exists().where(key == owner, events.to_status.in_(statuses), events.at < start)
    return and_(in_window, ~earlier)


def build_monthly_report(
    session: Session, month: str, tz: ZoneInfo, *, now: datetime | None = None
) -> MonthlyReport:
    """Count the ledger for ``month`` (YYYY-MM) in the township's time zone; see the module docstring.

    Four aggregate queries whatever the size of the ledger: the month's slices (grouped by village and
    category), their correction for reports changed since, the month's rectified reports (for their count and
    the days they took), and the tips.
    """
    start, month_end = month_bounds(month, tz)
    end = min(month_end, now) if now is not None else month_end
    year, mon = parse_month(month)
    report = MonthlyReport(month=f"{year:04d}-{mon:02d}", start=start, end=end)
    at_end = _status_at(end)
    # The month's slices by current status over the whole ledger (one parallel scan, no join), corrected for the
    # few reports whose status changed at or after the end: their counts move from today's status to that one.
    sums: dict[tuple[str, str], list[int]] = {}
    main = select(
        Report.village,
        Report.category,
        *_slice_counts(Report.status, start, end),
        func.count().filter(and_(Report.kind == "tip", Report.created_at >= start)),
    ).where(Report.created_at < end)
    for row in session.execute(main.group_by(Report.village, Report.category)):
        key = (row[0] or "", row[1])
        sums[key] = [int(v) for v in row[2:8]]
        report.tips_received += int(row[8])
    correction = (
        select(
            Report.village,
            Report.category,
            *_slice_counts(Report.status, start, end),
            *_slice_counts(at_end.c.status, start, end),
        )
        .join(at_end, at_end.c.report_id == Report.id)
        .where(Report.created_at < end, at_end.c.status != Report.status)
        .group_by(Report.village, Report.category)
    )
    for row in session.execute(correction):
        values = sums.setdefault((row[0] or "", row[1]), [0] * 6)
        for i in range(6):
            values[i] += int(row[8 + i] or 0) - int(row[2 + i] or 0)
    for (village, category), (new, open_, overdue, listed, filed, done) in sums.items():
        if not filed:
            continue
        report.filed_total += filed
        report.done_total += done
        report.listed += listed
        for c in (
            report.totals,
            report.by_village.setdefault(village, Counts()),
            report.by_category.setdefault(category, Counts()),
        ):
            c.new += new
            c.open += open_
            c.overdue += overdue
    days = _rectified(session, report, at_end, start, end)
    # Tips filed as reports count in the month's totals; those in their own store only by number, never by
    # village. Verified: first moved to 整改中/已整改/已销号 in the month.
    tips = select(
        select(func.count(Report.id))
        .where(
            Report.kind == "tip",
            Report.created_at < end,
            _first_in(ReportEvent, Report.id, VERIFIED, start, end),
        )
        .scalar_subquery(),
        select(func.count(Tip.id))
        .where(Tip.kind == "tip", Tip.created_at >= start, Tip.created_at < end)
        .scalar_subquery(),
        select(func.count(Tip.id))
        .where(Tip.kind == "tip", Tip.created_at < end, _first_in(TipEvent, Tip.id, VERIFIED, start, end))
        .scalar_subquery(),
    )
    # three COUNT(*) subqueries: the stubs type a row of scalar subqueries as objects
    verified, store_received, store_verified = cast("tuple[int | None, ...]", session.execute(tips).one())
    report.tips_verified = int(verified or 0) + int(store_verified or 0)
    report.tips_received += int(store_received or 0)
    rewarded, paid = cast(
        "tuple[int | None, ...]",
        session.execute(
            select(
                select(func.count(TipReward.tip_id))
                .where(
                    TipReward.verified_at >= start, TipReward.verified_at < end, TipReward.status != "void"
                )
                .scalar_subquery(),
                select(func.count(TipReward.tip_id))
                .where(TipReward.paid_at >= start, TipReward.paid_at < end)
                .scalar_subquery(),
            )
        ).one(),
    )
    report.tips_rewarded, report.tips_paid = int(rewarded or 0), int(paid or 0)
    report.by_village = {k: v for k, v in report.by_village.items() if v.any()}
    report.by_category = {k: v for k, v in report.by_category.items() if v.any()}
    if report.filed_total:
        report.rectification_rate = report.done_total / report.filed_total
    if days:
        report.avg_days_to_rectify = round(sum(days) / len(days), 1)
    return report


def _rectified(
    session: Session, report: MonthlyReport, at_end: Subquery, start: datetime, end: datetime
) -> list[float]:
    """Count the month's rectified reports into ``report``; the days each took, in filing order.

    A report is rectified when first moved to 已整改 or 已销号, or at its recorded rectification time if that is
    earlier. Only reports with such a moment inside the month are read, so the rows are the month's, not the
    ledger's.
    """
    done = aliased(ReportEvent)
    candidates = union(
        select(ReportEvent.report_id.label("id")).where(
            ReportEvent.to_status.in_(DONE), ReportEvent.at >= start, ReportEvent.at < end
        ),
        select(Report.id.label("id")).where(Report.rectified_at >= start, Report.rectified_at < end),
    ).subquery("candidates")
    first_done = (
        select(func.min(done.at))
        .where(done.report_id == Report.id, done.to_status.in_(DONE))
        .scalar_subquery()
    )
    status = func.coalesce(at_end.c.status, Report.status)
    rows = session.execute(
        select(
            Report.village, Report.category, Report.created_at, Report.rectified_at, first_done.label("first")
        )
        .join(candidates, candidates.c.id == Report.id)
        .outerjoin(at_end, at_end.c.report_id == Report.id)
        .where(Report.created_at < end, status.not_in(NOT_COUNTED))
        .order_by(Report.id)
    )
    days: list[float] = []
    for row in rows:
        times = [t for t in (row.first, row.rectified_at) if t is not None]
        finished = min(times)
        if not start <= finished < end:
            continue
        days.append((finished - row.created_at).total_seconds() / 86400)
        for c in (
            report.totals,
            report.by_village.setdefault(row.village or "", Counts()),
            report.by_category.setdefault(row.category, Counts()),
        ):
            c.rectified += 1
    return days


def _rows(slices: dict[str, Counts], names: dict[str, str], order: list[str], calendar: Calendar) -> str:
    keys = sorted(slices, key=lambda k: (k == "", order.index(k) if k in order else len(order), k))
    lines = [calendar.text("report_row", name=names.get(k, k), **asdict(slices[k])) for k in keys]
    return "\n".join(lines) if lines else calendar.text("report_none")


def render_text(report: MonthlyReport, calendar: Calendar) -> str:
    """The report as Chinese text, for platforms (and groups) that cannot show the chart."""
    na = calendar.text("report_na")
    village_names = {"": calendar.text("unknown_village")}
    categories = calendar.labels["categories"]
    return calendar.text(
        "report_body",
        month=report.month,
        new=report.totals.new,
        rectified=report.totals.rectified,
        open=report.totals.open,
        overdue=report.totals.overdue,
        listed=report.listed,
        rate=f"{report.rectification_rate:.1%}" if report.rectification_rate is not None else na,
        avg_days=calendar.text("report_days", days=report.avg_days_to_rectify)
        if report.avg_days_to_rectify is not None
        else na,
        tips_received=report.tips_received,
        tips_verified=report.tips_verified,
        tips_rewarded=report.tips_rewarded,
        tips_paid=report.tips_paid,
        by_village=_rows(report.by_village, village_names, [], calendar),
        by_category=_rows(report.by_category, dict(categories), list(categories), calendar),
    ).strip()


def cjk_font_available() -> bool:
    """Whether matplotlib knows a font with Chinese glyphs (without one the chart's labels are boxes)."""
    return _cjk_font() is not None


def _cjk_font() -> Any:
    from matplotlib import font_manager

    available = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in available:
            return font_manager.FontProperties(fname=available[name])
    return None


def png_bytes(report: MonthlyReport, calendar: Calendar) -> bytes:
    """The chart as PNG bytes, for platforms that can show images."""
    buffer = io.BytesIO()
    render_png(report, calendar, buffer)
    return buffer.getvalue()


def render_png(report: MonthlyReport, calendar: Calendar, path: Path | str | BinaryIO) -> Path | BinaryIO:
    """Draw new / rectified / open / overdue per village as a PNG (matplotlib Agg, imported only here).

    Chinese labels need a CJK font on the machine (e.g. the fonts-noto-cjk package); without one the chart is
    still written, with missing glyphs.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(path, str | Path):
        path = Path(path)
        if not path.parent.is_dir():
            raise FileNotFoundError(path.parent)  # a missing folder is a mistake: never create it
    font = _cjk_font()
    names = sorted(report.by_village, key=lambda k: (k == "", k))
    labels = [n or calendar.text("unknown_village") for n in names] or [calendar.text("report_none")]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        warnings.filterwarnings("ignore", category=UserWarning, module="matplotlib")
        _draw(Figure, FigureCanvasAgg, report, calendar, labels, names, font, path)
    return path


def _draw(
    figure: Any,
    canvas: Any,
    report: MonthlyReport,
    calendar: Calendar,
    labels: list[str],
    names: list[str],
    font: Any,
    path: Path | BinaryIO,
) -> None:
    series = [
        (calendar.text("chart_new"), [report.by_village[n].new for n in names], "#4e79a7"),
        (calendar.text("chart_rectified"), [report.by_village[n].rectified for n in names], "#59a14f"),
        (calendar.text("chart_open"), [report.by_village[n].open for n in names], "#f28e2b"),
        (calendar.text("chart_overdue"), [report.by_village[n].overdue for n in names], "#e15759"),
    ]
    fig = figure(figsize=(max(6.0, 1.1 * len(labels) + 2), 4.5), dpi=120)
    canvas(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.2
    for i, (name, values, color) in enumerate(series):
        xs = [x + (i - 1.5) * width for x in range(len(labels))]
        ax.bar(xs, values or [0], width=width, label=name, color=color)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontproperties=font)
    ax.yaxis.get_major_locator().set_params(integer=True)
    highest = max((max(values, default=0) for _, values, _ in series), default=0)
    ax.set_ylim(0, max(1, highest) * 1.15)  # an empty month still gets a sane 0–1 axis
    ax.set_title(calendar.text("chart_title", month=report.month), fontproperties=font)
    ax.legend(prop=font)
    fig.tight_layout()
    fig.savefig(path, format="png")
