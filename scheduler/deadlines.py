"""Rectification deadlines: reminders before, public listing (挂牌督办) after, and the weekly digest.

All functions take a session and never commit; ``scheduler.jobs`` owns the transaction. Every push goes to the
outbox with a dedup key, so running a job twice on the same day queues nothing new. Anonymous tips are counted
but never itemised in village or enterprise groups, and their text never appears in any push.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from scheduler.calendar import Calendar
from storage.groups import list_groups
from storage.models import OPEN_STATUSES, Group, Report
from storage.outbox import enqueue_to_group
from storage.reports import add_event

ACTOR = "scheduler"
MAX_ITEMS = 40
OFFICIAL_KINDS = ("station", "leadership")


@dataclass
class DeadlineRun:
    """What one run of the deadline job did."""

    listed: list[int] = field(default_factory=list)
    reminded: dict[int, list[int]] = field(default_factory=dict)
    queued: int = 0


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The township's calendar date of an aware timestamp."""
    return moment.astimezone(tz).date()


def place_of(report: Report, calendar: Calendar, group_kind: str | None) -> str:
    """Where a hazard is, as a group may see it; anonymous tips only show as tips, and only to officials."""
    if report.anonymous:
        return (
            calendar.label("kinds", "tip") if group_kind in OFFICIAL_KINDS else calendar.text("unknown_place")
        )
    return report.location or report.village or calendar.text("unknown_place")


def visible_in(report: Report, group_kind: str | None) -> bool:
    """Whether a report may be itemised in a group of this kind (tips: officials' groups only)."""
    return not report.anonymous or group_kind in OFFICIAL_KINDS


def item_list(lines: Sequence[str], calendar: Calendar) -> str:
    """Join list lines, cut after MAX_ITEMS with a 'more' line so a push stays within platform limits."""
    if len(lines) <= MAX_ITEMS:
        return "\n".join(lines)
    return "\n".join([*lines[:MAX_ITEMS], calendar.text("list_more", more=len(lines) - MAX_ITEMS)])


def responsible_groups(session: Session, report: Report, kinds: Sequence[str]) -> list[Group]:
    """The active groups of ``kinds`` for the report's village; else the group it was filed in."""
    groups = [
        g
        for g in list_groups(session, kinds=kinds, active_only=True)
        if report.village and g.unit == report.village
    ]
    if groups:
        return groups
    if report.group is not None and report.group.active and report.group.kind in (*kinds, None):
        return [report.group]
    return []


