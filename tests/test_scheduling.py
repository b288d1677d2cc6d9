"""The real AsyncIOScheduler with the in-memory job store on a SQLite database: fixed jobs, missed runs caught up once,
no pickles read from the database and no credentials in job arguments."""

from __future__ import annotations

import asyncio
import os
import pickle
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import PickleType, inspect, select, text

from bot.app import open_database
from bot.config import Settings
from bot.datafiles import resolve
from bot.scheduling import (
    CALENDAR_JOB_ID,
    DEADLINES_JOB_ID,
    start_scheduler,
    stop_scheduler,
)
from handlers.texts import Texts
from scheduler.calendar import DEFAULT_PATH, load_calendar
from scheduler.jobs import run_calendar, run_deadlines
from storage.db import make_engine
from storage.groups import upsert_group
from storage.models import Base, OutboxMessage, ReportEvent
from tests.helpers import file_report

BUNDLED = DEFAULT_PATH.read_text(encoding="utf-8")
TEXTS = Texts.load()


LATER = (
    '[[entries]]\nkey = "later"\ntitle = "t"\ntrigger = { date = 2099-01-01 }\n'
    'targets = ["village"]\ntemplate = "x"\n'
)


def calendar_file(tmp_path: Path, entries: str, deadlines_at: time | None = None) -> Path:
    """The bundled calendar's settings and wording with other entries (and another deadline run time)."""
    head = BUNDLED[: BUNDLED.index("\n[[entries]]\n") + 1]
    tail = BUNDLED[BUNDLED.index("\n[texts]\n") + 1 :]
    if deadlines_at is not None:
        assert head.count('[deadlines]\ntime = "08:30"') == 1
        head = head.replace('[deadlines]\ntime = "08:30"', f'[deadlines]\ntime = "{deadlines_at:%H:%M}"')
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


class Bait:
    """A pickle that creates a directory when it is loaded: what an attacker plants for a job store to read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.path),))


def plant_pickled_jobs(settings: Settings, bait: Path) -> None:
    """A row in APScheduler 3's own table layout, due long ago, whose job state runs code when unpickled."""
    engine = make_engine(settings.db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS apscheduler_jobs "
                "(id VARCHAR(191) PRIMARY KEY, next_run_time FLOAT, job_state BLOB NOT NULL)"
            )
        )
        for job_id in (CALENDAR_JOB_ID, DEADLINES_JOB_ID, "planted"):
            conn.execute(
                text("INSERT INTO apscheduler_jobs VALUES (:id, :t, :s)"),
                {"id": job_id, "t": 0.0, "s": pickle.dumps(Bait(bait))},
            )
    engine.dispose()


