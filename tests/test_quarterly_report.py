"""The quarterly statistics match a small hand-counted ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.app import Database
from handlers.export import render_quarterly_text, write_quarterly_xlsx
from handlers.texts import Texts
from scheduler.quarterly_report import (
    QCounts,
    QuarterError,
    build_quarterly_report,
    parse_quarter,
    previous_quarter,
    quarter_bounds,
)
from storage.reports import create_report, set_status
from storage.tips import create_tip
from storage.tips import set_status as set_tip_status

TZ = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def ledger(database: Database) -> None:
    """Ten reports and three tips around 2026Q4; the expected numbers are worked out in the tests."""

    def file(s: Any, created: datetime, village: str | None, category: str = "building", **extra: Any) -> Any:
        return create_report(
            s,
            actor="t",
            kind="hazard",
            category=category,
            severity=extra.pop("severity", "general"),
            text="x",
            village=village,
            created_at=created,
            **extra,
        )

    with database.sessions.begin() as s:
        a = file(s, at(2026, 9, 20), "王家沟村", deadline=at(2026, 10, 20))
        set_status(s, a, "rectified", "o", now=at(2026, 10, 5))  # fixed in Q4, found in Q3
        file(
            s, at(2026, 10, 5), "王家沟村", "fire", severity="major", deadline=at(2026, 10, 12)
        )  # open, overdue
        c = file(s, at(2026, 11, 1), "庙坪村", "geological", deadline=at(2027, 1, 30))
        set_status(s, c, "rectified", "o", now=at(2026, 11, 10))
        set_status(s, c, "closed", "o", now=at(2026, 11, 12))
        d = file(s, at(2026, 11, 2), "庙坪村")
        set_status(s, d, "rejected", "o", now=at(2026, 11, 3))  # not counted
        file(s, at(2026, 11, 3), "庙坪村", status="duplicate")  # not counted
        file(s, at(2026, 12, 31, 23, 30), None, "traffic", severity="major", deadline=at(2027, 1, 7))
        file(s, at(2027, 1, 1, 0, 10), "王家沟村")  # next quarter
        h = file(s, at(2026, 10, 10), "王家沟村", "electric", deadline=at(2026, 10, 20))
        set_status(s, h, "rectified", "o", now=at(2027, 1, 5))  # rectified after the quarter: open at its end
        i = file(s, at(2026, 8, 1), "庙坪村", "mining", severity="major", deadline=at(2026, 8, 8))
        set_status(s, i, "rectifying", "o", now=at(2026, 8, 2))
        j = file(s, at(2026, 7, 1), "王家沟村")
        set_status(s, j, "closed", "o", now=at(2026, 9, 1))
        t1 = create_tip(
            s,
            receipt_code="Q" * 18,
            now=at(2026, 10, 15),
            kind="tip",
            category="mining",
            severity="major",
            text="x",
        )
        set_tip_status(s, t1, "rectifying", "o", now=at(2026, 10, 16))
        t2 = create_tip(
            s,
            receipt_code="R" * 18,
            now=at(2026, 9, 28),
            kind="tip",
            category="mining",
            severity="major",
            text="x",
        )
        set_tip_status(s, t2, "rectifying", "o", now=at(2026, 10, 2))
        create_tip(
            s,
            receipt_code="S" * 18,
            now=at(2026, 11, 1),
            kind="hazard",
            category="gas",
            severity="general",
            text="x",
        )


def test_whole_quarter(database: Database, ledger: None) -> None:
    with database.sessions() as s:
        r = build_quarterly_report(s, "2026Q4", TZ)
    assert (r.start, r.end) == (at(2026, 10, 1, 0), at(2027, 1, 1, 0))
    assert r.totals == QCounts(found=4, found_major=2, fixed=2, open=4, open_major=3, overdue=3)
    assert (r.filed_total, r.done_total) == (7, 3)
    assert r.rectification_rate == pytest.approx(3 / 7)
    assert r.by_village == {
        "庙坪村": QCounts(found=1, found_major=0, fixed=1, open=1, open_major=1, overdue=1),
        "王家沟村": QCounts(found=2, found_major=1, fixed=1, open=2, open_major=1, overdue=2),
        "": QCounts(found=1, found_major=1, fixed=0, open=1, open_major=1, overdue=0),
    }
    assert list(r.by_village)[-1] == ""  # reports without a village come last
    assert r.by_category == {
        "building": QCounts(fixed=1),
        "electric": QCounts(found=1, open=1, overdue=1),
        "fire": QCounts(found=1, found_major=1, open=1, open_major=1, overdue=1),
        "geological": QCounts(found=1, fixed=1),
        "mining": QCounts(open=1, open_major=1, overdue=1),
        "traffic": QCounts(found=1, found_major=1, open=1, open_major=1),
    }
    assert (r.tips_received, r.tips_verified) == (1, 2)
    data = r.to_json()
    assert data["quarter"] == "2026Q4" and data["start"] == "2026-10-01T00:00:00+08:00"


def test_quarter_in_progress_counts_up_to_now(database: Database, ledger: None) -> None:
    with database.sessions() as s:
        r = build_quarterly_report(s, "2026Q4", TZ, now=at(2026, 11, 5))
    assert r.end == at(2026, 11, 5)
    # c was still waiting on 11-05 (rectified on 11-10); d was already rejected on 11-03.
    assert r.totals == QCounts(found=3, found_major=1, fixed=1, open=4, open_major=2, overdue=3)


def test_an_empty_quarter(database: Database, ledger: None) -> None:
    with database.sessions() as s:
        r = build_quarterly_report(s, "2025Q1", TZ)
    assert r.totals == QCounts() and r.by_village == {} and r.rectification_rate is None


def test_text_and_workbook(database: Database, ledger: None, texts: Texts) -> None:
    with database.sessions() as s:
        r = build_quarterly_report(s, "2026Q4", TZ)
    text = render_quarterly_text(r, texts, "克虎镇")
    assert text.startswith("克虎镇2026年第4季度")
    assert "2026-10-01 至 2026-12-31" in text
    assert "发现隐患 4 项（其中重大 2 项），整改完成 2 项；累计整改率 42.9%" in text
    assert "王家沟村：2/1/2/1/2" in text and "未注明村：1/0/1/1/0" in text and "用电：1/0/1/0/1" in text
    buffer = io.BytesIO()
    write_quarterly_xlsx(r, buffer, texts=texts, town="克虎镇")
    ws = load_workbook(io.BytesIO(buffer.getvalue())).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0].startswith("克虎镇2026年第4季度")
    assert list(rows[1]) == ["分组", "名称", "发现", "整改完成", "未整改", "重大未整改", "逾期"]
    assert list(rows[2]) == ["合计", None, 4, 2, 4, 3, 3]
    assert ["分村", "王家沟村", 2, 1, 2, 1, 2] in [list(r) for r in rows]


def test_quarter_names() -> None:
    assert parse_quarter("2026Q4") == parse_quarter("2026-q4") == (2026, 4)
    with pytest.raises(QuarterError, match="2026Q4"):
        parse_quarter("2026Q5")
    assert previous_quarter(date(2027, 1, 5)) == "2026Q4"
    assert previous_quarter(date(2026, 8, 31)) == "2026Q2"
    assert quarter_bounds(2026, 2, TZ) == (at(2026, 4, 1, 0), at(2026, 7, 1, 0))
