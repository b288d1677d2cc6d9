"""Deadlines: overdue hazards are listed (挂牌督办) once with an event and a notice; villages get reminders."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, select

from bot.app import Database
from handlers.texts import Texts
from scheduler import jobs
from scheduler.calendar import SHARED_LABELS, Calendar, load_calendar
from scheduler.deadlines import (
    escalate_overdue,
    remind_deadlines,
    render_digest,
    run_deadline_checks,
    weekly_digest,
)
from storage.groups import upsert_group
from storage.models import Group, OutboxMessage, Report, ReportEvent
from storage.reports import set_status
from tests.helpers import file_report

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 8, 30, tzinfo=TZ)


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return load_calendar(labels=Texts.load().labels(*SHARED_LABELS))


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
    assert f"#{ledger['tip_overdue']} 庙坪村｜举报｜房屋建筑｜一般隐患｜" in text and "偷采" not in text
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


# ---------------------------------------------------------------------------------------------------------------
# Set-based: the number of statements does not grow with the number of hazards.


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


def _file_many(
    database: Database, count: int, *, filed: datetime, deadline: datetime, spread: bool = True
) -> None:
    """``count`` open hazards in the two villages with groups, every seventh an anonymous tip."""
    with database.sessions.begin() as s:
        for i in range(count):
            tip = i % 7 == 3
            file_report(
                s,
                kind="tip" if tip else "hazard",
                anonymous=tip,
                village=("王家沟村", "庙坪村")[i % 2],
                created_at=filed,
                deadline=deadline - timedelta(minutes=i % 50 if spread else 0),
            )


def test_escalation_is_set_based(database: Database, groups: dict[str, Group], cal: Calendar) -> None:
    """10 or 1,000 overdue hazards: the same statements; each listed once with its event; the notice is cut."""
    counts = []
    for size, now in ((10, NOW), (1000, NOW + timedelta(days=1))):
        _file_many(database, size, filed=now - timedelta(days=40), deadline=now - timedelta(days=2))
        with database.sessions.begin() as s, _Queries(database.engine) as queries:
            listed = escalate_overdue(s, cal, now, TZ)
        assert len(listed) == size and [r.id for r in listed] == sorted(r.id for r in listed)
        counts.append(queries.count)
    assert counts[0] == counts[1] <= 6
    with database.sessions() as s:
        events = list(s.scalars(select(ReportEvent).where(ReportEvent.action == "listed")))
        assert len(events) == 1010 and len({e.report_id for e in events}) == 1010
        assert all(e.actor == "scheduler" and "挂牌督办" in (e.note or "") for e in events)
        assert all(e.at == NOW + timedelta(days=1) for e in events if e.report_id > listed[0].id - 1)
        notice = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.event == "overdue_listed", OutboxMessage.group_id == groups["lead"].id)
            .order_by(OutboxMessage.id.desc())
        ).first()
    assert notice is not None and notice.text.startswith("【挂牌督办】以下 1000 项")
    assert "……另有 960 项" in notice.text and notice.text.count("已逾期") == 40


def test_reminders_are_set_based(database: Database, groups: dict[str, Group], cal: Calendar) -> None:
    """10 or 1,000 hazards due in three days: the same statements, one reminder per village group."""
    counts = []
    for size, now in ((10, NOW), (1000, NOW + timedelta(days=1))):
        _file_many(database, size, filed=now - timedelta(days=20), deadline=now + timedelta(days=3, hours=1))
        with database.sessions.begin() as s, _Queries(database.engine) as queries:
            reminded = remind_deadlines(s, cal, now, TZ)
        public = [i for i in range(size) if i % 7 != 3]
        assert sum(len(v) for v in reminded.values()) == len(public)
        assert set(reminded) == {groups["wjg"].id, groups["mp"].id}
        counts.append(queries.count)
    assert counts[0] == counts[1] <= 5
    with database.sessions() as s:
        wjg = s.scalar(
            select(OutboxMessage).where(
                OutboxMessage.dedup_key == f"deadline_reminder:2026-06-11:{groups['wjg'].id}"
            )
        )
    assert wjg is not None and "……另有" in wjg.text and wjg.text.count("还剩3天") == 40


def test_digest_counts_in_sql_and_lists_the_first(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    """10 or 1,000 overdue hazards: the same statements; counts cover all, the list its first 40, tips hidden."""
    counts = []
    for size in (10, 1000):
        _file_many(database, size, filed=NOW - timedelta(days=40), deadline=NOW - timedelta(days=1))
        with database.sessions() as s, _Queries(database.engine) as queries:
            digest = weekly_digest(s, cal, NOW)
        counts.append(queries.count)
    assert counts[0] == counts[1] <= 8
    assert digest.open == 1010 and digest.overdue_count == 1010 and digest.due_soon_count == 0
    tips = sum(1 for i in range(10) if i % 7 == 3) + sum(1 for i in range(1000) if i % 7 == 3)
    assert digest.overdue_public == 1010 - tips
    village_text = render_digest(digest, cal, TZ, "village")
    station_text = render_digest(digest, cal, TZ, "station")
    assert village_text.startswith("未整改 1010 项，其中逾期 1010 项")
    assert f"……另有 {1010 - tips - 40} 项" in village_text and "｜举报｜" not in village_text
    assert "……另有 970 项" in station_text
    # The list is in deadline order: the earliest deadlines first.
    first = [int(line.split()[0][1:]) for line in village_text.splitlines()[2:42]]
    assert first == [r.id for r in digest.overdue if not r.anonymous][:40]


def test_each_listing_note_names_its_own_deadline(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    """The events are written by one INSERT … SELECT, yet each note names that hazard's own deadline date."""
    days = [1, 2, 2, 5, 9, 30]
    with database.sessions.begin() as s:
        ids = {
            file_report(
                s, created_at=NOW - timedelta(days=60), deadline=NOW - timedelta(days=d, hours=3)
            ).id: d
            for d in days
        }
    with database.sessions.begin() as s:
        escalate_overdue(s, cal, NOW, TZ)
    with database.sessions() as s:
        for event_ in s.scalars(select(ReportEvent).where(ReportEvent.action == "listed")):
            day = (NOW - timedelta(days=ids[event_.report_id], hours=3)).date()
            assert event_.note == f"超过整改期限（{day.month}月{day.day}日），挂牌督办"


