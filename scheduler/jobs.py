"""Job functions the scheduler runs in the bot's own process: idempotent, and they never send.

Every ``run_*`` function takes a ``JobContext`` handed over by the running app (its session factory, calendar and
time zone; never a database URL), opens its own transaction and writes outbox rows whose unique dedup key is
``<event>:<date>:<group id>``. A second run (a restart, a catch-up, a second instance) writes nothing new.

The ``enqueue_*`` functions hold the logic; they take a session and never commit, so tests call them directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from scheduler import deadlines as deadline_logic
from scheduler.calendar import Calendar, Push
from scheduler.monthly_report import (
    MonthlyReport,
    build_monthly_report,
    parse_month,
    png_bytes,
    previous_month,
    render_text,
)
from storage import pushes
from storage.groups import list_groups
from storage.models import Group, Report
from storage.outbox import enqueue_to_group

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What the jobs need from the running app: its session factory, the loaded calendar and the time zone."""

    sessions: sessionmaker[Session] = field(repr=False)
    calendar: Calendar = field(repr=False)
    tz: ZoneInfo


def missed_today(at: time, now: datetime, tz: ZoneInfo, catch_up_hours: int) -> bool:
    """Whether a daily run at ``at`` has passed today (local date) within the last ``catch_up_hours``.

    A bot started at 11:00 catches up the 08:30 run; one started at 02:00 does not run yesterday's at night.
    """
    local = now.astimezone(tz)
    due = datetime.combine(local.date(), at, tzinfo=tz)
    return due <= local < due + timedelta(hours=catch_up_hours)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"now needs a time zone: {now!r}")
    return now


# ---------------------------------------------------------------------------------------------------------------
# What a builder entry adds to its template


def _major_values(
    session: Session, calendar: Calendar, push: Push, group: Group, tz: ZoneInfo, cache: dict[str, Any]
) -> dict[str, Any] | None:
    if "major" not in cache:
        cache["major"] = pushes.open_major(session)
    reports: list[Report] = cache["major"]
    if group.kind == "village":
        mine = [
            r
            for r in reports
            if not r.anonymous and (r.village == group.unit if group.unit else r.group_id == group.id)
        ]
    elif group.kind == "enterprise":
        unit = group.unit or ""
        mine = [r for r in reports if unit and not r.anonymous and unit in f"{r.location or ''}{r.text}"]
    else:
        mine = [r for r in reports if deadline_logic.visible_in(r, group.kind)]
    if not mine and group.kind in ("village", "enterprise"):
        return None  # nothing for this unit: no message
    lines = [
        calendar.text(
            "major_list_item",
            id=r.id,
            place=deadline_logic.place_of(r, calendar, group.kind),
            category=calendar.label("categories", r.category),
            status=calendar.label("statuses", r.status),
            days=max((push.day - deadline_logic.local_day(r.created_at, tz)).days, 0),
            deadline=calendar.format_date(deadline_logic.local_day(r.deadline, tz)) if r.deadline else "",
        )
        for r in mine
    ]
    listing = deadline_logic.item_list(lines, calendar) if lines else calendar.text("major_list_empty")
    return {"list": listing, "count": len(lines)}


def _report_values(
    session: Session, calendar: Calendar, push: Push, tz: ZoneInfo, cache: dict[str, Any], now: datetime
) -> dict[str, Any]:
    if "report" not in cache:
        month = previous_month(push.day)
        report = build_monthly_report(session, month, tz, now=now)
        year, mon = parse_month(month)
        cache["report"] = {
            "report": render_text(report, calendar),
            "report_month": calendar.text("month", year=year, month=mon),
        }
        cache["chart"] = _chart(report, calendar)
    return cache["report"]


def _chart(report: MonthlyReport, calendar: Calendar) -> bytes | None:
    """The report's chart for platforms that show images; None (text only) if it cannot be drawn."""
    try:
        return png_bytes(report, calendar)
    except Exception:
        log.exception("monthly report chart could not be drawn; sending text only")
        return None


def _digest_values(
    session: Session, calendar: Calendar, group: Group, tz: ZoneInfo, cache: dict[str, Any], now: datetime
) -> dict[str, Any]:
    if "digest" not in cache:
        cache["digest"] = deadline_logic.weekly_digest(session, calendar, now)
    return {"digest": deadline_logic.render_digest(cache["digest"], calendar, tz, group.kind)}


