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
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scheduler.calendar import Calendar
from storage.models import OPEN_STATUSES, Report, Tip

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


def _events(report: Report) -> list[tuple[datetime, str]]:
    return sorted((e.at, e.to_status) for e in report.events if e.to_status)  # type: ignore[misc]


def status_at(report: Report, moment: datetime) -> str:
    """The report's status just before ``moment``, from its audit trail (current status if it has none)."""
    status = None
    for at, to_status in _events(report):
        if at < moment:
            status = to_status
    return status or report.status


def done_at(report: Report) -> datetime | None:
    """When the report was rectified (or struck off without a rectification), if ever."""
    times = [at for at, to_status in _events(report) if to_status in DONE]
    if report.rectified_at is not None:
        times.append(report.rectified_at)
    return min(times) if times else None


def verified_at(report: Report) -> datetime | None:
    """When the report was first confirmed (moved to 整改中, 已整改 or 已销号), if ever."""
    times = [at for at, to_status in _events(report) if to_status in VERIFIED]
    return min(times) if times else None


def build_monthly_report(
    session: Session, month: str, tz: ZoneInfo, *, now: datetime | None = None
) -> MonthlyReport:
    """Count the ledger for ``month`` (YYYY-MM) in the township's time zone; see the module docstring."""
    start, month_end = month_bounds(month, tz)
    end = min(month_end, now) if now is not None else month_end
    report = MonthlyReport(
        month=f"{parse_month(month)[0]:04d}-{parse_month(month)[1]:02d}", start=start, end=end
    )
    rows: Iterable[Report] = session.scalars(
        select(Report).where(Report.created_at < end).options(selectinload(Report.events)).order_by(Report.id)
    )
    days: list[float] = []
    for r in rows:
        status = status_at(r, end)
        if r.kind == "tip":
            if start <= r.created_at < end:
                report.tips_received += 1
            when = verified_at(r)
            if when is not None and start <= when < end:
                report.tips_verified += 1
        if status in NOT_COUNTED:
            continue
        slices = (
            report.totals,
            report.by_village.setdefault(r.village or "", Counts()),
            report.by_category.setdefault(r.category, Counts()),
        )
        report.filed_total += 1
        finished = done_at(r)
        if status in DONE:
            report.done_total += 1
        is_new = start <= r.created_at < end
        is_rectified = finished is not None and start <= finished < end
        is_open = status in OPEN_STATUSES
        is_overdue = is_open and r.deadline is not None and r.deadline < end
        if is_open and r.listed_at is not None and r.listed_at < end:
            report.listed += 1
        if is_rectified:
            assert finished is not None
            days.append((finished - r.created_at).total_seconds() / 86400)
        for c in slices:
            c.new += is_new
            c.rectified += is_rectified
            c.open += is_open
            c.overdue += is_overdue
    # Tips live in their own store: only their monthly totals enter the report, never a village or a number.
    tips: Iterable[Tip] = session.scalars(
        select(Tip).where(Tip.kind == "tip", Tip.created_at < end).options(selectinload(Tip.events))
    )
    for tip in tips:
        if start <= tip.created_at < end:
            report.tips_received += 1
        when = verified_at(tip)  # type: ignore[arg-type]  # a tip has the same events and statuses
        if when is not None and start <= when < end:
            report.tips_verified += 1
    report.by_village = {k: v for k, v in report.by_village.items() if v.any()}
    report.by_category = {k: v for k, v in report.by_category.items() if v.any()}
    if report.filed_total:
        report.rectification_rate = report.done_total / report.filed_total
    if days:
        report.avg_days_to_rectify = round(sum(days) / len(days), 1)
    return report


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
        by_village=_rows(report.by_village, village_names, [], calendar),
        by_category=_rows(report.by_category, dict(categories), list(categories), calendar),
    ).strip()


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
        path.parent.mkdir(parents=True, exist_ok=True)
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
    ax.set_title(calendar.text("chart_title", month=report.month), fontproperties=font)
    ax.legend(prop=font)
    fig.tight_layout()
    fig.savefig(path, format="png")