def test_listing_notes_name_the_township_day_either_side_of_its_midnight(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    """Deadlines a minute either side of the township's midnight (16:00 UTC) get their own day's note."""
    midnight = datetime(2026, 6, 8, tzinfo=TZ)
    deadlines = [
        midnight - timedelta(minutes=1),
        midnight + timedelta(minutes=1),
        datetime(2025, 12, 31, 23, 59, tzinfo=TZ),
    ]
    with database.sessions.begin() as s:
        ids = {file_report(s, created_at=NOW - timedelta(days=200), deadline=d).id: d for d in deadlines}
    with database.sessions.begin() as s:
        assert [i.id for i in escalate_overdue(s, cal, NOW, TZ)] == sorted(ids)
    with database.sessions() as s:
        notes = {
            e.report_id: e.note for e in s.scalars(select(ReportEvent).where(ReportEvent.action == "listed"))
        }
    assert notes == {rid: f"超过整改期限（{d.month}月{d.day}日），挂牌督办" for rid, d in ids.items()}
    assert len(set(notes.values())) == 3  # 6月7日, 6月8日, 12月31日


def test_the_digest_counts_what_awaits_acceptance_and_what_failed_it(
    database: Database, groups: dict[str, Group], cal: Calendar
) -> None:
    with database.sessions.begin() as s:
        file_report(
            s, text="护栏松了", status="rectified", village="王家沟村", deadline=NOW + timedelta(days=3)
        )
        file_report(
            s, text="电线乱", status="rectifying", failed_acceptances=2, deadline=NOW + timedelta(days=9)
        )
        file_report(s, text="举报的", status="rectified", anonymous=True)
    with database.sessions() as s:
        digest = weekly_digest(s, cal, NOW)
    assert (digest.awaiting, digest.failed) == (1, 1)  # anonymous rows are never counted for groups
    assert "已整改待验收 1 项；验收不合格、继续挂账 1 项。" in render_digest(digest, cal, TZ, "village")
