"""storage.pushes: what the scheduler's pushes read and mark in the ledger, without committing."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import Database
from storage.models import ReportEvent
from storage.outbox import enqueue
from storage.pushes import (
    digest_numbers,
    due_within,
    groups_by_id,
    mark_overdue_listed,
    open_major,
    queued_keys,
    record_listing_events,
)
from storage.reports import set_status
from tests.helpers import file_report

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 8, 30, tzinfo=TZ)


def test_overdue_hazards_are_marked_once_and_their_events_carry_the_note_of_their_day(
    database: Database,
) -> None:
    with database.sessions.begin() as s:
        a = file_report(s, village="王家沟村", deadline=NOW - timedelta(days=2)).id
        b = file_report(s, village="庙坪村", deadline=NOW - timedelta(hours=1)).id
        file_report(s, deadline=NOW + timedelta(days=1))  # not yet due
        done = file_report(s, deadline=NOW - timedelta(days=3))
        set_status(s, done, "rectified", "o", now=NOW - timedelta(days=4))
        file_report(s, deadline=NOW - timedelta(days=5), listed_at=NOW - timedelta(days=1))  # listed before
    with database.sessions.begin() as s:
        listed = mark_overdue_listed(s, NOW)
        assert [i.id for i in listed] == [a, b] and listed[0].village == "王家沟村"
        # Reports with a deadline before the end of 6月8日 get the first note, the others the second.
        notes = [
            (datetime(2026, 6, 9, tzinfo=TZ), "逾期 6月8日"),
            (datetime(2026, 6, 11, tzinfo=TZ), "逾期 6月10日"),
        ]
        record_listing_events(s, NOW, listed, notes, "scheduler")
    with database.sessions() as s:
        events = {
            e.report_id: e for e in s.scalars(select(ReportEvent).where(ReportEvent.action == "listed"))
        }
    assert {k: (v.note, v.actor) for k, v in events.items()} == {
        a: ("逾期 6月8日", "scheduler"),
        b: ("逾期 6月10日", "scheduler"),
    }
    with database.sessions.begin() as s:
        assert mark_overdue_listed(s, NOW + timedelta(hours=1)) == []  # a second run marks nothing


def test_due_within_skips_tips_and_passed_deadlines(database: Database) -> None:
    tomorrow = datetime(2026, 6, 11, tzinfo=TZ)
    with database.sessions.begin() as s:
        late = file_report(s, deadline=tomorrow + timedelta(hours=20)).id
        early = file_report(s, deadline=tomorrow + timedelta(hours=9)).id
        file_report(s, deadline=tomorrow + timedelta(hours=9), kind="tip", anonymous=True)
        file_report(s, deadline=tomorrow + timedelta(days=2))  # outside the window
        file_report(s, deadline=NOW - timedelta(minutes=1))  # already passed
    with database.sessions() as s:
        assert [i.id for i in due_within(s, NOW, [(tomorrow, tomorrow + timedelta(days=1))])] == [early, late]
        assert due_within(s, NOW, []) == []


def test_digest_numbers_count_everything_but_read_only_the_first(database: Database) -> None:
    with database.sessions.begin() as s:
        for i in range(5):
            file_report(s, deadline=NOW - timedelta(days=i + 1), created_at=NOW - timedelta(days=20))
        file_report(
            s,
            deadline=NOW - timedelta(days=1),
            kind="tip",
            anonymous=True,
            created_at=NOW - timedelta(days=2),
        )
        file_report(s, deadline=NOW + timedelta(days=3), created_at=NOW - timedelta(days=1))
        fixed = file_report(s, created_at=NOW - timedelta(days=3))
        set_status(s, fixed, "rectified", "o", now=NOW - timedelta(days=1))
    with database.sessions() as s:
        digest = digest_numbers(s, NOW, NOW - timedelta(days=7), NOW + timedelta(days=7), limit=2)
    assert (digest.open, digest.overdue_count, digest.overdue_public, digest.due_soon_count) == (7, 6, 5, 1)
    assert (digest.new, digest.rectified, digest.awaiting) == (3, 1, 1)
    assert len(digest.overdue) <= 4 and [i.deadline for i in digest.overdue] == sorted(
        i.deadline for i in digest.overdue
    )


def test_open_major_queued_keys_and_groups(database: Database) -> None:
    with database.sessions.begin() as s:
        first = file_report(s, severity="major").id
        file_report(s, severity="general")
        closed = file_report(s, severity="major")
        set_status(s, closed, "closed", "o")
        second = file_report(s, severity="major").id
        enqueue(
            s,
            dedup_key="weekly_digest:2026-06-08:1",
            event="weekly_digest",
            platform="telegram",
            chat_id="-1",
            text="x",
        )
    with database.sessions() as s:
        assert [r.id for r in open_major(s)] == [first, second]
        assert queued_keys(s, ["weekly_digest:2026-06-08:1", "weekly_digest:2026-06-08:2"]) == {
            "weekly_digest:2026-06-08:1"
        }
        assert groups_by_id(s, []) == {} and groups_by_id(s, [12345]) == {}
