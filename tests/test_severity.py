"""Behaviour tests for the severity rule set (handlers/severity.py)."""

from __future__ import annotations

import re

import pytest

from handlers.hits import Hit
from handlers.rules import Entry, SeverityRules
from handlers.severity import assess_severity, grade, major_thing_failing

RULES = SeverityRules(
    crowd_re=re.compile("几十个人"),
    exposed_categories=frozenset({"building"}),
    danger_categories=frozenset({"building", "gas"}),
    venues=frozenset({"小学"}),
    venue_categories=frozenset({"geological"}),
    leak_categories=frozenset({"gas"}),
)


@pytest.mark.parametrize(
    ("present", "crowd", "category", "people_now", "venue_now", "expected"),
    [
        (set(), False, "building", False, False, "general"),
        ({"major"}, False, "other", False, False, "major"),  # A: major vocabulary
        ({"leak"}, False, "gas", False, False, "major"),  # A: a gas leak
        ({"leak"}, False, "water", False, False, "general"),  # a leak sign outside a leak category
        ({"people_strong"}, False, "building", False, False, "major"),  # B: many people, danger category
        ({"people_strong"}, False, "traffic", False, False, "general"),
        ({"people_weak", "exposure"}, False, "building", False, False, "major"),  # C
        ({"imminent"}, False, "traffic", True, False, "major"),  # D: people and imminence
        ({"imminent"}, False, "traffic", False, False, "general"),
        ({"ignition", "imminent"}, False, "fire", False, False, "major"),  # E
        ({"imminent"}, False, "geological", False, True, "major"),  # F: a venue
    ],
)
def test_grade(
    present: set[str], crowd: bool, category: str, people_now: bool, venue_now: bool, expected: str
) -> None:
    assert grade(RULES, present, crowd, False, category, people_now, venue_now) == expected


def test_intrinsic_is_always_major() -> None:
    assert grade(RULES, set(), False, True, "other", False) == "major"


def _hit(word: str, roles: set[str], clause: int = 0) -> Hit:
    return Hit(word, 0, len(word), Entry(frozenset(roles), None, 1.0), clause)


def test_a_venue_word_is_not_people() -> None:
    # "小学…随时" names a place, not people: rule D does not fire, rule F needs a venue category
    hits = [_hit("小学", {"people_weak"}), _hit("随时", {"imminent"})]
    present = {"people_weak", "imminent"}
    assert assess_severity(RULES, hits, lambda h: True, present, False, False, "traffic") == "general"
    assert assess_severity(RULES, hits, lambda h: True, present, False, False, "geological") == "major"


def test_major_thing_needs_evidence_in_its_clause() -> None:
    hits = [_hit("淤地坝", {"major_thing"}, clause=1)]
    assert major_thing_failing(hits, lambda h: True, {1})
    assert not major_thing_failing(hits, lambda h: True, {0})
    assert not major_thing_failing(hits, lambda h: False, {1})


def test_children_at_unguarded_water_every_day_are_exposed_in_the_shipped_rules() -> None:
    """DESIGN's example of a major hazard: children every day at an unguarded pond (rule C counts water)."""
    from handlers.rules import DEFAULT_RULES, compile_rules, read_rules

    shipped = compile_rules(read_rules(DEFAULT_RULES), frozenset()).severity
    assert grade(shipped, {"people_weak", "exposure"}, False, False, "water", False) == "major"
    assert grade(shipped, {"people_weak"}, False, False, "water", False) == "general"