def enqueue_push(session: Session, calendar: Calendar, push: Push, now: datetime, tz: ZoneInfo) -> int:
    """Queue one push for every active target group that does not have it yet; the number of rows written."""
    groups = list_groups(session, kinds=push.entry.targets, active_only=True)
    if not groups:
        return 0
    keys = {g.id: push.dedup_key(g.id) for g in groups}
    existing = pushes.queued_keys(session, keys.values())
    cache: dict[str, Any] = {}
    queued = 0
    for group in groups:
        if keys[group.id] in existing:
            continue
        builder = push.entry.builder
        values: dict[str, Any] | None = {}
        if builder == "major_hazard_list":
            values = _major_values(session, calendar, push, group, tz, cache)
        elif builder == "monthly_report":
            values = _report_values(session, calendar, push, tz, cache, now)
        elif builder == "weekly_digest":
            values = _digest_values(session, calendar, group, tz, cache, now)
        if values is None:
            continue
        queued += enqueue_to_group(
            session,
            group,
            dedup_key=keys[group.id],
            event=push.entry.key,
            text=calendar.render(push, **values),
            image=cache.get("chart") if builder == "monthly_report" else None,
            not_before=min(push.at, now).astimezone(UTC),
        )
    return queued


def enqueue_calendar(session: Session, calendar: Calendar, now: datetime, tz: ZoneInfo) -> int:
    """Make sure every push due today up to ``now`` (within the catch-up window) is queued, once."""
    return sum(enqueue_push(session, calendar, push, now, tz) for push in calendar.due(now, tz))


def push_for(calendar: Calendar, builder: str, day: date, tz: ZoneInfo) -> Push:
    """A push of the calendar's first entry with ``builder``, on ``day`` at the entry's time (for manual runs)."""
    for entry in calendar.entries:
        if entry.builder == builder:
            return Push(datetime.combine(day, entry.at, tzinfo=tz), entry)
    raise LookupError(f"the calendar has no entry with builder {builder!r}")


# ---------------------------------------------------------------------------------------------------------------
# The jobs the scheduler runs (and manual runs)


def run_calendar(context: JobContext, now: datetime | None = None) -> int:
    """Job: queue the calendar's pushes due so far today (idempotent); the number of new outbox rows."""
    with context.sessions.begin() as session:
        return enqueue_calendar(session, context.calendar, _now(now), context.tz)


def run_deadlines(context: JobContext, now: datetime | None = None) -> deadline_logic.DeadlineRun:
    """Job: list overdue hazards (挂牌督办) and notify the leadership; remind villages of coming deadlines."""
    with context.sessions.begin() as session:
        return deadline_logic.run_deadline_checks(session, context.calendar, _now(now), context.tz)


def run_weekly_digest(context: JobContext, day: date, now: datetime | None = None) -> int:
    """Queue the weekly digest dated ``day`` now, whatever the weekday (same dedup key as the calendar's)."""
    push = push_for(context.calendar, "weekly_digest", day, context.tz)
    with context.sessions.begin() as session:
        return enqueue_push(session, context.calendar, push, _now(now), context.tz)


def run_monthly_report(context: JobContext, month: str, now: datetime | None = None) -> int:
    """Queue the progress report for ``month`` (YYYY-MM) to the report entry's targets, once per month.

    The push is dated on the report entry's day in the following month, so a manual run and the calendar's
    own run share the dedup key and the leadership never gets the same month twice.
    """
    calendar, tz = context.calendar, context.tz
    year, mon = parse_month(month)
    first_of_next = date(year + (mon == 12), mon % 12 + 1, 1)
    month_after = date(first_of_next.year + (first_of_next.month == 12), first_of_next.month % 12 + 1, 1)
    push = push_for(calendar, "monthly_report", first_of_next, tz)
    day = next((d for d, _, _ in push.entry.trigger.occurrences(first_of_next, month_after)), first_of_next)
    push = replace(push, at=datetime.combine(day, push.entry.at, tzinfo=tz))
    with context.sessions.begin() as session:
        return enqueue_push(session, calendar, push, _now(now), tz)
