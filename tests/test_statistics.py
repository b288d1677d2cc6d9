"""storage.statistics: the monthly and quarterly counts, with statuses read back from the audit trail."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.app import Database
from storage.reports import set_status
from storage.statistics import (
    month_rewards,
    month_slices,
    month_tips,
    quarter_slices,
    quarter_tips,
    quarter_totals,
    rectified_candidates,
)
from tests.helpers import file_report

TZ = ZoneInfo("Asia/Shanghai")
MAY = datetime(2026, 5, 1, tzinfo=TZ)
JUNE = datetime(2026, 6, 1, tzinfo=TZ)


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=TZ)


def test_counts_use_the_status_a_report_had_at_the_end(database: Database) -> None:
    with database.sessions.begin() as s:
        late = file_report(s, village="王家沟村", category="fire", created_at=at(5, 3), deadline=at(5, 20))
        set_status(s, late, "rectified", "o", now=at(6, 5))  # still open at the end of May
        fixed = file_report(s, village="王家沟村", category="fire", created_at=at(5, 4))
        set_status(s, fixed, "rectified", "o", now=at(5, 10))
        rejected = file_report(s, village="庙坪村", created_at=at(5, 6))
        set_status(s, rejected, "rejected", "o", now=at(5, 7))
        file_report(s, created_at=at(6, 2))  # after the month
        file_report(s, kind="tip", anonymous=True, village="庙坪村", created_at=at(5, 8))
    with database.sessions() as s:
        sums, tips = month_slices(s, MAY, JUNE)
        rows = rectified_candidates(s, MAY, JUNE)
        assert month_tips(s, MAY, JUNE) == (0, 0, 0) and month_rewards(s, MAY, JUNE) == (0, 0)
        totals = quarter_totals(s, datetime(2026, 4, 1, tzinfo=TZ), JUNE)
        villages = {r.key: r for r in quarter_slices(s, datetime(2026, 4, 1, tzinfo=TZ), JUNE, "village")}
        assert quarter_tips(s, datetime(2026, 4, 1, tzinfo=TZ), JUNE) == (1, 0)
    # [new, open, overdue, listed, counted, done]
    assert sums[("王家沟村", "fire")] == [2, 1, 1, 0, 2, 1]
    assert sums[("庙坪村", "building")] == [1, 1, 0, 0, 1, 0]  # the tip; the rejected report is not counted
    assert tips == 1
    assert [(r.village, r.category) for r in rows] == [("王家沟村", "fire")]
    assert (totals.found, totals.fixed, totals.open, totals.overdue, totals.filed_total) == (3, 1, 2, 1, 3)
    assert (villages["王家沟村"].found, villages["王家沟村"].open, villages["庙坪村"].found) == (2, 1, 1)
