"""The monthly report's numbers match a hand-built ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from bot.app import Database
from handlers.texts import Texts
from scheduler.calendar import SHARED_LABELS, Calendar, load_calendar
from scheduler.monthly_report import (
    Counts,
    MonthError,
    build_monthly_report,
    month_bounds,
    parse_month,
    previous_month,
    render_png,
    render_text,
)
from storage.models import Report
from storage.officials import new_code
from storage.reports import create_report, set_status
from storage.tip_threads import create_reward
from storage.tips import create_tip

TZ = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return load_calendar(labels=Texts.load().labels(*SHARED_LABELS))


@pytest.fixture
def ledger(database: Database) -> None:
    """Thirteen reports around May 2026; the expected numbers are worked out by hand in the test."""

    def file(s, created, village=None, category="building", kind="hazard", deadline=None, **extra):
        return create_report(
            s,
            actor="t",
            kind=kind,
            category=category,
            severity=extra.pop("severity", "general"),
            text="x",
            village=village,
            created_at=created,
            deadline=deadline,
            anonymous=kind == "tip",
            **extra,
        )

    with database.sessions.begin() as s:
        r1 = file(s, at(4, 20), "王家沟村", deadline=at(5, 20))
        set_status(s, r1, "rectified", "o", now=at(5, 10))  # 20 days
        file(s, at(5, 1, 0, 30), "王家沟村", "fire", deadline=at(5, 31, 12))  # new, open, overdue
        r3 = file(s, at(5, 5), "庙坪村")
        set_status(s, r3, "rectified", "o", now=at(5, 8))  # 3 days
        set_status(s, r3, "closed", "o", now=at(5, 9))
        r4 = file(s, at(5, 10), "庙坪村", "geological")
        set_status(s, r4, "rejected", "o", now=at(5, 11))
        file(s, at(5, 12), "庙坪村", status="duplicate")
        file(s, at(5, 31, 23, 30), "庙坪村", "geological", deadline=at(6, 30))  # new, open
        file(s, datetime(2026, 6, 1, 0, 10, tzinfo=TZ), "王家沟村", "fire")  # June, not May
        r8 = file(s, at(5, 2), "王家沟村", deadline=at(5, 9), listed_at=at(5, 10))
        set_status(s, r8, "rectified", "o", now=at(6, 2))  # rectified after the month
        r9 = file(s, at(3, 1), None, "traffic")
        set_status(s, r9, "closed", "o", now=at(5, 15))  # struck off without rectification: 75 days
        t1 = file(s, at(5, 3), "庙坪村", "mining", kind="tip", deadline=at(5, 10))
        set_status(s, t1, "rectifying", "o", now=at(5, 4))
        t2 = file(s, at(5, 20), "庙坪村", "mining", kind="tip")
        set_status(s, t2, "rejected", "o", now=at(5, 21))
        t3 = file(s, at(4, 25), "庙坪村", "mining", kind="tip")
        set_status(s, t3, "rectifying", "o", now=at(5, 2))
        r10 = file(s, at(4, 1), "王家沟村")
        set_status(s, r10, "rectified", "o", now=at(4, 15))


def test_numbers_match_the_hand_built_ledger(database: Database, ledger: None) -> None:
    with database.sessions() as s:
        report = build_monthly_report(s, "2026-05", TZ, now=datetime(2026, 7, 1, tzinfo=TZ))
    assert report.totals == Counts(new=5, rectified=3, open=5, overdue=3)
    assert report.listed == 1
    assert report.by_village == {
        "王家沟村": Counts(new=2, rectified=1, open=2, overdue=2),
        "庙坪村": Counts(new=3, rectified=1, open=3, overdue=1),
        "": Counts(rectified=1),
    }
    assert report.by_category == {
        "building": Counts(new=2, rectified=2, open=1, overdue=1),
        "fire": Counts(new=1, open=1, overdue=1),
        "geological": Counts(new=1, open=1),
        "mining": Counts(new=1, open=2, overdue=1),
        "traffic": Counts(rectified=1),
    }
    assert (report.filed_total, report.done_total) == (9, 4)
    assert report.rectification_rate == pytest.approx(4 / 9)
    assert report.avg_days_to_rectify == pytest.approx(32.7)
    assert (report.tips_received, report.tips_verified) == (2, 2)
    assert report.start == at(5, 1, 0, 0) and report.end == datetime(2026, 6, 1, tzinfo=TZ)


def test_april_as_of_its_end(database: Database, ledger: None) -> None:
    """Statuses are read as they were at the month's end, not as they are now."""
    with database.sessions() as s:
        report = build_monthly_report(s, "2026-04", TZ)
    assert report.totals == Counts(
        new=3, rectified=1, open=3, overdue=0
    )  # r1, r10 (rectified), t3; r9 from March
    assert (report.tips_received, report.tips_verified) == (1, 0)
    assert report.avg_days_to_rectify == pytest.approx(14.0)


