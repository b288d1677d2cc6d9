"""Calendar jobs write outbox rows once per (event, date, group), whatever restarts or double fires happen."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import Database
from handlers.classifier import Classifier
from handlers.profile import Profile
from handlers.router import Router
from handlers.texts import Texts
from scheduler import jobs
from scheduler.calendar import SHARED_LABELS, Calendar, load_calendar
from scheduler.monthly_report import build_monthly_report, render_text
from storage.groups import upsert_group
from storage.models import Group, OutboxMessage
from storage.reports import set_status
from tests.conftest import Clock, make_core
from tests.helpers import file_report, group_msg

TZ = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return load_calendar(labels=Texts.load().labels(*SHARED_LABELS))


@pytest.fixture
def groups(database: Database) -> dict[str, Group]:
    with database.sessions.begin() as s:
        made = {
            "wjg": upsert_group(s, "telegram", "-1", title="王家沟村群", kind="village", unit="王家沟村"),
            "mp": upsert_group(s, "telegram", "-2", title="庙坪村群", kind="village", unit="庙坪村"),
            "ent": upsert_group(s, "wechaty", "r3", title="煤矿群", kind="enterprise", unit="兴旺煤矿"),
            "stn": upsert_group(s, "telegram", "-4", title="应急站", kind="station", unit="应急管理站"),
            "lead": upsert_group(s, "telegram", "-5", title="镇领导", kind="leadership"),
            "old": upsert_group(
                s, "telegram", "-6", title="旧群", kind="village", unit="高家塔村", active=False
            ),
        }
    return made


def outbox(database: Database) -> list[OutboxMessage]:
    with database.sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def run(database: Database, cal: Calendar, now: datetime) -> int:
    with database.sessions.begin() as s:
        return jobs.enqueue_calendar(s, cal, now, TZ)


def context(database: Database, cal: Calendar) -> jobs.JobContext:
    return jobs.JobContext(sessions=database.sessions, calendar=cal, tz=TZ)


def test_morning_pushes_once_despite_restarts(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    queued = run(database, cal, local(2026, 6, 1, 9, 0))
    rows = outbox(database)
    by_event: dict[str, set[int]] = {}
    for r in rows:
        by_event.setdefault(r.event, set()).add(r.group_id or 0)
    g = {k: v.id for k, v in groups.items()}
    assert by_event == {
        "monthly_self_check": {g["wjg"], g["mp"], g["ent"]},
        "safety_month_start": {g["wjg"], g["mp"], g["ent"], g["stn"], g["lead"]},
        "flood_landslide_watch": {g["wjg"], g["mp"], g["stn"]},
        "summer_drowning_prevention": {g["wjg"], g["mp"]},
        "weekly_digest": {g["stn"], g["lead"]},
    }
    assert queued == len(rows) == 15
    assert {r.dedup_key for r in rows} >= {f"safety_month_start:2026-06-01:{g['lead']}"}
    assert all(r.status == "queued" and r.text for r in rows)
    # A restart mid-day (and any later tick) queues nothing new.
    assert run(database, cal, local(2026, 6, 1, 11, 30)) == 0
    assert run(database, cal, local(2026, 6, 1, 9, 0)) == 0
    assert len(outbox(database)) == 15


def test_down_at_nine_back_at_eleven(database: Database, groups: dict[str, Group], cal: Calendar) -> None:
    assert run(database, cal, local(2026, 6, 1, 8, 55)) == 0
    queued = run(database, cal, local(2026, 6, 1, 11, 0))  # first run after the outage
    assert queued == 15
    assert run(database, cal, local(2026, 6, 1, 11, 5)) == 0
    # Back the next night at 02:00: yesterday's pushes are not repeated nor sent at night.
    assert run(database, cal, local(2026, 6, 2, 2, 0)) == 0


def test_run_calendar_with_the_apps_context(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    now = local(2026, 5, 12, 9, 1)
    assert jobs.run_calendar(context(database, cal), now) == 4  # 2 villages, enterprise, station
    assert jobs.run_calendar(context(database, cal), now) == 0
    rows = outbox(database)
    assert {r.event for r in rows} == {"disaster_prevention_day"}
    assert rows[0].dedup_key == f"disaster_prevention_day:2026-05-12:{rows[0].group_id}"
    assert rows[0].not_before == datetime(2026, 5, 12, 1, 0, tzinfo=UTC)


def test_major_hazard_list_goes_to_the_responsible_units(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    t0 = datetime(2026, 5, 20, 2, 0, tzinfo=UTC)
    with database.sessions.begin() as s:
        a = file_report(s, severity="major", village="王家沟村", location="王家沟村东头窑洞", created_at=t0)
        b = file_report(
            s,
            severity="major",
            village="刘家峁村",
            location="刘家峁村兴旺煤矿井口",
            category="mining",
            created_at=t0,
        )
        tip = file_report(
            s,
            kind="tip",
            severity="major",
            anonymous=True,
            text="后沟煤窑晚上偷采",
            category="mining",
            village="庙坪村",
            created_at=t0,
        )
        done = file_report(s, severity="major", village="王家沟村", created_at=t0)
        set_status(s, done, "rectified", "official:1", now=t0 + timedelta(days=2))
        file_report(s, severity="general", village="庙坪村", created_at=t0)
        ids = (a.id, b.id, tip.id, done.id)
    run(database, cal, local(2026, 6, 5, 9, 0))
    rows = {r.group_id: r for r in outbox(database) if r.event == "monthly_major_hazard_list"}
    g = {k: v.id for k, v in groups.items()}
    assert set(rows) == {g["wjg"], g["ent"], g["stn"]}  # 庙坪村 has only a tip and a general hazard
    assert f"#{ids[0]} " in rows[g["wjg"]].text and f"#{ids[1]} " not in rows[g["wjg"]].text
    assert f"#{ids[1]} " in rows[g["ent"]].text and "共 1 项" in rows[g["ent"]].text
    station = rows[g["stn"]].text
    assert all(f"#{i} " in station for i in ids[:3]) and f"#{ids[3]} " not in station
    assert "偷采" not in station and f"#{ids[2]} 举报｜" in station  # tips never echo their text
    assert all("偷采" not in r.text for r in outbox(database))


def test_monthly_report_push_and_manual_run_share_the_key(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    with database.sessions.begin() as s:
        file_report(s, village="王家沟村", created_at=datetime(2026, 5, 10, 2, 0, tzinfo=UTC))
    now = local(2026, 6, 3, 9, 0)
    assert jobs.run_monthly_report(context(database, cal), "2026-05", now) == 1
    assert jobs.run_calendar(context(database, cal), now) == 0  # the calendar's own run finds the key taken
    reports = [r for r in outbox(database) if r.event == "monthly_progress_report"]
    assert len(reports) == 1 and reports[0].group_id == groups["lead"].id
    assert reports[0].dedup_key == f"monthly_progress_report:2026-06-03:{groups['lead'].id}"
    assert "2026年5月" in reports[0].text and "新登记隐患 1 项" in reports[0].text
    assert reports[0].image is not None and reports[0].image.startswith(b"\x89PNG")  # the chart rides along


def test_weekly_digest(database: Database, groups: dict[str, Group], cal: Calendar) -> None:
    now = local(2026, 6, 8, 9, 0)
    with database.sessions.begin() as s:
        late = file_report(
            s, village="王家沟村", created_at=now - timedelta(days=40), deadline=now - timedelta(days=10)
        )
        soon = file_report(
            s, village="庙坪村", created_at=now - timedelta(days=3), deadline=now + timedelta(days=2)
        )
        file_report(
            s, village="庙坪村", created_at=now - timedelta(days=3), deadline=now + timedelta(days=20)
        )
    assert jobs.run_weekly_digest(context(database, cal), date(2026, 6, 8), now) == 2
    assert jobs.run_weekly_digest(context(database, cal), date(2026, 6, 8), now) == 0
    texts = [r.text for r in outbox(database) if r.event == "weekly_digest"]
    assert len(texts) == 2
    assert all("未整改 3 项，其中逾期 1 项、7天内到期 1 项" in t for t in texts)
    assert all(f"#{late.id} " in t and f"#{soon.id} " in t for t in texts)


def test_inactive_and_unknown_groups_get_nothing(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    run(database, cal, local(2026, 6, 1, 9, 0))
    with database.sessions() as s:
        n = s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.group_id == groups["old"].id))
    assert n == 0


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 6, 1, 8, 29), False),  # not yet
        (local(2026, 6, 1, 8, 30), True),
        (local(2026, 6, 1, 11, 0), True),  # down at 08:30, back at 11:00: run once now
        (local(2026, 6, 1, 20, 29), True),
        (local(2026, 6, 1, 20, 30), False),  # more than 12 hours late
        (local(2026, 6, 2, 2, 0), False),  # never yesterday's run in the night
        (datetime(2026, 6, 1, 3, 0, tzinfo=UTC), True),  # 11:00 in the township, whatever the clock's zone
    ],
)
def test_missed_daily_run_is_caught_up_within_the_window(now: datetime, expected: bool) -> None:
    assert jobs.missed_today(time(8, 30), now, TZ, 12) is expected


def test_chat_replies_and_pushes_use_the_same_words(
    database: Database, classifier: Classifier, profile: Profile, clock: Clock, tmp_path: Path
) -> None:
    """One wording file names categories and statuses for /清单 and for the calendar's pushes alike."""
    override = tmp_path / "texts.toml"
    override.write_text(
        '[categories]\nbuilding = "窑洞房屋"\n[statuses]\nreported = "等待核实"\n', encoding="utf-8"
    )
    texts = Texts.load(override)
    router = Router(make_core(database, classifier, texts, profile, clock))
    router.dispatch(group_msg("收到", chat="-1", title="王家沟村民群"))  # the village group registers itself
    with database.sessions.begin() as s:
        hazard = file_report(
            s, severity="major", village="王家沟村", location="东头窑洞", created_at=local(2026, 5, 20, 9, 0)
        ).id
    (reply,) = router.dispatch(group_msg("/清单 王家沟村", chat="-1", title="王家沟村民群")).replies
    assert f"#{hazard} 【重大】窑洞房屋｜东头窑洞｜等待核实｜" in reply.text

    calendar = load_calendar(labels=texts.labels(*SHARED_LABELS))
    run(database, calendar, local(2026, 6, 5, 9, 0))  # the month's major hazard list
    (listing,) = [r.text for r in outbox(database) if r.event == "monthly_major_hazard_list"]
    assert f"#{hazard} 东头窑洞｜窑洞房屋｜等待核实｜" in listing
    with database.sessions() as s:
        report = build_monthly_report(s, "2026-05", TZ, now=local(2026, 6, 3, 9, 0))
    assert "窑洞房屋：1/0/1/0" in render_text(report, calendar)
    assert "房屋建筑" not in reply.text + listing + render_text(report, calendar)
