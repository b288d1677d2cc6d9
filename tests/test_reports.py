"""Tests for storage.reports: the ledger, its status changes and its append-only audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Database
from storage.reports import (
    count_open,
    count_recent_by_reporter,
    create_report,
    file_hazard,
    find_by_receipt,
    get_report,
    iter_reports,
    list_reports,
    open_page,
    open_reports,
    recent_similar_candidates,
    set_status,
    similar_and_recent,
)

NOW = datetime(2026, 6, 1, 2, tzinfo=UTC)


def _hazard(s, **extra):
    fields = {
        "kind": "hazard",
        "category": "building",
        "severity": "general",
        "text": "老窑洞裂缝",
        "village": "王家沟村",
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(extra)
    return create_report(s, actor="villager(t:1)", **fields)


def test_filing_writes_a_filed_event_and_rectifying_records_who_and_when(database: Database) -> None:
    with database.sessions.begin() as s:
        rid = _hazard(s).id
    with database.sessions.begin() as s:
        set_status(
            s,
            get_report(s, rid),
            "rectified",
            "张站长(telegram:9)",
            note="已加固",
            now=NOW + timedelta(days=2),
        )
    with database.sessions() as s:
        r = get_report(s, rid)
        assert r.status == "rectified"
        assert r.rectified_at == NOW + timedelta(days=2)
        assert (r.rectified_by, r.rectification_note) == ("张站长(telegram:9)", "已加固")
        assert [(e.action, e.from_status, e.to_status, e.actor) for e in r.events] == [
            ("filed", None, "reported", "villager(t:1)"),
            ("status", "reported", "rectified", "张站长(telegram:9)"),
        ]


def test_filing_by_number_writes_the_same_report_and_event_as_create_report(database: Database) -> None:
    fields = {"kind": "hazard", "category": "building", "severity": "general", "text": "老窑洞裂缝"}
    fields |= {
        "village": "王家沟村",
        "created_at": NOW,
        "updated_at": NOW,
        "deadline": NOW + timedelta(days=3),
    }
    with database.sessions.begin() as s:
        full = create_report(s, actor="villager(t:1)", **fields).id
        light = file_hazard(s, actor="villager(t:1)", **fields)
        dup = file_hazard(s, actor="villager(t:2)", status="duplicate", duplicate_of=light, **fields)
        assert isinstance(light, int) and full < light < dup
        with pytest.raises(TypeError):
            file_hazard(s, actor="x", colour="red", **fields)
    with database.sessions() as s:

        def row(rid: int) -> tuple[object, ...]:
            r = get_report(s, rid)
            events = [(e.action, e.from_status, e.to_status, e.actor, e.at) for e in r.events]
            return (
                r.kind,
                r.category,
                r.text,
                r.village,
                r.status,
                r.created_at,
                r.deadline,
                r.duplicate_of,
                events,
            )

        assert row(light) == row(full)
        assert row(full)[-1] == [("filed", None, "reported", "villager(t:1)", NOW)]
        assert row(dup)[4:] == (
            "duplicate",
            NOW,
            NOW + timedelta(days=3),
            light,
            [("filed", None, "duplicate", "villager(t:2)", NOW)],
        )


def test_timestamps_come_back_as_aware_utc(database: Database) -> None:
    with database.sessions.begin() as s:
        rid = _hazard(s).id
    with database.sessions() as s:
        assert get_report(s, rid).created_at == NOW
        assert get_report(s, rid).created_at.tzinfo is not None


def test_receipt_code_is_found_by_code_but_stored_only_hashed(database: Database) -> None:
    with database.sessions.begin() as s:
        rid = _hazard(s, kind="tip", anonymous=True, receipt_code="ABCDEF234567").id
    with database.sessions() as s:
        r = get_report(s, rid)
        assert "ABCDEF234567" not in (r.receipt_hash or "")
        assert find_by_receipt(s, "abcdef-234567").id == rid
        assert find_by_receipt(s, "ABCDEF234568") is None


def test_open_list_and_filters(database: Database) -> None:
    with database.sessions.begin() as s:
        a = _hazard(s).id
        b = _hazard(s, village="庙坪村").id
        c = _hazard(s).id
        set_status(s, get_report(s, c), "closed", "x")
    with database.sessions() as s:
        assert [r.id for r in open_reports(s)] == [a, b]
        assert [r.id for r in open_reports(s, village="庙坪村")] == [b]
        assert [r.id for r in list_reports(s)] == [a, b, c]


def test_similar_candidates_are_same_village_recent_and_open_of_any_category(database: Database) -> None:
    with database.sessions.begin() as s:
        keep = _hazard(s).id
        fire = _hazard(s, category="fire").id
        _hazard(s, village="庙坪村")
        _hazard(s, created_at=NOW - timedelta(days=10))
        _hazard(s, status="rectified")
        _hazard(s, anonymous=True)
    with database.sessions() as s:
        found = recent_similar_candidates(s, village="王家沟村", group_id=None, since=NOW - timedelta(days=7))
        assert [(r.id, r.category) for r in found] == [(fire, "fire"), (keep, "building")]


def test_flood_count_is_per_reporter(database: Database) -> None:
    with database.sessions.begin() as s:
        for _ in range(3):
            _hazard(s, platform="telegram", reporter_id="7")
        _hazard(s, platform="telegram", reporter_id="8")
    with database.sessions() as s:
        assert count_recent_by_reporter(s, "telegram", "7", NOW - timedelta(hours=1)) == 3


def test_candidates_and_the_senders_hour_come_together_and_agree_with_each_alone(database: Database) -> None:
    with database.sessions.begin() as s:
        mine = [_hazard(s, platform="telegram", reporter_id="7").id for _ in range(2)]
        fire = _hazard(s, platform="telegram", reporter_id="7", category="fire").id
        earlier = _hazard(s, platform="telegram", reporter_id="7", created_at=NOW - timedelta(hours=2)).id
        other = _hazard(s, platform="telegram", reporter_id="8").id
    week, hour = NOW - timedelta(days=7), NOW - timedelta(hours=1)
    with database.sessions() as s:

        def both(village: str) -> tuple[list, int]:
            return similar_and_recent(
                s,
                village=village,
                group_id=None,
                since=week,
                limit=50,
                platform="telegram",
                reporter_id="7",
                counted_since=hour,
            )

        found, recent = both("王家沟村")
        alone = recent_similar_candidates(s, village="王家沟村", group_id=None, since=week)
        assert (
            [r.id for r in found]
            == [r.id for r in alone]
            == sorted([*mine, fire, earlier, other], reverse=True)
        )
        assert found[0].text == "老窑洞裂缝"
        assert recent == count_recent_by_reporter(s, "telegram", "7", hour) == 3
        # No candidate at all (a village with no open hazard): still the sender's count.
        none, recent = both("庙坪村")
        assert (none, recent) == ([], 3)


def test_unknown_status_is_rejected(database: Database) -> None:
    with database.sessions.begin() as s:
        r = _hazard(s)
        with pytest.raises(ValueError):
            set_status(s, r, "fixed", "x")


def test_open_hazards_are_counted_and_paged_major_first(database: Database) -> None:
    """/清单's storage: a count and one page, major hazards first, anonymous ones only when asked for."""
    with database.sessions.begin() as s:
        general = [_hazard(s).id for _ in range(3)]
        major = _hazard(s, severity="major").id
        tip = _hazard(s, kind="tip", anonymous=True).id
        other = _hazard(s, village="庙坪村").id
        done = _hazard(s).id
        set_status(s, get_report(s, done), "rectified", "x")
    with database.sessions() as s:
        assert count_open(s) == 6 and count_open(s, include_anonymous=False) == 5
        assert count_open(s, village="王家沟村", include_anonymous=False) == 4
        assert [r.id for r in open_page(s, limit=3)] == [major, general[0], general[1]]
        assert [r.id for r in open_page(s, limit=3, offset=3)] == [general[2], tip, other]
        assert tip not in [r.id for r in open_page(s, include_anonymous=False)]
        assert [r.id for r in open_page(s, village="庙坪村")] == [other]


def test_reports_are_streamed_in_filing_order_with_limit_and_offset(database: Database) -> None:
    with database.sessions.begin() as s:
        ids = [_hazard(s).id for _ in range(7)]
        set_status(s, get_report(s, ids[1]), "closed", "x")
    with database.sessions() as s:
        assert [r.id for r in iter_reports(s, batch=2)] == ids
        assert [r.id for r in iter_reports(s, offset=2, limit=3, batch=2)] == ids[2:5]
        assert [r.id for r in iter_reports(s, statuses=["reported"], limit=2)] == [ids[0], ids[2]]