def test_text_and_chart(database: Database, ledger: None, cal: Calendar, tmp_path: Path) -> None:
    with database.sessions() as s:
        report = build_monthly_report(s, "2026-05", TZ, now=datetime(2026, 7, 1, tzinfo=TZ))
    text = render_text(report, cal)
    assert "新登记隐患 5 项，整改完成 3 项；月底未整改 5 项，其中逾期 3 项、挂牌督办 1 项" in text
    assert "累计整改率 44.4%，平均整改用时 32.7 天" in text
    assert "内部举报：收到 2 条，核实 2 条" in text
    assert "王家沟村：2/1/2/2" in text and "庙坪村：3/1/3/1" in text and "未注明村：0/1/0/0" in text
    assert text.index("火灾：1/0/1/1") < text.index("房屋建筑：2/2/1/1") < text.index("交通")  # label order
    assert text.startswith("2026-05 安全隐患排查治理月报")  # the text names its month
    png = render_png(report, cal, tmp_path / "2026-05.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    with pytest.raises(FileNotFoundError):
        render_png(report, cal, tmp_path / "no-such-folder" / "x.png")  # a folder is never created
    assert not (tmp_path / "no-such-folder").exists()
    assert report.to_json()["totals"] == {"new": 5, "rectified": 3, "open": 5, "overdue": 3}


def test_empty_month(sqlite_database: Database, cal: Calendar) -> None:
    with sqlite_database.sessions() as s:
        report = build_monthly_report(s, "2026-02", TZ)
    assert report.rectification_rate is None and report.avg_days_to_rectify is None
    text = render_text(report, cal)
    assert "累计整改率 —" in text and "（无）" in text
    png = render_png(report, cal, io.BytesIO())  # an empty month still draws, on a 0–1 axis
    assert png.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore[union-attr]


def test_rewards_counted_and_paid_in_the_month(sqlite_database: Database, cal: Calendar) -> None:
    may = datetime(2026, 5, 12, 10, tzinfo=TZ)
    with sqlite_database.sessions.begin() as s:
        values = {"kind": "tip", "category": "mining", "severity": "major", "confidence": 0.9, "text": "偷挖"}
        for i, status in enumerate(("pending", "paid", "void")):
            tip = create_tip(s, receipt_code=new_code(18), now=may, **values)
            reward = create_reward(
                s,
                tip,
                category="general",
                fine_fen=None,
                computed_fen=50_000,
                verified_by="刘主任",
                department="安全办",
                claim_days=60,
                now=may + timedelta(days=i),
            )
            reward.status = status
            reward.paid_at = may + timedelta(days=3) if status == "paid" else None
    with sqlite_database.sessions() as s:
        report = build_monthly_report(s, "2026-05", TZ, now=datetime(2026, 6, 2, tzinfo=TZ))
    assert (report.tips_rewarded, report.tips_paid) == (2, 1)
    assert "核定奖励 2 条，兑付 1 条" in render_text(report, cal)


def test_month_helpers() -> None:
    assert previous_month(date(2026, 1, 3)) == "2025-12"
    assert previous_month(date(2026, 6, 3)) == "2026-05"
    assert parse_month("2026-5") == (2026, 5)
    assert month_bounds("2026-12", TZ)[1] == datetime(2027, 1, 1, tzinfo=TZ)
    with pytest.raises(MonthError, match="YYYY-MM"):
        parse_month("2026/05")
    with pytest.raises(MonthError):
        parse_month("2026-13")


# ---------------------------------------------------------------------------------------------------------------
# The SQL aggregates give what the definitions say, and their number of queries does not grow with the ledger.


class _Reference:
    """The module docstring's definitions, read report by report from the audit trail (the old, slow way)."""

    def __init__(self, session: Session, month: str, now: datetime | None) -> None:
        self.start, month_end = month_bounds(month, TZ)
        self.end = min(month_end, now) if now is not None else month_end
        self.session = session

    def numbers(
        self,
    ) -> tuple[Counts, dict[str, Counts], dict[str, Counts], int, int, int, float | None, int, int]:
        start, end = self.start, self.end
        totals, by_village, by_category = Counts(), {}, {}
        listed = filed = done_total = tips_received = tips_verified = 0
        days: list[float] = []
        reports = self.session.scalars(select(Report).where(Report.created_at < end).order_by(Report.id))
        for r in reports:
            trail = sorted((e.at, e.to_status) for e in r.events if e.to_status)
            status = ([s for at, s in trail if at < end] or [r.status])[-1]
            if r.kind == "tip":
                tips_received += start <= r.created_at < end
                verified = [at for at, s in trail if s in ("rectifying", "rectified", "closed")]
                tips_verified += bool(verified) and start <= min(verified) < end
            if status in ("rejected", "duplicate"):
                continue
            finished_times = [at for at, s in trail if s in ("rectified", "closed")]
            finished_times += [r.rectified_at] if r.rectified_at else []
            finished = min(finished_times) if finished_times else None
            filed += 1
            done_total += status in ("rectified", "closed")
            is_open = status in ("reported", "rectifying")
            listed += is_open and r.listed_at is not None and r.listed_at < end
            is_rectified = finished is not None and start <= finished < end
            if is_rectified:
                days.append((finished - r.created_at).total_seconds() / 86400)
            for c in (
                totals,
                by_village.setdefault(r.village or "", Counts()),
                by_category.setdefault(r.category, Counts()),
            ):
                c.new += start <= r.created_at < end
                c.rectified += is_rectified
                c.open += is_open
                c.overdue += is_open and r.deadline is not None and r.deadline < end
        by_village = {k: v for k, v in by_village.items() if v.any()}
        by_category = {k: v for k, v in by_category.items() if v.any()}
        avg = round(sum(days) / len(days), 1) if days else None
        return totals, by_village, by_category, listed, filed, done_total, avg, tips_received, tips_verified


def _random_ledger(session: Session, rng: random.Random, count: int) -> None:
    """``count`` reports filed over spring 2026, moved through random statuses at random later times."""
    villages = ["王家沟村", "庙坪村", "克虎村", None]
    for _ in range(count):
        created = at(3, 1) + timedelta(hours=rng.randrange(0, 24 * 110))
        kind = "tip" if rng.random() < 0.15 else "hazard"
        status = "duplicate" if rng.random() < 0.05 else "reported"
        r = create_report(
            session,
            actor="t",
            kind=kind,
            category=rng.choice(["building", "fire", "mining"]),
            severity="general",
            text="x",
            village=rng.choice(villages),
            created_at=created,
            deadline=created + timedelta(days=rng.choice([7, 30])),
            listed_at=created + timedelta(days=rng.randrange(8, 40)) if rng.random() < 0.3 else None,
            anonymous=kind == "tip",
            status=status,
        )
        when = created
        for _ in range(rng.randrange(0, 4) if status == "reported" else 0):
            when += timedelta(hours=rng.randrange(1, 24 * 25))
            target = rng.choice(["rectifying", "rectified", "closed", "rejected", "reported"])
            set_status(session, r, target, "o", now=when)


def test_sql_numbers_match_the_definitions_on_a_random_ledger(database: Database) -> None:
    """Statuses changed before, inside and after the month, tips, duplicates: the same numbers as the trail says."""
    rng = random.Random(7)
    with database.sessions.begin() as s:
        _random_ledger(s, rng, 150)
    for month, now in (("2026-04", None), ("2026-05", None), ("2026-05", at(5, 20)), ("2026-06", at(7, 3))):
        with database.sessions() as s:
            got = build_monthly_report(s, month, TZ, now=now)
            want = _Reference(s, month, now).numbers()
        assert (
            got.totals,
            got.by_village,
            got.by_category,
            got.listed,
            got.filed_total,
            got.done_total,
            got.avg_days_to_rectify,
            got.tips_received,
            got.tips_verified,
        ) == want, month


class _Queries:
    """Counts the statements sent to the database while active."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _seen(self, *_args: object) -> None:
        self.count += 1

    def __enter__(self) -> _Queries:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def test_query_count_does_not_grow_with_the_ledger(database: Database) -> None:
    """10 or 1,000 reports: the monthly report sends the same few statements (it never reads report by report)."""
    rng = random.Random(3)
    counts = []
    for size in (10, 990):
        with database.sessions.begin() as s:
            _random_ledger(s, rng, size)
        with database.sessions() as s, _Queries(database.engine) as queries:
            report = build_monthly_report(s, "2026-05", TZ, now=at(6, 15))
        counts.append(queries.count)
        assert report.filed_total > 0
    assert counts[0] == counts[1] <= 5
