"""Rectification deadlines: reminders before, public listing (挂牌督办) after, and the weekly digest.

All functions take a session and never commit; ``scheduler.jobs`` owns the transaction. Every push goes to the
outbox with a dedup key, so running a job twice on the same day queues nothing new. Anonymous tips are counted
but never itemised in village or enterprise groups, and their text never appears in any push.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from scheduler.calendar import Calendar
from storage.groups import list_groups
from storage.models import OPEN_STATUSES, Group, Report, ReportEvent, UTCDateTime
from storage.outbox import enqueue_to_group

ACTOR = "scheduler"
MAX_ITEMS = 40
OFFICIAL_KINDS = ("station", "leadership")


@dataclass
class DeadlineRun:
    """What one run of the deadline job did."""

    listed: list[int] = field(default_factory=list)
    reminded: dict[int, list[int]] = field(default_factory=dict)
    queued: int = 0


@dataclass(frozen=True, slots=True)
class Item:
    """The columns of a hazard that a push shows; read straight from the ledger, without loading reports."""

    id: int
    village: str | None
    location: str | None
    category: str
    severity: str
    status: str
    deadline: datetime | None
    anonymous: bool
    group_id: int | None


# What ``place_of`` and ``visible_in`` read: a Report or an Item. (A Protocol of read-only properties does
# not match the models: mypy compares their ``Mapped[...]`` class attributes, not what an instance returns.)
Hazard: TypeAlias = "Report | Item"


ITEM_COLUMNS = (
    Report.id,
    Report.village,
    Report.location,
    Report.category,
    Report.severity,
    Report.status,
    Report.deadline,
    Report.anonymous,
    Report.group_id,
)


def _items(rows: Iterable[Any]) -> list[Item]:
    return [Item(*row) for row in rows]


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


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


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


class _Responsible:
    """``responsible_groups`` for many hazards at once: the groups are read once, not once per hazard."""

    def __init__(self, session: Session, kinds: Sequence[str], items: Sequence[Item]) -> None:
        self.kinds = tuple(kinds)
        self.by_unit: dict[str, list[Group]] = {}
        for g in list_groups(session, kinds=kinds, active_only=True):
            if g.unit:
                self.by_unit.setdefault(g.unit, []).append(g)
        wanted = {
            i.group_id for i in items if i.group_id is not None and not self.by_unit.get(i.village or "")
        }
        self.filed_in: dict[int, Group] = (
            {g.id: g for g in session.scalars(select(Group).where(Group.id.in_(sorted(wanted))))}
            if wanted
            else {}
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
    marked = session.execute(
        update(Report)
        .where(
            Report.status.in_(OPEN_STATUSES),
            Report.deadline.is_not(None),
            Report.deadline < now,
            Report.listed_at.is_(None),
        )
        .values(listed_at=now)
        .returning(*ITEM_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    listed = sorted(_items(marked), key=lambda i: i.id)
    if not listed:
        return []
    # The event's note names the deadline's date, chosen among the listed ones' dates by a balanced CASE.
    days = sorted({local_day(i.deadline, tz) for i in listed if i.deadline is not None})
    note = _note_by_day(calendar, days, tz)
    session.execute(
        insert(ReportEvent).from_select(
            ["report_id", "at", "actor", "action", "note"],
            select(
                Report.id,
                literal(now, UTCDateTime()),
                literal(ACTOR, String()),
                literal("listed", String()),
                note,
            )
            .where(
                # The rows just marked: the same open, overdue ones (found by the same index), now listed at ``now``.
                Report.status.in_(OPEN_STATUSES),
                Report.deadline < now,
                Report.listed_at == now,
                Report.id >= listed[0].id,
                Report.id <= listed[-1].id,
            )
            .order_by(Report.id),
        )
    )
    _notify_listed(session, calendar, listed, now, tz)
    return listed


def _note_by_day(calendar: Calendar, days: Sequence[date], tz: ZoneInfo) -> ColumnElement[str]:
    """The listing note for a report's deadline date, as SQL: a CASE tree halving ``days`` (sorted) at each level.

    A tree, not one branch per day: a backlog spanning a thousand days costs ten comparisons per row, not a
    thousand.
    """
    if len(days) == 1:
        return literal(calendar.text("overdue_event_note", deadline=calendar.format_date(days[0])), String())
    mid = len(days) // 2
    return case(
        (
            Report.deadline < local_midnight(days[mid - 1] + timedelta(days=1), tz),
            _note_by_day(calendar, days[:mid], tz),
        ),
        else_=_note_by_day(calendar, days[mid:], tz),
    )


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
    due_days = [
        and_(
            Report.deadline >= local_midnight(today + timedelta(days=n), tz),
            Report.deadline < local_midnight(today + timedelta(days=n + 1), tz),
        )
        for n in settings.remind_days_before
    ]
    items = _items(
        session.execute(
            select(*ITEM_COLUMNS)
            .where(
                Report.status.in_(OPEN_STATUSES),
                Report.deadline.is_not(None),
                Report.deadline >= now,
                or_(*due_days),
                Report.anonymous.is_(False),
            )
            .order_by(Report.deadline, Report.id)
        )
    )
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


@dataclass
class Digest:
    """The weekly numbers for officials and the hazards that need attention.

    ``overdue`` and ``due_soon`` hold the first of those hazards by deadline, enough to itemise MAX_ITEMS of them
    in any group; the ``*_count`` fields count them all, ``*_public`` those without the anonymous ones.
    """

    open: int
    overdue: list[Item]
    due_soon: list[Item]
    new: int
    rectified: int
    overdue_count: int = 0
    overdue_public: int = 0
    due_soon_count: int = 0
    due_soon_public: int = 0
    awaiting: int = 0  # rectified, waiting for acceptance (待验收)
    failed: int = 0  # open again after a failed acceptance (继续挂账)


def weekly_digest(session: Session, calendar: Calendar, now: datetime) -> Digest:
    """Open hazards, the overdue and soon-due ones, and the past seven days' new and rectified counts.

    Counted in SQL, and only the first MAX_ITEMS hazards of each list are read (once for officials' groups,
    once without anonymous tips): seven small queries however big the ledger.
    """
    week_ago = now - timedelta(days=7)
    soon = now + timedelta(days=calendar.deadlines.due_soon_days)
    is_open = Report.status.in_(OPEN_STATUSES)
    public = Report.anonymous.is_(False)
    overdue = and_(Report.deadline.is_not(None), Report.deadline < now)
    due_soon = and_(Report.deadline.is_not(None), Report.deadline >= now, Report.deadline < soon)
    counts = session.execute(
        select(
            func.count(Report.id),
            _count(overdue),
            _count(and_(overdue, public)),
            _count(due_soon),
            _count(and_(due_soon, public)),
        ).where(is_open)
    ).one()

    def first(condition: ColumnElement[bool]) -> list[Item]:
        seen: dict[int, Item] = {}
        for only_public in (False, True):
            stmt = select(*ITEM_COLUMNS).where(is_open, condition)
            if only_public:
                stmt = stmt.where(public)
            for item in _items(session.execute(stmt.order_by(Report.deadline, Report.id).limit(MAX_ITEMS))):
                seen.setdefault(item.id, item)
        return sorted(seen.values(), key=lambda i: (i.deadline, i.id))

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
    acceptance = session.execute(
        select(
            _count(Report.status == "rectified"),
            _count(and_(is_open, Report.failed_acceptances > 0)),
        ).where(public)
    ).one()
    return Digest(
        awaiting=int(acceptance[0]),
        failed=int(acceptance[1]),
        open=int(counts[0]),
        overdue=first(overdue),
        due_soon=first(due_soon),
        new=int(new or 0),
        rectified=int(rectified or 0),
        overdue_count=int(counts[1]),
        overdue_public=int(counts[2]),
        due_soon_count=int(counts[3]),
        due_soon_public=int(counts[4]),
    )


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