def escalate_overdue(session: Session, calendar: Calendar, now: datetime, tz: ZoneInfo) -> list[Report]:
    """Publicly list (挂牌督办) open hazards past their deadline, log an event, notify the leadership groups.

    A report is listed once: the conditional update makes a second run (or a second instance) skip it.
    """
    candidates = list(
        session.scalars(
            select(Report)
            .where(
                Report.status.in_(OPEN_STATUSES),
                Report.deadline.is_not(None),
                Report.deadline < now,
                Report.listed_at.is_(None),
            )
            .order_by(Report.id)
        )
    )
    listed: list[Report] = []
    for report in candidates:
        result = session.execute(
            update(Report)
            .where(Report.id == report.id, Report.listed_at.is_(None))
            .values(listed_at=now)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:
            continue
        report.listed_at = now
        deadline = calendar.format_date(local_day(report.deadline, tz)) if report.deadline else ""
        add_event(
            session,
            report,
            ACTOR,
            "listed",
            note=calendar.text("overdue_event_note", deadline=deadline),
            at=now,
        )
        listed.append(report)
    session.flush()
    if listed:
        _notify_listed(session, calendar, listed, now, tz)
    return listed


def _notify_listed(
    session: Session, calendar: Calendar, listed: list[Report], now: datetime, tz: ZoneInfo
) -> int:
    today = local_day(now, tz)
    queued = 0
    for group in list_groups(session, kinds=calendar.deadlines.escalation_targets, active_only=True):
        lines = []
        for r in listed:
            if not visible_in(r, group.kind):
                continue
            assert r.deadline is not None
            lines.append(
                calendar.text(
                    "overdue_item",
                    id=r.id,
                    place=place_of(r, calendar, group.kind),
                    village=r.village or calendar.text("unknown_village"),
                    category=calendar.label("categories", r.category),
                    severity=calendar.label("severities", r.severity),
                    deadline=calendar.format_date(local_day(r.deadline, tz)),
                    days_over=max((today - local_day(r.deadline, tz)).days, 0),
                )
            )
        if not lines:
            continue
        text = calendar.text("overdue_notice", list=item_list(lines, calendar), count=len(lines))
        key = f"overdue_listed:{today.isoformat()}:{group.id}:r{listed[0].id}"
        queued += enqueue_to_group(
            session,
            group,
            dedup_key=key,
            event="overdue_listed",
            text=text,
            not_before=now,
        )
    return queued


def remind_deadlines(
    session: Session, calendar: Calendar, now: datetime, tz: ZoneInfo
) -> dict[int, list[int]]:
    """Remind each responsible village group of its hazards due in exactly N days (N from the calendar).

    One message per group per day (dedup key ``deadline_reminder:<date>:<group>``). Returns group id → report ids.
    """
    today = local_day(now, tz)
    settings = calendar.deadlines
    if not settings.remind_days_before:
        return {}
    horizon = datetime.combine(
        today + timedelta(days=max(settings.remind_days_before) + 1), datetime.min.time(), tz
    )
    reports = session.scalars(
        select(Report)
        .where(
            Report.status.in_(OPEN_STATUSES),
            Report.deadline.is_not(None),
            Report.deadline >= now,
            Report.deadline < horizon,
            Report.anonymous.is_(False),
        )
        .order_by(Report.deadline, Report.id)
    )
    by_group: dict[int, tuple[Group, list[tuple[Report, int]]]] = {}
    for report in reports:
        assert report.deadline is not None
        days_left = (local_day(report.deadline, tz) - today).days
        if days_left not in settings.remind_days_before:
            continue
        for group in responsible_groups(session, report, settings.reminder_targets):
            by_group.setdefault(group.id, (group, []))[1].append((report, days_left))
    out: dict[int, list[int]] = {}
    for group_id, (group, items) in by_group.items():
        lines = [
            calendar.text(
                "deadline_item",
                id=r.id,
                place=place_of(r, calendar, group.kind),
                category=calendar.label("categories", r.category),
                severity=calendar.label("severities", r.severity),
                deadline=calendar.format_date(local_day(r.deadline, tz)) if r.deadline else "",
                days_left=days_left,
            )
            for r, days_left in items
        ]
        text = calendar.text("deadline_reminder", list=item_list(lines, calendar), count=len(lines))
        enqueue_to_group(
            session,
            group,
            dedup_key=f"deadline_reminder:{today.isoformat()}:{group_id}",
            event="deadline_reminder",
            text=text,
            not_before=now,
        )
        out[group_id] = [r.id for r, _ in items]
    return out


def run_deadline_checks(session: Session, calendar: Calendar, now: datetime, tz: ZoneInfo) -> DeadlineRun:
    """The daily deadline job: list overdue hazards, then remind the ones coming due."""
    run = DeadlineRun()
    run.listed = [r.id for r in escalate_overdue(session, calendar, now, tz)]
    run.reminded = remind_deadlines(session, calendar, now, tz)
    return run


@dataclass
class Digest:
    """The weekly numbers for officials and the hazards that need attention."""

    open: int
    overdue: list[Report]
    due_soon: list[Report]
    new: int
    rectified: int


def weekly_digest(session: Session, calendar: Calendar, now: datetime) -> Digest:
    """Open hazards, the overdue and soon-due ones, and the past seven days' new and rectified counts."""
    week_ago = now - timedelta(days=7)
    soon = now + timedelta(days=calendar.deadlines.due_soon_days)
    open_reports = list(
        session.scalars(
            select(Report).where(Report.status.in_(OPEN_STATUSES)).order_by(Report.deadline, Report.id)
        )
    )
    overdue = [r for r in open_reports if r.deadline is not None and r.deadline < now]
    due_soon = [r for r in open_reports if r.deadline is not None and now <= r.deadline < soon]
    new = session.scalar(
        select(func.count(Report.id)).where(
            Report.created_at >= week_ago,
            Report.created_at < now,
            Report.status.not_in(("rejected", "duplicate")),
        )
    )
    rectified = session.scalar(
        select(func.count(Report.id)).where(Report.rectified_at >= week_ago, Report.rectified_at < now)
    )
    return Digest(len(open_reports), overdue, due_soon, int(new or 0), int(rectified or 0))


def render_digest(digest: Digest, calendar: Calendar, tz: ZoneInfo, group_kind: str | None) -> str:
    """The digest's text for one group (tips itemised for officials' groups only)."""
    lines = [
        calendar.text(
            "digest_item",
            id=r.id,
            place=place_of(r, calendar, group_kind),
            category=calendar.label("categories", r.category),
            severity=calendar.label("severities", r.severity),
            status=calendar.label("statuses", r.status),
            deadline=calendar.format_date(local_day(r.deadline, tz)) if r.deadline else "",
        )
        for r in [*digest.overdue, *digest.due_soon]
        if visible_in(r, group_kind)
    ]
    return calendar.text(
        "digest_body",
        open=digest.open,
        overdue=len(digest.overdue),
        due_soon=len(digest.due_soon),
        soon_days=calendar.deadlines.due_soon_days,
        new=digest.new,
        rectified=digest.rectified,
        list=item_list(lines, calendar) if lines else calendar.text("digest_empty"),
    )