def today_at(now: datetime, delta: timedelta) -> time:
    """The local time ``delta`` from ``now`` to the minute (as a calendar file says it), kept within today."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    moment = min(max(midnight, now + delta), midnight + timedelta(hours=23, minutes=59))
    return time(moment.hour, moment.minute)


async def test_fixed_jobs_and_defaults(tmp_path: Path) -> None:
    password = "s3cret-pw"
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql+psycopg://anquan:{password}@db.example/anquan",
        timezone="Asia/Shanghai",
    )
    db = open_database(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'bot.db'}"))
    path = calendar_file(tmp_path, LATER)
    for _ in range(2):  # a restart adds the same two jobs again, nothing more
        scheduler = start_scheduler(settings, db.sessions, load_calendar(path), TEXTS)
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert set(jobs) == {CALENDAR_JOB_ID, DEADLINES_JOB_ID}
        for job in jobs.values():
            assert job.coalesce is True and job.misfire_grace_time == 12 * 3600 and job.max_instances == 1
            # The job closes over the bot's own session factory and calendar: no URL, no file name, no arguments.
            assert job.func.func in (run_calendar, run_deadlines) and job.args == () and job.kwargs == {}
            context = job.func.args[0]
            assert context.sessions is db.sessions and context.calendar.entry("later").template == "x"
            shown = repr(job.args) + repr(job.kwargs) + str(job) + repr(job.func)
            assert password not in shown and "db.example" not in shown and "sqlite" not in shown
        assert str(jobs[DEADLINES_JOB_ID].trigger) == "cron[hour='8', minute='30']"
        await stop_scheduler(scheduler)
        assert not scheduler.running
    assert "apscheduler_jobs" not in inspect(db.engine).get_table_names()
    db.engine.dispose()


async def test_down_at_the_run_time_and_back_later_runs_once(settings: Settings, tmp_path: Path) -> None:
    """The deadline run was due two hours ago while the bot was down: it runs at start, and a restart adds nothing."""
    now = datetime.now(settings.tz)
    path = calendar_file(tmp_path, LATER, deadlines_at=today_at(now, -timedelta(hours=2)))
    db = await asyncio.to_thread(open_database, settings)
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

    for _ in range(2):  # back at "11:00", then restarted mid-day
        scheduler = start_scheduler(settings, db.sessions, load_calendar(path), TEXTS)
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


async def test_deadline_run_still_ahead_today_waits_for_its_time(settings: Settings, tmp_path: Path) -> None:
    now = datetime.now(settings.tz)
    ahead = today_at(now, timedelta(hours=2))
    if ahead <= now.time():
        pytest.skip("too close to midnight for a run later today")
    path = calendar_file(tmp_path, LATER, deadlines_at=ahead)
    db = await asyncio.to_thread(open_database, settings)
    scheduler = start_scheduler(settings, db.sessions, load_calendar(path), TEXTS)
    recorder = Recorder(scheduler)
    await recorder.wait_for(CALENDAR_JOB_ID)
    assert recorder.executed[DEADLINES_JOB_ID] == 0
    job = scheduler.get_job(DEADLINES_JOB_ID)
    assert job is not None and job.next_run_time.time() == ahead
    await stop_scheduler(scheduler)
    db.engine.dispose()


async def test_pickled_rows_in_the_database_are_never_loaded(settings: Settings, tmp_path: Path) -> None:
    """Rows planted in APScheduler's old table, before an upgrade or while the bot runs, never run as code."""
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Bait(control)))  # the bait is live: loading it runs code
    assert control.is_dir()

    bait = tmp_path / "pwned"
    plant_pickled_jobs(settings, bait)  # an old installation's table, or one planted before the upgrade
    db = await asyncio.to_thread(open_database, settings)
    assert "apscheduler_jobs" not in inspect(db.engine).get_table_names()  # the migration dropped it

    plant_pickled_jobs(settings, bait)  # planted again while the bot runs
    path = calendar_file(
        tmp_path, LATER, deadlines_at=today_at(datetime.now(settings.tz), -timedelta(hours=1))
    )
    for _ in range(2):
        scheduler = start_scheduler(settings, db.sessions, load_calendar(path), TEXTS)
        recorder = Recorder(scheduler)
        await recorder.wait_for(CALENDAR_JOB_ID)
        await recorder.wait_for(DEADLINES_JOB_ID)
        assert set(recorder.executed) == {CALENDAR_JOB_ID, DEADLINES_JOB_ID}
        assert {j.id for j in scheduler.get_jobs()} == {CALENDAR_JOB_ID, DEADLINES_JOB_ID}
        await stop_scheduler(scheduler)
    assert not bait.exists()
    with db.engine.connect() as conn:  # untouched: nothing read it, nothing removed the "failed" rows
        assert conn.execute(text("SELECT count(*) FROM apscheduler_jobs")).scalar() == 3
    db.engine.dispose()


def test_no_table_stores_pickles() -> None:
    pickled = [
        f"{t.name}.{c.name}"
        for t in Base.metadata.tables.values()
        for c in t.columns
        if isinstance(c.type, PickleType)
    ]
    assert pickled == []


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
        scheduler = start_scheduler(settings, db.sessions, load_calendar(path), TEXTS)
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


def test_invalid_calendar_is_refused_when_loaded(settings: Settings, tmp_path: Path) -> None:
    from scheduler.calendar import CalendarError

    path = calendar_file(
        tmp_path,
        '[[entries]]\nkey = "bad"\ntitle = "t"\ntrigger = { holiday = "圣诞" }\n'
        'targets = ["village"]\ntemplate = "x"\n',
    )
    with pytest.raises(CalendarError, match="圣诞"):
        resolve(settings, calendar=path).load_calendar()


async def test_the_jobs_speak_the_bots_wording(settings: Settings, tmp_path: Path) -> None:
    """A township that renames a category in its wording file sees the new name in chat and in the pushes."""
    override = tmp_path / "texts.toml"
    override.write_text('[categories]\nfire = "火情隐患"\n[severities]\nmajor = "特大"\n', encoding="utf-8")
    texts = Texts.load(override)
    now = datetime.now(settings.tz)
    path = calendar_file(tmp_path, LATER, deadlines_at=today_at(now, -timedelta(hours=1)))
    db = await asyncio.to_thread(open_database, settings)
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
    scheduler = start_scheduler(settings, db.sessions, load_calendar(path), texts)
    recorder = Recorder(scheduler)
    await recorder.wait_for(DEADLINES_JOB_ID)
    await stop_scheduler(scheduler)
    with db.sessions() as s:
        notice = s.scalars(select(OutboxMessage).where(OutboxMessage.event == "overdue_listed")).one()
    assert "｜火情隐患｜特大｜" in notice.text
    db.engine.dispose()
