"""Behaviour tests for keyword and pattern scanning (handlers/hits.py)."""

from __future__ import annotations

import re

from handlers.hits import apply_patterns, clause_at, clause_breaks, roles_of, scan_keywords
from handlers.rules import Entry, build_keyword_trie

THING = Entry(frozenset({"thing"}), "electric", 1.0)
BAD = Entry(frozenset({"bad"}), None, 1.0)
IGNORE = Entry(frozenset({"ignore"}), None, 1.0)


def _scan(text: str, entries: dict[str, Entry]) -> list[tuple[str, int]]:
    trie = build_keyword_trie(entries)
    return [(h.word, h.clause) for h in scan_keywords(text, entries, trie)]


def test_longest_keyword_wins_and_clauses_are_counted() -> None:
    entries = {"电线": THING, "电线杆": THING, "歪了": BAD, "断": BAD}
    assert _scan("电线杆歪了，电线断", entries) == [("电线杆", 0), ("歪了", 0), ("电线", 1), ("断", 1)]


def test_an_ignore_phrase_hides_overlapping_keywords() -> None:
    entries = {"着火了": BAD, "看着火": IGNORE}
    assert _scan("看着火了", entries) == [("看着火", 0)]


def test_a_run_of_separators_closes_one_clause() -> None:
    text = "电线断了。。。 杆子歪了"
    assert clause_breaks(text) == [4]
    assert clause_at(text, text.index("杆")) == 1


def test_pattern_group_s_marks_the_hit_and_ignore_families_mask() -> None:
    families = [
        (re.compile("井盖(?P<s>没了)"), BAD, frozenset("没")),
        (re.compile("旱得地都裂了"), IGNORE, frozenset()),
    ]
    hits = apply_patterns("井盖没了", [], families)
    assert [(h.word, h.start, h.end) for h in hits] == [("没了", 2, 4)]
    masked = apply_patterns("旱得地都裂了", [], [(re.compile("裂了"), BAD, frozenset()), *families[1:]])
    assert masked == []
    assert roles_of(hits) == {"bad"}


def test_a_family_whose_needed_characters_are_absent_is_skipped() -> None:
    family = [(re.compile("."), BAD, frozenset("没"))]
    assert apply_patterns("电线断了", [], family) == []
