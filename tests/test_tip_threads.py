"""Tests for storage.tip_threads: thread rows keep whole hours and no author for the tipster; purging keeps stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import Database
from storage import tip_threads
from storage.models import Attachment, Tip
from storage.officials import new_code
from storage.tips import create_tip

NOW = datetime(2026, 6, 10, 2, 37, 12, tzinfo=UTC)


def _tip(session, **fields) -> Tip:  # type: ignore[no-untyped-def]
    values = {
        "kind": "tip",
        "category": "mining",
        "severity": "major",
        "text": "后沟偷挖煤",
        "confidence": 0.9,
    }
    return create_tip(session, receipt_code=new_code(18), now=NOW, **(values | fields))


def test_the_tipsters_side_names_nobody_and_keeps_the_hour(database: Database) -> None:
    with database.sessions.begin() as s:
        tip = _tip(s)
        tip_threads.ask(s, tip, "在哪？", "刘主任(telegram:admin)", now=NOW)
        tip_threads.ask(s, tip, "几点？", "刘主任(telegram:admin)", now=NOW)
        assert tip_threads.mark_read(s, tip.id, now=NOW + timedelta(minutes=5)) == 2
        answer = tip_threads.supplement(s, tip, "后沟三岔口", now=NOW + timedelta(minutes=7))
        assert answer.author is None and answer.created_at == NOW.replace(minute=0, second=0)
        rows = tip_threads.thread(s, tip.id)
        assert [(m.seq, m.kind) for m in rows] == [(1, "question"), (2, "question"), (3, "answer")]
        assert all(m.read_at == NOW.replace(minute=0, second=0) for m in rows[:2])
        # Questions keep the hour too: their times can't bound when an answer between them was written.
        assert {m.created_at for m in rows} == {NOW.replace(minute=0, second=0)}
        assert tip_threads.open_questions(s, tip.id) == []


def test_purging_removes_text_thread_and_photos_but_keeps_the_reward(database: Database) -> None:
    with database.sessions.begin() as s:
        old = _tip(s)
        kept = _tip(s, text="还在办")
        tip_threads.ask(s, old, "在哪？", "刘主任", now=NOW)
        tip_threads.create_reward(
            s,
            old,
            category="general",
            fine_fen=None,
            computed_fen=50000,
            verified_by="刘主任",
            department="安全办",
            claim_days=60,
            now=NOW,
        )
        s.add(
            Attachment(
                id="p1",
                tip_id=old.id,
                role="before",
                sha256="a" * 64,
                size=1,
                mime="image/jpeg",
                created_at=NOW,
            )
        )
        old.status, kept.status = "closed", "rectifying"
        old.updated_at = kept.updated_at = NOW - timedelta(days=800)
        s.flush()
        found = tip_threads.purgeable(s, NOW - timedelta(days=730))
        assert [t.id for t in found] == [old.id]
        assert tip_threads.purge(s, found, now=NOW) == {"tips": 1, "messages": 1, "photos": 1}
        assert old.text == "" and old.purged_at is not None and old.category == "mining"
        assert tip_threads.get_reward(s, old.id) is not None
        assert tip_threads.purgeable(s, NOW - timedelta(days=730)) == []
