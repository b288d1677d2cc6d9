"""APScheduler 3.x wiring: the campaign calendar and the deadline checks run inside the bot's event loop.

- ``AsyncIOScheduler`` in the township's time zone with the in-memory job store only: nothing about the jobs is
  stored in any database, so nothing is ever unpickled from one. The two jobs are re-added at every start with
  fixed ids; they close over the running bot's session factory, loaded calendar and time zone (a ``JobContext``),
  so no database URL or file name is handed to a job.
- Missed runs are caught up through the calendar and the outbox's dedup keys, not through stored run times:
  at start the calendar tick runs at once and queues today's pushes whose time passed within the calendar's
  ``catch_up_hours``; the deadline checks run at once if today's run time passed within that window.
- Job functions are the synchronous ``scheduler.jobs.run_*``: the default AsyncIO executor runs them with
  ``loop.run_in_executor`` in a worker thread, so the event loop never waits on the database.
- Jobs only write outbox rows with unique dedup keys; the delivery loop sends them. Double fires are harmless.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from handlers.texts import Texts
from scheduler import jobs
from scheduler.calendar import SHARED_LABELS, Calendar

log = logging.getLogger(__name__)

CALENDAR_JOB_ID = "anquan.calendar"
DEADLINES_JOB_ID = "anquan.deadlines"
TICK_MINUTES = 5


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
    calendar: Calendar,
    texts: Texts,
    *,
    tick_minutes: int = TICK_MINUTES,
) -> AsyncIOScheduler:
    """Start the scheduler in the running event loop and add the two jobs.

    Call from inside the event loop (``run_bot``) with the bot's own session factory, the calendar it loaded and
    its wording; the jobs close over them, and their pushes name categories, statuses ... as the chat replies do.
    """
    tz = settings.tz
    calendar = calendar.with_labels(texts.labels(*SHARED_LABELS))
    context = jobs.JobContext(sessions=sessions, calendar=calendar, tz=tz)
    scheduler = build_scheduler(settings, calendar)
    scheduler.start()
    now = datetime.now(tz)
    scheduler.add_job(
        functools.partial(jobs.run_calendar, context),
        CronTrigger(minute=f"*/{tick_minutes}", timezone=tz),
        id=CALENDAR_JOB_ID,
        name=CALENDAR_JOB_ID,
        next_run_time=now,  # catch up today's missed pushes at once
    )
    at = calendar.deadlines.at
    catch_up = jobs.missed_today(at, now, tz, calendar.catch_up_hours)
    scheduler.add_job(
        functools.partial(jobs.run_deadlines, context),
        CronTrigger(hour=at.hour, minute=at.minute, timezone=tz),
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
