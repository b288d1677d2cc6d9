"""The photo evidence repository, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import Database
from storage import attachments as repo
from storage import tips as tip_repo
from storage.models import Attachment
from tests.helpers import file_report

NOW = datetime(2026, 6, 10, 2, 37, 12, tzinfo=UTC)


def _sha(n: int) -> str:
    return f"{n:064x}"


def test_report_photos_are_listed_counted_and_sized_per_side(database: Database) -> None:
    with database.sessions.begin() as s:
        report = file_report(s, created_at=NOW)
        other = file_report(s, created_at=NOW)
        for i in range(3):
            repo.add_attachment(
                s, sha256=_sha(i), size=100 + i, mime="image/jpeg", role="before", now=NOW,
                report_id=report.id, added_by="villager(telegram:1)",
            )  # fmt: skip
        repo.add_attachment(
            s, sha256=_sha(9), size=1000, mime="image/jpeg", role="after", now=NOW,
            report_id=report.id, added_by="李秀英(telegram:2)",
        )  # fmt: skip
        repo.add_attachment(
            s, sha256=_sha(8), size=5, mime="image/jpeg", role="after", now=NOW, report_id=other.id
        )
        rid, oid = report.id, other.id
    with database.sessions() as s:
        assert repo.counts(s, report_id=rid) == {"before": 3, "after": 1}
        assert repo.counts(s, report_id=oid) == {"before": 0, "after": 1}
        assert repo.total_size(s, report_id=rid) == 100 + 101 + 102 + 1000
        rows = repo.list_attachments(s, report_id=rid)
        assert [r.role for r in rows] == ["before", "before", "before", "after"]
        assert [r.sha256 for r in repo.list_attachments(s, report_id=rid, role="after")] == [_sha(9)]
        assert repo.find(s, _sha(1), role="before", report_id=rid) is not None
        assert repo.find(s, _sha(1), role="after", report_id=rid) is None
        assert repo.find(s, _sha(1), role="before", report_id=oid) is None
        assert repo.is_referenced(s, _sha(8)) and not repo.is_referenced(s, _sha(7))
        assert rows[0].created_at == NOW and rows[0].added_by == "villager(telegram:1)"


def test_a_report_without_photos_counts_zero_on_both_sides(database: Database) -> None:
    with database.sessions.begin() as s:
        report = file_report(s, created_at=NOW)
        assert repo.counts(s, report_id=report.id) == {"before": 0, "after": 0}
        assert repo.total_size(s, report_id=report.id) == 0
        assert repo.list_attachments(s, report_id=report.id) == []


def test_a_tip_photo_names_nobody_keeps_the_hour_and_a_random_key(database: Database) -> None:
    with database.sessions.begin() as s:
        tip = tip_repo.create_tip(
            s, receipt_code="ABCDEFGHJKLMNPQRST", now=NOW, kind="tip", category="mining",
            severity="major", text="举报", confidence=0.9,
        )  # fmt: skip
        first = repo.add_attachment(
            s, sha256=_sha(1), size=10, mime="image/jpeg", role="before", now=NOW, tip_id=tip.id
        )
        second = repo.add_attachment(
            s, sha256=_sha(2), size=10, mime="image/jpeg", role="before", now=NOW, tip_id=tip.id
        )
        with pytest.raises(ValueError):
            repo.add_attachment(
                s, sha256=_sha(3), size=1, mime="image/jpeg", role="before", now=NOW,
                tip_id=tip.id, added_by="someone",
            )  # fmt: skip
        tid = tip.id
        ids = (first.id, second.id)
    with database.sessions() as s:
        rows = s.query(Attachment).filter(Attachment.tip_id == tid).all()
        assert {r.created_at for r in rows} == {NOW.replace(minute=0, second=0)}
        assert all(r.added_by is None and r.report_id is None for r in rows)
        assert repo.counts(s, tip_id=tid) == {"before": 2, "after": 0}
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    assert ids[0][:8] != ids[1][:8]  # random, not a sequence


def test_a_photo_belongs_to_exactly_one_report_or_tip_and_one_known_side(database: Database) -> None:
    with database.sessions.begin() as s:
        report = file_report(s, created_at=NOW)
        with pytest.raises(ValueError):
            repo.add_attachment(s, sha256=_sha(1), size=1, mime="image/jpeg", role="before", now=NOW)
        with pytest.raises(ValueError):
            repo.add_attachment(
                s, sha256=_sha(1), size=1, mime="image/jpeg", role="during", now=NOW, report_id=report.id
            )
        with pytest.raises(ValueError):
            repo.counts(s, report_id=report.id, tip_id=123456)
