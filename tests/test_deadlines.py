"""Deadlines: overdue hazards are listed (挂牌督办) once with an event and a notice; villages get reminders."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import Database
from scheduler import jobs
from scheduler.calendar import Calendar, load_calendar
from scheduler.deadlines import escalate_overdue, remind_deadlines, run_deadline_checks, weekly_digest
from storage.groups import upsert_group
from storage.models import Group, OutboxMessage, Report, ReportEvent
from storage.reports import set_status
from tests.helpers import file_report

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 8, 30, tzinfo=TZ)


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return load_calendar()


@pytest.fixture
def groups(database: Database) -> dict[str, Group]:
    with database.sessions.begin() as s:
        return {
            "wjg": upsert_group(s, "telegram", "-1", kind="village", unit="王家沟村"),
            "mp": upsert_group(s, "telegram", "-2", kind="village", unit="庙坪村"),
            "stn": upsert_group(s, "telegram", "-4", kind="station", unit="应急管理站"),
            "lead": upsert_group(s, "telegram", "-5", kind="leadership"),
            "lead2": upsert_group(s, "wechaty", "r5", kind="leadership"),
        }


@pytest.fixture
def ledger(database: Database, groups: dict[str, Group]) -> dict[str, int]:
    """A ledger with one report per case, filed a month ago."""
    filed = NOW - timedelta(days=30)

    def file(s, **fields):
        return file_report(s, **{"text": "窑洞裂缝", "created_at": filed, "village": "王家沟村", **fields})

    with database.sessions.begin() as s:
        r = {
            "overdue": file(s, deadline=NOW - timedelta(days=2), location="王家沟村东头"),
            "overdue_major": file(s, severity="major", deadline=NOW - timedelta(hours=1), village="庙坪村"),
            "rectified_late": file(s, deadline=NOW - timedelta(days=5)),
            "already_listed": file(s, deadline=NOW - timedelta(days=9), listed_at=NOW - timedelta(days=8)),
            "tip_overdue": file(
                s,
                kind="tip",
                anonymous=True,
                text="后沟煤窑偷采",
                village="庙坪村",
                deadline=NOW - timedelta(days=1),
            ),
            "due_in_3": file(s, deadline=NOW + timedelta(days=3)),
            "due_in_2": file(s, deadline=NOW + timedelta(days=2)),
            "due_in_1": file(s, deadline=NOW + timedelta(days=1), village="庙坪村"),
            "tip_due_in_1": file(
                s, kind="tip", anonymous=True, text="偷偷开采", deadline=NOW + timedelta(days=1)
            ),
            "rejected_due": file(s, deadline=NOW + timedelta(days=3)),
            "no_deadline": file(s),
        }
        set_status(s, r["rectified_late"], "rectified", "official:1", now=NOW - timedelta(days=1))
        set_status(s, r["rejected_due"], "rejected", "official:1", now=NOW - timedelta(days=1))
        return {k: v.id for k, v in r.items()}


def test_overdue_hazards_are_listed_once(
    database: Database, groups: dict[str, Group], ledger: dict[str, int], cal: Calendar
) -> None:
    with database.sessions.begin() as s:
        listed = [r.id for r in escalate_overdue(s, cal, NOW, TZ)]
    assert listed == [ledger["overdue"], ledger["overdue_major"], ledger["tip_overdue"]]
    with database.sessions() as s:
        for rid in listed:
            report = s.get(Report, rid)
            assert report is not None and report.listed_at == NOW
            events = s.scalars(
                select(ReportEvent).where(ReportEvent.report_id == rid, ReportEvent.action == "listed")
            )
            ev = list(events)
            assert len(ev) == 1 and ev[0].actor == "scheduler" and "挂牌督办" in (ev[0].note or "")
        notices = list(s.scalars(select(OutboxMessage).where(OutboxMessage.event == "overdue_listed")))
    assert {n.group_id for n in notices} == {groups["lead"].id, groups["lead2"].id}
    text = notices[0].text
    assert text.startswith("【挂牌督办】以下 3 项")
    assert f"#{ledger['overdue']} 王家沟村｜王家沟村东头" in text and "已逾期2天" in text
    assert f"#{ledger['tip_overdue']} 庙坪村｜内部举报" in text and "偷采" not in text
    assert f"#{ledger['already_listed']} " not in text and f"#{ledger['rectified_late']} " not in text
    # A second run the same day (restart, second instance) lists nothing and queues nothing.
    with database.sessions.begin() as s:
        assert escalate_overdue(s, cal, NOW + timedelta(hours=3), TZ) == []
    with database.sessions() as s:
        assert len(list(s.scalars(select(OutboxMessage)))) == 2
        assert len(list(s.scalars(select(ReportEvent).where(ReportEvent.action == "listed")))) == 3


def test_reminders_before_the_deadline(
    database: Database, groups: dict[str, Group], ledger: dict[str, int], cal: Calendar
) -> None:
    with database.sessions.begin() as s:
        reminded = remind_deadlines(s, cal, NOW, TZ)
    assert reminded == {groups["wjg"].id: [ledger["due_in_3"]], groups["mp"].id: [ledger["due_in_1"]]}
    with database.sessions.begin() as s:
        assert remind_deadlines(s, cal, NOW + timedelta(hours=5), TZ) == reminded  # same day: same keys
    with database.sessions() as s:
        rows = {r.group_id: r for r in s.scalars(select(OutboxMessage))}
    assert len(rows) == 2
    wjg, mp = rows[groups["wjg"].id], rows[groups["mp"].id]
    assert wjg.dedup_key == f"deadline_reminder:2026-06-10:{groups['wjg'].id}"
    assert mp.dedup_key == f"deadline_reminder:2026-06-10:{groups['mp'].id}"
    assert "还剩3天" in wjg.text and "偷偷开采" not in wjg.text and "还剩1天" in mp.text
    # Two days later the one due in 3 days is due in 1: a new reminder.
    with database.sessions.begin() as s:
        later = remind_deadlines(s, cal, NOW + timedelta(days=2), TZ)
    assert later == {groups["wjg"].id: [ledger["due_in_3"]]}


def test_reminder_falls_back_to_the_filing_group(database: Database, cal: Calendar) -> None:
    with database.sessions.begin() as s:
        g = upsert_group(s, "telegram", "-9", kind="village")  # no unit configured
        r = file_report(
            s,
            category="fire",
            severity="general",
            text="x",
            group_id=g.id,
            created_at=NOW - timedelta(days=5),
            deadline=NOW + timedelta(days=1),
        )
        gid, rid = g.id, r.id
    with database.sessions.begin() as s:
        assert remind_deadlines(s, cal, NOW, TZ) == {gid: [rid]}


def test_daily_job_and_digest(
    database: Database, groups: dict[str, Group], ledger: dict[str, int], cal: Calendar
) -> None:
    context = jobs.JobContext(sessions=database.sessions, calendar=cal, tz=TZ)
    result = jobs.run_deadlines(context, NOW)
    assert len(result.listed) == 3 and len(result.reminded) == 2
    again = jobs.run_deadlines(context, NOW + timedelta(minutes=1))
    assert again.listed == []
    with database.sessions() as s:
        digest = weekly_digest(s, cal, NOW)
        assert digest.open == 9  # 11 filed, one rectified, one rejected
        assert [r.id for r in digest.overdue] == [
            ledger["already_listed"],
            ledger["overdue"],
            ledger["tip_overdue"],
            ledger["overdue_major"],
        ]
        assert {r.id for r in digest.due_soon} == {
            ledger["due_in_1"],
            ledger["tip_due_in_1"],
            ledger["due_in_2"],
            ledger["due_in_3"],
        }
        assert digest.new == 0 and digest.rectified == 1
    with database.sessions.begin() as s:
        run = run_deadline_checks(s, cal, NOW + timedelta(days=1, hours=1), TZ)
    assert run.listed == [ledger["due_in_1"], ledger["tip_due_in_1"]]


def test_rectified_before_deadline_is_never_listed(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    with database.sessions.begin() as s:
        r = file_report(
            s,
            category="fire",
            severity="major",
            text="x",
            village="王家沟村",
            created_at=NOW - timedelta(days=8),
            deadline=NOW - timedelta(days=1),
        )
        set_status(s, r, "rectified", "official:1", now=NOW - timedelta(days=2))
    with database.sessions.begin() as s:
        assert escalate_overdue(s, cal, NOW, TZ) == []
