"""Tests for storage.ledger: each workflow change is stored with one audit event, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Database
from storage import ledger
from storage.models import Attachment
from tests.helpers import file_report

NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
ACTOR = "张站长(telegram:zhang)"


def test_each_change_writes_one_event_with_its_actor(database: Database) -> None:
    with database.sessions.begin() as s:
        report = file_report(s, severity="major")
        ledger.assign(s, report, "克虎煤业", "赵矿长", ACTOR, now=NOW)
        ledger.set_measures(s, report, "加装护栏", ACTOR, now=NOW)
        ledger.set_funds(s, report, 500000, "¥5,000", ACTOR, now=NOW)
        ledger.extend_deadline(s, report, NOW + timedelta(days=30), "等材料", "06-17 → 07-10", ACTOR, now=NOW)
        ledger.supervise(s, report, "镇安委会", ACTOR, now=NOW)
        ledger.set_five_item(s, report, "funds", True, "镇拨款", ACTOR, "经费物资", now=NOW)
        ledger.set_five_item(s, report, "funds", False, "款未到", ACTOR, "经费物资", now=NOW)
        rid = report.id
    with database.sessions() as s:
        events = ledger.recent_events(s, rid, 20)
        assert [e.action for e in events] == [
            "filed",
            "assign",
            "measures",
            "funds",
            "extend",
            "supervise",
            "five",
            "five",
        ]
        assert all(e.actor == ACTOR for e in events[1:])
        assert ledger.extensions(s, rid) == 1
        items = ledger.five_items(s, rid)
        assert list(items) == ["funds"] and (items["funds"].done, items["funds"].note) == (False, "款未到")
        assert ledger.missing_five(s, rid) == ["goal", "funds", "staff", "schedule", "safety"]


def test_acceptance_closes_or_sends_back_and_counts(database: Database) -> None:
    with database.sessions.begin() as s:
        report = file_report(s, status="rectified")
        ledger.accept(s, report, False, "护栏未装", ACTOR, now=NOW)
        assert (report.status, report.failed_acceptances, report.closed_at) == ("rectifying", 1, None)
        report.status = "rectified"
        ledger.accept(s, report, True, None, ACTOR, now=NOW + timedelta(days=1))
        assert (report.status, report.acceptance_verdict, report.closed_at) == (
            "closed",
            "passed",
            NOW + timedelta(days=1),
        )
        assert report.failed_acceptances == 1


def test_unknown_five_items_are_refused(database: Database) -> None:
    with database.sessions.begin() as s, pytest.raises(ValueError, match="五落实"):
        ledger.set_five_item(s, file_report(s), "money", True, None, ACTOR, "钱", now=NOW)


def test_photo_counts_by_side(database: Database) -> None:
    with database.sessions.begin() as s:
        report = file_report(s)
        for i, role in enumerate(("before", "before", "after")):
            s.add(
                Attachment(
                    id=f"a{i}",
                    report_id=report.id,
                    role=role,
                    sha256="0" * 64,
                    size=10,
                    mime="image/jpeg",
                    created_at=NOW,
                )
            )
        s.flush()
        assert ledger.photo_counts(s, report.id) == {"before": 2, "after": 1}
