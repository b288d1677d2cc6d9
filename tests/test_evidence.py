"""Behaviour tests for weighing evidence (handlers/evidence.py)."""

from __future__ import annotations

import pytest

from handlers.evidence import (
    Evidence,
    add_near_miss,
    count_events,
    gather_candidates,
    pair_states,
    vote_things,
)
from handlers.frames import scope_clauses, scopes_for
from handlers.hits import apply_patterns, roles_of, scan_keywords
from handlers.rules import DEFAULT_RULES, CompiledRules, compile_rules, read_rules


@pytest.fixture(scope="module")
def rules() -> CompiledRules:
    """The bundled rules, compiled once for the module."""
    return compile_rules(read_rules(DEFAULT_RULES), frozenset())


def _weigh(rules: CompiledRules, text: str) -> Evidence:
    hits = scan_keywords(text, rules.entries, rules.keywords)
    hits = apply_patterns(text, apply_patterns(text, hits, rules.evidence_patterns), rules.modifier_patterns)
    scopes = scopes_for(text, hits, scope_clauses(text, hits, rules.contrast_open), rules.frames)
    cands = gather_candidates(text, hits)
    ev = Evidence()
    pair_states(text, cands, scopes, rules.pair_window, rules.source_categories, ev)
    count_events(cands, roles_of(hits), scopes, ev)
    vote_things(cands, scopes, ev)
    add_near_miss(text, rules.frames.near_miss, scopes, ev)
    return ev


def test_a_thing_pairs_with_its_bad_state(rules: CompiledRules) -> None:
    ev = _weigh(rules, "电线断了")
    assert ev.words == ["电线+断了"]
    assert ev.score == 1.0
    assert max(ev.votes, key=ev.votes.__getitem__) == "electric"


def test_a_state_can_refer_to_a_thing_in_the_previous_clause(rules: CompiledRules) -> None:
    assert _weigh(rules, "墙上的电线，外皮都酥了").words == ["电线+酥了"]


def test_the_agent_after_rang_is_not_what_is_broken(rules: CompiledRules) -> None:
    # "让三轮车碰歪了电线杆": the tricycle did it; the pole is what is crooked
    assert _weigh(rules, "让三轮车碰歪了电线杆").words == ["电线杆+歪了"]


def test_a_lack_marker_next_to_a_lacking_item_is_a_bad_state(rules: CompiledRules) -> None:
    ev = _weigh(rules, "村西头修路挖的槽子晚上连个警示灯都没有")
    assert ev.score >= 1.0


def test_resolved_evidence_does_not_count(rules: CompiledRules) -> None:
    ev = _weigh(rules, "昨天说的那个漏电插座已经修好了")
    assert ev.score == 0.0 and ev.words == []


def test_a_near_miss_is_evidence_on_its_own(rules: CompiledRules) -> None:
    ev = _weigh(rules, "砖头从架子上往下撂 差点砸着一个过路的")
    assert any(w.startswith("差点") for w in ev.words)
