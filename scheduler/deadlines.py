"""Rectification deadlines: reminders before, public listing (挂牌督办) after, and the weekly digest.

All functions take a session and never commit; ``scheduler.jobs`` owns the transaction. The ledger is read and
marked through ``storage.pushes``; this module decides what to push to whom and words it. Every push goes to the
outbox with a dedup key, so running a job twice on the same day queues nothing new. Anonymous tips are counted
but never itemised in village or enterprise groups, and their text never appears in any push.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from scheduler.calendar import Calendar
from storage import pushes
from storage.groups import list_groups
from storage.models import Group, Report
from storage.outbox import enqueue_to_group
from storage.pushes import Digest, Item

ACTOR = "scheduler"
MAX_ITEMS = 40
OFFICIAL_KINDS = ("station", "leadership")


@dataclass
class DeadlineRun:
    """What one run of the deadline job did."""

    listed: list[int] = field(default_factory=list)
    reminded: dict[int, list[int]] = field(default_factory=dict)
    queued: int = 0


# What ``place_of`` and ``visible_in`` read: a Report or an Item. (A Protocol of read-only properties does
# not match the models: mypy compares their ``Mapped[...]`` class attributes, not what an instance returns.)
Hazard: TypeAlias = "Report | Item"


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The township's calendar date of an aware timestamp."""
    return moment.astimezone(tz).date()


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in the township's time zone."""
    return datetime.combine(day, time.min, tzinfo=tz)


def place_of(report: Hazard, calendar: Calendar, group_kind: str | None) -> str:
    """Where a hazard is, as a group may see it; anonymous tips only show as tips, and only to officials."""
    if report.anonymous:
        return (
            calendar.label("kinds", "tip") if group_kind in OFFICIAL_KINDS else calendar.text("unknown_place")
        )
    return report.location or report.village or calendar.text("unknown_place")


def visible_in(report: Hazard, group_kind: str | None) -> bool:
    """Whether a report may be itemised in a group of this kind (tips: officials' groups only)."""
    return not report.anonymous or group_kind in OFFICIAL_KINDS


def item_list(lines: Sequence[str], calendar: Calendar) -> str:
    """Join list lines, cut after MAX_ITEMS with a 'more' line so a push stays within platform limits."""
    return cut_list(lines, len(lines), calendar)


def cut_list(first: Sequence[str], total: int, calendar: Calendar) -> str:
    """The first MAX_ITEMS of ``total`` lines (only those need be formatted), then a 'more' line if any are left."""
    if total <= MAX_ITEMS:
        return "\n".join(first[:total])
    return "\n".join([*first[:MAX_ITEMS], calendar.text("list_more", more=total - MAX_ITEMS)])


class _Responsible:
    """The groups responsible for many hazards at once (their village's groups of ``kinds``, else the group each
    was filed in): the groups are read once, not once per hazard."""

    def __init__(self, session: Session, kinds: Sequence[str], items: Sequence[Item]) -> None:
        self.kinds = tuple(kinds)
        self.by_unit: dict[str, list[Group]] = {}
        for g in list_groups(session, kinds=kinds, active_only=True):
            if g.unit:
                self.by_unit.setdefault(g.unit, []).append(g)
        self.filed_in = pushes.groups_by_id(
            session,
            (i.group_id for i in items if i.group_id is not None and not self.by_unit.get(i.village or "")),
        )

    def __call__(self, item: Item) -> list[Group]:
        if item.village and self.by_unit.get(item.village):
            return self.by_unit[item.village]
        group = self.filed_in.get(item.group_id) if item.group_id is not None else None
        if group is not None and group.active and group.kind in (*self.kinds, None):
            return [group]
        return []


def escalate_overdue(session: Session, calendar: Calendar, now: datetime, tz: ZoneInfo) -> list[Item]:
    """Publicly list (挂牌督办) open hazards past their deadline, log an event, notify the leadership groups.

    Set-based, whatever the number of overdue hazards: one UPDATE marks them all (and returns them), one
    INSERT … SELECT writes their events, then one notice per leadership group. A report is listed once: the
    conditional update makes a second run (or a second instance) skip it.
    """
    listed = pushes.mark_overdue_listed(session, now)
    if not listed:
        return []
    # The event's note names the deadline's date, chosen among the listed ones' dates by a balanced CASE.
    days = sorted({local_day(i.deadline, tz) for i in listed if i.deadline is not None})
    notes = [
        (
            local_midnight(day + timedelta(days=1), tz),
            calendar.text("overdue_event_note", deadline=calendar.format_date(day)),
        )
        for day in days
    ]
    pushes.record_listing_events(session, now, listed, notes, ACTOR)
    _notify_listed(session, calendar, listed, now, tz)
    return listed


