"""The real AsyncIOScheduler with a SQLAlchemy job store on a SQLite file: fixed jobs, misfires run once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select, text

from bot.app import open_database
from bot.config import Settings
from bot.scheduling import CALENDAR_JOB_ID, DEADLINES_JOB_ID, build_scheduler, start_scheduler, stop_scheduler
from scheduler.calendar import DEFAULT_PATH, load_calendar
from storage.groups import upsert_group
from storage.models import OutboxMessage, ReportEvent
from tests.helpers import file_report

BUNDLED = DEFAULT_PATH.read_text(encoding="utf-8")


def calendar_file(tmp_path: Path, entries: str) -> Path:
    """The bundled calendar's settings and wording with other entries."""
    head = BUNDLED[: BUNDLED.index("\n[[entries]]\n") + 1]
    tail = BUNDLED[BUNDLED.index("\n[texts]\n") + 1 :]
    path = tmp_path / "calendar.toml"
    path.write_text(head + entries + "\n" + tail, encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'bot.db'}", timezone="Asia/Shanghai"
    )


class Recorder:
    """Counts executed, missed and failed runs per job id."""

    def __init__(self, scheduler: AsyncIOScheduler) -> None:
        self.executed: Counter[str] = Counter()
        self.missed: Counter[str] = Counter()
        self.errors: list[BaseException | None] = []
        scheduler.add_listener(self, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)

    def __call__(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_EXECUTED:
            self.executed[event.job_id] += 1
        elif event.code == EVENT_JOB_MISSED:
            self.missed[event.job_id] += 1
        else:
            self.errors.append(event.exception)

    async def wait_for(self, job_id: str, timeout: float = 5.0) -> None:
        for _ in range(int(timeout / 0.02)):
            if self.executed[job_id] or self.errors:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # room for a (wrong) second run to show up
        assert not self.errors, self.errors


async def test_fixed_jobs_and_defaults(settings: Settings, tmp_path: Path) -> None:
    path = calendar_file(
        tmp_path,
        '[[entries]]\nkey = "later"\ntitle = "t"\ntrigger = { date = 2099-01-01 }\n'
        'targets = ["village"]\ntemplate = "x"\n',
    )
    await asyncio.to_thread(open_database, settings)
    for _ in range(2):  # a restart replaces the jobs instead of adding more
        scheduler = start_scheduler(settings, calendar=path)
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert set(jobs) == {CALENDAR_JOB_ID, DEADLINES_JOB_ID}
        for job in jobs.values():
            assert job.coalesce is True and job.misfire_grace_time == 12 * 3600 and job.max_instances == 1
            assert job.func_ref in ("scheduler.jobs:run_calendar", "scheduler.jobs:run_deadlines")
            assert job.kwargs["db_url"] == settings.db_url and job.kwargs["timezone"] == "Asia/Shanghai"
        assert str(jobs[DEADLINES_JOB_ID].trigger) == "cron[hour='8', minute='30']"
        await stop_scheduler(scheduler)
        assert not scheduler.running
    db = open_database(settings)
    with db.engine.connect() as conn:
        ids = sorted(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars())
    db.engine.dispose()
    assert ids == [CALENDAR_JOB_ID, DEADLINES_JOB_ID]


async def test_down_at_the_run_time_and_back_later_runs_once(settings: Settings, tmp_path: Path) -> None:
    """The deadline job was due two hours ago while the bot was down: on start it runs once, not zero or twice."""
    path = calendar_file(
        tmp_path,
        '[[entries]]\nkey = "later"\ntitle = "t"\ntrigger = { date = 2099-01-01 }\n'
        'targets = ["village"]\ntemplate = "x"\n',
    )
    db = await asyncio.to_thread(open_database, settings)
    now = datetime.now(settings.tz)
    with db.sessions.begin() as s:
        upsert_group(s, "telegram", "-5", kind="leadership")
        file_report(
            s,
            category="fire",
            severity="major",
            text="x",
            village="王家沟村",
            created_at=now - timedelta(days=9),
            deadline=now - timedelta(days=2),
        )

    scheduler = start_scheduler(settings, calendar=path)  # first life of the bot
    await stop_scheduler(scheduler)

    # While the bot is down, its 08:30 run passes: the store still holds a run time two hours ago.
    store_view = build_scheduler(settings, load_calendar(path))
    store_view.start(paused=True)
    store_view.modify_job(DEADLINES_JOB_ID, next_run_time=now - timedelta(hours=2))
    store_view.shutdown(wait=False)
    await asyncio.sleep(0)

    scheduler = start_scheduler(settings, calendar=path)  # back at "11:00"
    recorder = Recorder(scheduler)
    await recorder.wait_for(DEADLINES_JOB_ID)
    assert recorder.executed[DEADLINES_JOB_ID] == 1 and recorder.missed[DEADLINES_JOB_ID] == 0
    job = scheduler.get_job(DEADLINES_JOB_ID)
    assert job is not None and job.next_run_time > datetime.now(settings.tz)
    await stop_scheduler(scheduler)

    with db.sessions() as s:
        listed = list(s.scalars(select(ReportEvent).where(ReportEvent.action == "listed")))
        notices = list(s.scalars(select(OutboxMessage).where(OutboxMessage.event == "overdue_listed")))
    assert len(listed) == 1 and len(notices) == 1
    db.engine.dispose()


async def test_todays_missed_push_is_sent_once_across_restarts(settings: Settings, tmp_path: Path) -> None:
    now = datetime.now(settings.tz)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    push_at = max(midnight, now - timedelta(hours=2))
    entries = (
        f'[[entries]]\nkey = "morning_check"\ntitle = "早间提醒"\ntrigger = {{ daily = true }}\n'
        f'time = "{push_at:%H:%M}"\ntargets = ["village"]\ntemplate = "{{date}}请检查"\n'
    )
    path = calendar_file(tmp_path, entries)
    db = await asyncio.to_thread(open_database, settings)
    with db.sessions.begin() as s:
        village = upsert_group(s, "telegram", "-1", kind="village", unit="王家沟村")
        upsert_group(s, "telegram", "-5", kind="leadership")
        village_id = village.id

    for _ in range(2):  # started after the push time, then restarted
        scheduler = start_scheduler(settings, calendar=path)
        recorder = Recorder(scheduler)
        await recorder.wait_for(CALENDAR_JOB_ID)
        assert recorder.executed[CALENDAR_JOB_ID] == 1
        await stop_scheduler(scheduler)

    with db.sessions() as s:
        rows = list(s.scalars(select(OutboxMessage)))
    assert [(r.event, r.group_id) for r in rows] == [("morning_check", village_id)]
    assert rows[0].dedup_key == f"morning_check:{now.date().isoformat()}:{village_id}"
    assert rows[0].text == f"{now.month}月{now.day}日请检查"
    db.engine.dispose()


async def test_invalid_calendar_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    from scheduler.calendar import CalendarError

    path = calendar_file(
        tmp_path,
        '[[entries]]\nkey = "bad"\ntitle = "t"\ntrigger = { holiday = "圣诞" }\n'
        'targets = ["village"]\ntemplate = "x"\n',
    )
    with pytest.raises(CalendarError, match="圣诞"):
        start_scheduler(settings, calendar=path)
