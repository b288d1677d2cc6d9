"""Job functions for APScheduler: importable, module-level, plain arguments, idempotent; they never send.

Each ``run_*`` function opens its own transaction on ``db_url`` (engines are made on first use and cached per
process in ``FACTORIES``; nothing is connected at import time) and writes outbox rows whose unique dedup key is
``<event>:<date>:<group id>``. A second run (a restart, a misfire catch-up, a second instance) writes nothing new.

The ``enqueue_*`` functions hold the logic; they take a session and never commit, so tests call them directly.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler import deadlines as deadline_logic
from scheduler.calendar import Calendar, Push, load_calendar
from scheduler.monthly_report import (
    MonthlyReport,
    build_monthly_report,
    parse_month,
    png_bytes,
    previous_month,
    render_text,
)
from storage.db import make_engine, make_session_factory
from storage.groups import list_groups
from storage.models import OPEN_STATUSES, Group, OutboxMessage, Report
from storage.outbox import enqueue_to_group

log = logging.getLogger(__name__)


class SessionFactories:
    """Session factories by database URL, made on first use and kept for the life of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factories: dict[str, sessionmaker[Session]] = {}
        self._engines: list[Engine] = []

    def get(self, db_url: str) -> sessionmaker[Session]:
        """The session factory for ``db_url``; the engine is created the first time it is asked for."""
        with self._lock:
            factory = self._factories.get(db_url)
            if factory is None:
                engine = make_engine(db_url)
                self._engines.append(engine)
                factory = self._factories[db_url] = make_session_factory(engine)
            return factory

    def register(self, db_url: str, sessions: sessionmaker[Session]) -> None:
        """Let jobs for ``db_url`` use an existing factory (the bot's own) instead of a second engine."""
        with self._lock:
            self._factories[db_url] = sessions

    def dispose(self) -> None:
        """Forget every factory and dispose of the engines made here (registered ones belong to their owner)."""
        with self._lock:
            for engine in self._engines:
                engine.dispose()
            self._engines.clear()
            self._factories.clear()


FACTORIES = SessionFactories()


@lru_cache(maxsize=8)
def cached_calendar(path: str | None) -> Calendar:
    """The calendar file at ``path`` (bundled when None), loaded and validated once per process."""
    return load_calendar(path)


def _now(now_iso: str | None) -> datetime:
    if not now_iso:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(now_iso)
    if moment.tzinfo is None:
        raise ValueError(f"now_iso needs a UTC offset: {now_iso!r}")
    return moment


# ---------------------------------------------------------------------------------------------------------------
# What a builder entry adds to its template


def _major_values(
    session: Session, calendar: Calendar, push: Push, group: Group, tz: ZoneInfo, cache: dict[str, Any]
) -> dict[str, Any] | None:
    if "major" not in cache:
        cache["major"] = list(
            session.scalars(
                select(Report)
                .where(Report.status.in_(OPEN_STATUSES), Report.severity == "major")
                .order_by(Report.id)
            )
        )
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
    existing = set(
        session.scalars(
            select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(list(keys.values())))
        )
    )
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
# The jobs APScheduler stores and runs (plain arguments only)


def run_calendar(
    db_url: str, timezone: str = "Asia/Shanghai", calendar_path: str | None = None, now_iso: str | None = None
) -> int:
    """Job: queue the calendar's pushes due so far today (idempotent); the number of new outbox rows."""
    tz, calendar, now = ZoneInfo(timezone), cached_calendar(calendar_path), _now(now_iso)
    with FACTORIES.get(db_url).begin() as session:
        return enqueue_calendar(session, calendar, now, tz)


def run_deadlines(
    db_url: str, timezone: str = "Asia/Shanghai", calendar_path: str | None = None, now_iso: str | None = None
) -> deadline_logic.DeadlineRun:
    """Job: list overdue hazards (挂牌督办) and notify the leadership; remind villages of coming deadlines."""
    tz, calendar, now = ZoneInfo(timezone), cached_calendar(calendar_path), _now(now_iso)
    with FACTORIES.get(db_url).begin() as session:
        return deadline_logic.run_deadline_checks(session, calendar, now, tz)


def run_weekly_digest(
    db_url: str,
    day_iso: str,
    timezone: str = "Asia/Shanghai",
    calendar_path: str | None = None,
    now_iso: str | None = None,
) -> int:
    """Queue the weekly digest dated ``day_iso`` now, whatever the weekday (same dedup key as the calendar's)."""
    tz, calendar, now = ZoneInfo(timezone), cached_calendar(calendar_path), _now(now_iso)
    push = push_for(calendar, "weekly_digest", date.fromisoformat(day_iso), tz)
    with FACTORIES.get(db_url).begin() as session:
        return enqueue_push(session, calendar, push, now, tz)


def run_monthly_report(
    db_url: str,
    month: str,
    timezone: str = "Asia/Shanghai",
    calendar_path: str | None = None,
    now_iso: str | None = None,
) -> int:
    """Queue the progress report for ``month`` (YYYY-MM) to the report entry's targets, once per month.

    The push is dated on the report entry's day in the following month, so a manual run and the calendar's
    own run share the dedup key and the leadership never gets the same month twice.
    """
    tz, calendar, now = ZoneInfo(timezone), cached_calendar(calendar_path), _now(now_iso)
    year, mon = parse_month(month)
    first_of_next = date(year + (mon == 12), mon % 12 + 1, 1)
    month_after = date(first_of_next.year + (first_of_next.month == 12), first_of_next.month % 12 + 1, 1)
    push = push_for(calendar, "monthly_report", first_of_next, tz)
    day = next((d for d, _, _ in push.entry.trigger.occurrences(first_of_next, month_after)), first_of_next)
    push = replace(push, at=datetime.combine(day, push.entry.at, tzinfo=tz))
    with FACTORIES.get(db_url).begin() as session:
        return enqueue_push(session, calendar, push, now, tz)