def _notify_listed(
    session: Session, calendar: Calendar, listed: list[Item], now: datetime, tz: ZoneInfo
) -> int:
    today = local_day(now, tz)
    queued = 0
    for group in list_groups(session, kinds=calendar.deadlines.escalation_targets, active_only=True):
        shown = [r for r in listed if visible_in(r, group.kind)]
        if not shown:
            continue
        lines = []
        for r in shown[:MAX_ITEMS]:
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
        text = calendar.text("overdue_notice", list=cut_list(lines, len(shown), calendar), count=len(shown))
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
    Two queries (the hazards due on those days, the groups) and one outbox row per group, however big the ledger.
    """
    today = local_day(now, tz)
    settings = calendar.deadlines
    if not settings.remind_days_before:
        return {}
    windows = [
        (local_midnight(today + timedelta(days=n), tz), local_midnight(today + timedelta(days=n + 1), tz))
        for n in settings.remind_days_before
    ]
    items = pushes.due_within(session, now, windows)
    if not items:
        return {}
    responsible = _Responsible(session, settings.reminder_targets, items)
    by_group: dict[int, tuple[Group, list[tuple[Item, int]]]] = {}
    for item in items:
        assert item.deadline is not None
        days_left = (local_day(item.deadline, tz) - today).days
        if days_left not in settings.remind_days_before:
            continue
        for group in responsible(item):
            by_group.setdefault(group.id, (group, []))[1].append((item, days_left))
    out: dict[int, list[int]] = {}
    for group_id, (group, entries) in by_group.items():
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
            for r, days_left in entries[:MAX_ITEMS]
        ]
        text = calendar.text(
            "deadline_reminder", list=cut_list(lines, len(entries), calendar), count=len(entries)
        )
        enqueue_to_group(
            session,
            group,
            dedup_key=f"deadline_reminder:{today.isoformat()}:{group_id}",
            event="deadline_reminder",
            text=text,
            not_before=now,
        )
        out[group_id] = [r.id for r, _ in entries]
    return out


def run_deadline_checks(session: Session, calendar: Calendar, now: datetime, tz: ZoneInfo) -> DeadlineRun:
    """The daily deadline job: list overdue hazards, then remind the ones coming due."""
    run = DeadlineRun()
    run.listed = [r.id for r in escalate_overdue(session, calendar, now, tz)]
    run.reminded = remind_deadlines(session, calendar, now, tz)
    return run


def weekly_digest(session: Session, calendar: Calendar, now: datetime) -> Digest:
    """Open hazards, the overdue and soon-due ones, and the past seven days' new and rectified counts.

    Counted in SQL, and only the first MAX_ITEMS hazards of each list are read: seven small queries however big
    the ledger (``storage.pushes.digest_numbers``).
    """
    soon = now + timedelta(days=calendar.deadlines.due_soon_days)
    return pushes.digest_numbers(session, now, now - timedelta(days=7), soon, MAX_ITEMS)


def render_digest(digest: Digest, calendar: Calendar, tz: ZoneInfo, group_kind: str | None) -> str:
    """The digest's text for one group (tips itemised for officials' groups only)."""
    official = group_kind in OFFICIAL_KINDS
    total = (
        digest.overdue_count + digest.due_soon_count
        if official
        else digest.overdue_public + digest.due_soon_public
    )
    shown = [r for r in [*digest.overdue, *digest.due_soon] if visible_in(r, group_kind)][:MAX_ITEMS]
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
        for r in shown
    ]
    return calendar.text(
        "digest_body",
        open=digest.open,
        overdue=digest.overdue_count,
        due_soon=digest.due_soon_count,
        soon_days=calendar.deadlines.due_soon_days,
        new=digest.new,
        rectified=digest.rectified,
        awaiting=digest.awaiting,
        failed=digest.failed,
        list=cut_list(lines, total, calendar) if total else calendar.text("digest_empty"),
    )
