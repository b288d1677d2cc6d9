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
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from scheduler.calendar import Calendar
from storage import statistics

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


def build_monthly_report(
    session: Session, month: str, tz: ZoneInfo, *, now: datetime | None = None
) -> MonthlyReport:
    """Count the ledger for ``month`` (YYYY-MM) in the township's time zone; see the module docstring.

    Five aggregate queries whatever the size of the ledger (``storage.statistics``): the month's slices (grouped
    by village and category), their correction for reports changed since, the month's rectified reports (for
    their count and the days they took), the tips, and the rewards.
    """
    start, month_end = month_bounds(month, tz)
    end = min(month_end, now) if now is not None else month_end
    year, mon = parse_month(month)
    report = MonthlyReport(month=f"{year:04d}-{mon:02d}", start=start, end=end)
    sums, report.tips_received = statistics.month_slices(session, start, end)
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
    days = _rectified(session, report, start, end)
    # Tips filed as reports count in the month's totals; those in their own store only by number, never by
    # village. Verified: first moved to 整改中/已整改/已销号 in the month.
    verified, store_received, store_verified = statistics.month_tips(session, start, end)
    report.tips_verified = verified + store_verified
    report.tips_received += store_received
    report.tips_rewarded, report.tips_paid = statistics.month_rewards(session, start, end)
    report.by_village = {k: v for k, v in report.by_village.items() if v.any()}
    report.by_category = {k: v for k, v in report.by_category.items() if v.any()}
    if report.filed_total:
        report.rectification_rate = report.done_total / report.filed_total
    if days:
        report.avg_days_to_rectify = round(sum(days) / len(days), 1)
    return report


def _rectified(session: Session, report: MonthlyReport, start: datetime, end: datetime) -> list[float]:
    """Count the month's rectified reports into ``report``; the days each took, in filing order.

    A report is rectified when first moved to 已整改 or 已销号, or at its recorded rectification time if that is
    earlier; the candidates are read by ``storage.statistics.rectified_candidates``.
    """
    rows = statistics.rectified_candidates(session, start, end)
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
