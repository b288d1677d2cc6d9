"""APScheduler 3.x wiring: the campaign calendar and the deadline checks run inside the bot's event loop.

- ``AsyncIOScheduler`` in the township's time zone with the in-memory job store only: nothing about the jobs is
  stored in any database, so nothing is ever unpickled from one. The two jobs are re-added at every start with
  fixed ids; they get the bot's session factory, calendar and time zone from a ``JobContext`` (never a URL).
- Missed runs are caught up through the calendar and the outbox's dedup keys, not through stored run times:
  at start the calendar tick runs at once and queues today's pushes whose time passed within the calendar's
  ``catch_up_hours``; the deadline checks run at once if today's run time passed within that window.
- Job functions are the synchronous ``scheduler.jobs.run_*``: the default AsyncIO executor runs them with
  ``loop.run_in_executor`` in a worker thread, so the event loop never waits on the database.
- Jobs only write outbox rows with unique dedup keys; the delivery loop sends them. Double fires are harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from scheduler import jobs
from scheduler.calendar import Calendar, load_calendar

log = logging.getLogger(__name__)

CALENDAR_JOB_ID = "anquan.calendar"
DEADLINES_JOB_ID = "anquan.deadlines"
TICK_MINUTES = 5


def calendar_path(settings: Settings, override: str | Path | None = None) -> str | None:
    """The calendar file: ``override``, else ``settings.calendar`` when configured, else None (the bundled one)."""
    path = override or settings.calendar
    return str(Path(path)) if path else None


def load_settings_calendar(settings: Settings, override: str | Path | None = None) -> Calendar:
    """Load and validate the installation's calendar (raises ``scheduler.calendar.CalendarError``)."""
    return load_calendar(calendar_path(settings, override))


def build_scheduler(settings: Settings, calendar: Calendar) -> AsyncIOScheduler:
    """A scheduler with only the in-memory job store and the job defaults; not started."""
    return AsyncIOScheduler(
        jobstores={"default": MemoryJobStore()},
        job_defaults={
            "coalesce": True,
            "misfire_grace_time": calendar.catch_up_hours * 3600,
            "max_instances": 1,
        },
        timezone=settings.tz,
    )


def start_scheduler(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    calendar: str | Path | None = None,
    tick_minutes: int = TICK_MINUTES,
) -> AsyncIOScheduler:
    """Validate the calendar, start the scheduler in the running event loop and add the two jobs.

    Call from inside the event loop (``run_bot``); the jobs use ``sessions``, the bot's own session factory.
    ``calendar`` overrides the calendar file. Raises ``CalendarError`` when the calendar file is invalid.
    """
    loaded = load_settings_calendar(settings, calendar)
    tz = settings.tz
    context = jobs.JobContext(sessions=sessions, calendar=loaded, tz=tz)
    scheduler = build_scheduler(settings, loaded)
    scheduler.start()
    now = datetime.now(tz)
    scheduler.add_job(
        jobs.run_calendar,
        CronTrigger(minute=f"*/{tick_minutes}", timezone=tz),
        args=(context,),
        id=CALENDAR_JOB_ID,
        name=CALENDAR_JOB_ID,
        next_run_time=now,  # catch up today's missed pushes at once
    )
    at = loaded.deadlines.at
    catch_up = jobs.missed_today(at, now, tz, loaded.catch_up_hours)
    scheduler.add_job(
        jobs.run_deadlines,
        CronTrigger(hour=at.hour, minute=at.minute, timezone=tz),
        args=(context,),
        id=DEADLINES_JOB_ID,
        name=DEADLINES_JOB_ID,
        **({"next_run_time": now} if catch_up else {}),
    )
    log.info("scheduler started", extra={"jobs": f"{CALENDAR_JOB_ID},{DEADLINES_JOB_ID}"})
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler) -> None:
    """Stop the scheduler; jobs already running in worker threads finish on their own."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next iteration
    log.info("scheduler stopped")
