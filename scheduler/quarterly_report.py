"""The quarterly statistical analysis (季度统计分析, 原安监总局16号令 第十四条), counted by the database.

Same definitions as the monthly report (``scheduler.monthly_report``), over a quarter: the quarter runs from its
first day 00:00 to the next quarter's first day 00:00, township time; "end" is that instant or now, whichever is
earlier; a report's status at an instant is the last status its audit trail reached before it (its current status
if the trail has none).

- counted: every report except those rejected (不属实) or marked duplicate at the end;
- found: counted reports filed in the quarter (and how many of them are major);
- fixed: counted reports whose rectification (整改完成, or 销号 without it) falls in the quarter;
- open / open major / overdue: counted reports still 待核实 or 整改中 at the end; of those, the major ones, and
  those past their deadline;
- rectification rate: rectified-or-closed at the end over all counted reports filed up to the end (cumulative);
- tips received: tips filed in the quarter; tips verified: tips first moved to 整改中/已整改/已销号 in it. Tips
  enter only these two totals, never a village or category row.

Every number is a SQL aggregate (``SUM(CASE …)`` grouped by village or category) over one derived table that
holds, per report, its status at the end and when it was first done; nothing is counted row by row in Python.
The statements are ``storage.statistics``'s ``quarter_*`` functions; this module assembles and names the numbers.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from storage import statistics

_QUARTER_RE = re.compile(r"(\d{4})\s*-?\s*[Qq]\s*([1-4])")


class QuarterError(ValueError):
    """A quarter that is not written like 2026Q4."""


@dataclass
class QCounts:
    """Found, fixed, open, open major and overdue hazards of one slice (a village, a category, or all)."""

    found: int = 0
    found_major: int = 0
    fixed: int = 0
    open: int = 0
    open_major: int = 0
    overdue: int = 0

    def any(self) -> bool:
        """Whether anything is counted in this slice."""
        return any(asdict(self).values())


@dataclass
class QuarterlyReport:
    """The quarter's numbers; ``by_village`` uses "" for reports without a village."""

    year: int
    quarter: int
    start: datetime
    end: datetime
    totals: QCounts = field(default_factory=QCounts)
    by_village: dict[str, QCounts] = field(default_factory=dict)
    by_category: dict[str, QCounts] = field(default_factory=dict)
    filed_total: int = 0
    done_total: int = 0
    rectification_rate: float | None = None
    tips_received: int = 0
    tips_verified: int = 0

    @property
    def label(self) -> str:
        """The quarter as typed on the command line: ``2026Q4``."""
        return f"{self.year}Q{self.quarter}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the numbers."""
        out = asdict(self)
        out["quarter"] = self.label
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        return out


def parse_quarter(text: str) -> tuple[int, int]:
    """``"2026Q4"`` → ``(2026, 4)`` (also ``2026-Q4``, ``2026q4``); QuarterError in Chinese otherwise."""
    match = _QUARTER_RE.fullmatch(text.strip())
    if not match:
        raise QuarterError(f"季度应写成 年份Q季度，例如 2026Q4，现在是 {text!r}")
    return int(match.group(1)), int(match.group(2))


def quarter_of(day: date) -> tuple[int, int]:
    """The quarter ``day`` falls in."""
    return day.year, (day.month - 1) // 3 + 1


def previous_quarter(day: date) -> str:
    """The quarter before ``day``'s, as ``2026Q3``: the statistics due by the 15th cover the last quarter."""
    year, quarter = quarter_of(day)
    year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return f"{year}Q{quarter}"


def quarter_bounds(year: int, quarter: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The quarter's first instant and the next quarter's first instant, township time."""
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=tz)
    end = (
        datetime(year + 1, 1, 1, tzinfo=tz) if quarter == 4 else datetime(year, 3 * quarter + 1, 1, tzinfo=tz)
    )
    return start, end


def _counts(row: Any) -> QCounts:
    return QCounts(
        found=int(row.found),
        found_major=int(row.found_major),
        fixed=int(row.fixed),
        open=int(row.open),
        open_major=int(row.open_major),
        overdue=int(row.overdue),
    )


def _sorted(slices: dict[str, QCounts]) -> dict[str, QCounts]:
    return {k: slices[k] for k in sorted(slices, key=lambda k: (k == "", k)) if slices[k].any()}


def build_quarterly_report(
    session: Session, quarter: str, tz: ZoneInfo, *, now: datetime | None = None
) -> QuarterlyReport:
    """Count the ledger for ``quarter`` (``2026Q4``) in the township's time zone; see the module docstring."""
    year, q = parse_quarter(quarter)
    start, quarter_end = quarter_bounds(year, q, tz)
    end = min(quarter_end, now) if now is not None else quarter_end
    report = QuarterlyReport(year=year, quarter=q, start=start, end=end)
    totals = statistics.quarter_totals(session, start, end)
    report.totals = _counts(totals)
    report.filed_total = int(totals.filed_total)
    report.done_total = int(totals.done_total)
    if report.filed_total:
        report.rectification_rate = report.done_total / report.filed_total
    for row in statistics.quarter_slices(session, start, end, "village"):
        report.by_village[row.key or ""] = _counts(row)
    for row in statistics.quarter_slices(session, start, end, "category"):
        report.by_category[row.key or ""] = _counts(row)
    report.by_village = _sorted(report.by_village)
    report.by_category = _sorted(report.by_category)
    report.tips_received, report.tips_verified = statistics.quarter_tips(session, start, end)
    return report
