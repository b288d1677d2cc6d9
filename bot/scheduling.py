"""APScheduler 3.x wiring: the campaign calendar and the deadline checks run inside the bot's event loop.

- ``AsyncIOScheduler`` in the township's time zone, jobs persisted by ``SQLAlchemyJobStore`` in the bot's own
  database (table ``apscheduler_jobs``, created by the job store on start; job arguments are pickled, so they
  are plain strings only).
- Fixed job ids with ``replace_existing=True``, ``coalesce=True`` and ``misfire_grace_time`` in hours (the
  calendar's ``catch_up_hours``): a bot that was down at 08:30 and is back at 11:00 runs the missed run once.
  On start the stored next run time is kept (replacing a job would otherwise reset it to the next future time
  and silently drop the missed run); the calendar tick also runs at once, queuing today's missed pushes.
- Job functions are the synchronous ``scheduler.jobs.run_*``: the default AsyncIO executor runs them with
  ``loop.run_in_executor`` in a worker thread, so the event loop never waits on the database.
- Jobs only write outbox rows with unique dedup keys; the delivery loop sends them. Double fires are harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.config import Settings
from scheduler import jobs
from scheduler.calendar import Calendar
from storage.db import make_engine

log = logging.getLogger(__name__)

CALENDAR_JOB_ID = "anquan.calendar"
DEADLINES_JOB_ID = "anquan.deadlines"
JOBS_TABLE = "apscheduler_jobs"
TICK_MINUTES = 5


def calendar_path(settings: Settings, override: str | Path | None = None) -> str | None:
    """The calendar file: ``override``, else ``settings.calendar`` when configured, else None (the bundled one)."""
    path = override or settings.calendar
    return str(Path(path)) if path else None


def load_settings_calendar(settings: Settings, override: str | Path | None = None) -> Calendar:
    """Load and validate the installation's calendar (raises ``scheduler.calendar.CalendarError``)."""
    return jobs.cached_calendar(calendar_path(settings, override))


def build_scheduler(settings: Settings, calendar: Calendar) -> AsyncIOScheduler:
    """A scheduler with the SQLAlchemy job store on ``settings.db_url`` and the job defaults; not started."""
    store = SQLAlchemyJobStore(engine=make_engine(settings.db_url), tablename=JOBS_TABLE)
    return AsyncIOScheduler(
        jobstores={"default": store},
        job_defaults={
            "coalesce": True,
            "misfire_grace_time": calendar.catch_up_hours * 3600,
            "max_instances": 1,
        },
        timezone=settings.tz,
    )


def _next_run(scheduler: AsyncIOScheduler, job_id: str) -> datetime | None:
    job = scheduler.get_job(job_id)
    return job.next_run_time if job is not None else None


def _add(
    scheduler: AsyncIOScheduler,
    job_id: str,
    func: Any,
    trigger: CronTrigger,
    kwargs: dict[str, Any],
    next_run_time: datetime | None,
) -> None:
    options: dict[str, Any] = {}
    if next_run_time is not None:
        options["next_run_time"] = next_run_time
    scheduler.add_job(func, trigger, id=job_id, name=job_id, kwargs=kwargs, replace_existing=True, **options)


def start_scheduler(
    settings: Settings, *, calendar: str | Path | None = None, tick_minutes: int = TICK_MINUTES
) -> AsyncIOScheduler:
    """Validate the calendar, start the scheduler in the running event loop and register the two jobs.

    Call from inside the event loop (``run_bot``). ``calendar`` overrides the calendar file. Raises
    ``CalendarError`` when the calendar file is invalid.
    """
    path = calendar_path(settings, calendar)
    loaded = jobs.cached_calendar(path)
    tz = settings.tz
    scheduler = build_scheduler(settings, loaded)
    scheduler.start(paused=True)  # paused: read what the store kept before replacing the jobs
    kwargs = {"db_url": settings.db_url, "timezone": settings.timezone, "calendar_path": path}
    now = datetime.now(tz)

    stored = _next_run(scheduler, CALENDAR_JOB_ID)
    _add(
        scheduler,
        CALENDAR_JOB_ID,
        jobs.run_calendar,
        CronTrigger(minute=f"*/{tick_minutes}", timezone=tz),
        kwargs,
        min(stored, now) if stored else now,
    )
    at = loaded.deadlines.at
    _add(
        scheduler,
        DEADLINES_JOB_ID,
        jobs.run_deadlines,
        CronTrigger(hour=at.hour, minute=at.minute, timezone=tz),
        kwargs,
        _next_run(scheduler, DEADLINES_JOB_ID),
    )
    scheduler.resume()
    log.info("scheduler started", extra={"jobs": f"{CALENDAR_JOB_ID},{DEADLINES_JOB_ID}"})
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler) -> None:
    """Stop the scheduler (jobs already running in worker threads finish) and release the job engines."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next iteration
    jobs.FACTORIES.dispose()
    log.info("scheduler stopped")
