"""Behaviour tests for loading, validating and compiling the rules file (handlers/rules.py)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pytest

import handlers.rules as rules_module
from handlers.rules import (
    DEFAULT_RULES,
    EVIDENCE_GATE,
    CompiledRules,
    Entry,
    PatternSet,
    build_keyword_trie,
    compile_rules,
    load_nouns,
    read_rules,
    text_keys,
)


@pytest.fixture(scope="module")
def compiled() -> CompiledRules:
    """The bundled rules, compiled once for the module (no jieba needed)."""
    return compile_rules(read_rules(DEFAULT_RULES), frozenset({"王家沟村"}))


def test_the_keyword_trie_finds_the_longest_keyword_at_every_position() -> None:
    """The trie returns the longest keyword starting at each position (overlapping keywords included), as
    trying every keyword there would."""
    words = ["一直往下", "往下滚", "往下", "气罐", "液化气罐", "液化气", "漏", "漏气", "断"]
    text = "石头一直往下滚，液化气罐漏气了，电线断了，往下"
    expected = [
        (start, max(found, key=len))
        for start in range(len(text))
        if (found := [w for w in words if text.startswith(w, start)])
    ]
    trie = build_keyword_trie(words)
    got = [(start, w) for start in range(len(text)) if (w := trie.longest_at(text, start)) is not None]
    assert got == expected
    assert (4, "往下滚") in got and (10, "气罐") in got  # inside or overlapping a longer keyword, still seen


def test_a_family_runs_only_where_the_character_pairs_of_its_words_occur() -> None:
    """A family's words give it pairs of adjacent characters a message must hold one of: "里屋没人" has every
    character of "(?:里头|里面)有人" but none of its pairs, so the family is skipped without a search."""
    family = (
        re.compile("(?:里头|里面)有人"),
        Entry(frozenset({"people_strong"}), None, 1.0),
        frozenset("有"),
    )
    patterns = PatternSet([family])
    assert patterns.for_text("里头有人") == [family]
    assert patterns.for_text("里屋没人 有头面") == []
    assert text_keys("里头有") == {"里", "头", "有", "里头", "头有"}


def test_no_shipped_family_is_skipped_where_it_matches(compiled: CompiledRules) -> None:
    """The character and pair indexes never skip a family whose regex matches a message holding one of its
    ``needs`` (every labelled case of the fixtures, both pattern sets)."""
    cases = Path(__file__).parent / "fixtures" / "classifier_cases.jsonl"
    texts = [
        json.loads(line)["text"] for line in cases.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    assert len(texts) > 200
    skipped = []
    for text in texts:
        for patterns in (compiled.evidence_patterns, compiled.modifier_patterns):
            chosen = {id(fam) for fam in patterns.for_text(text)}
            skipped += [
                (text, fam[1].source)
                for fam in patterns
                if id(fam) not in chosen
                and (not fam[2] or not fam[2].isdisjoint(text))
                and fam[0].search(text)
            ]
    assert skipped == []
    chosen_per_text = sum(len(compiled.evidence_patterns.for_text(t)) for t in texts) / len(texts)
    assert chosen_per_text < len(compiled.evidence_patterns) / 10  # and it does skip most of them


def test_longer_keywords_inherit_roles_of_shorter_ones(compiled: CompiledRules) -> None:
    # "非法开采" is an event in its own right and also illegal because it holds "非法"
    entry = compiled.entries["非法开采"]
    assert {"illegal", "event"} <= entry.roles
    assert entry.category == "mining"


def test_profile_places_become_place_keywords(compiled: CompiledRules) -> None:
    assert "place" in compiled.entries["王家沟村"].roles


def test_patterns_are_split_by_whether_they_can_supply_evidence(compiled: CompiledRules) -> None:
    assert compiled.evidence_patterns and compiled.modifier_patterns
    assert all(entry.roles & EVIDENCE_GATE for _, entry, _ in compiled.evidence_patterns)
    assert not any(entry.roles & EVIDENCE_GATE for _, entry, _ in compiled.modifier_patterns)


def test_every_category_has_a_rank(compiled: CompiledRules) -> None:
    assert sorted(compiled.category_rank.values()) == list(range(len(compiled.category_rank)))
    assert "other" in compiled.category_rank


def test_missing_and_mistyped_keys_are_named() -> None:
    rules = read_rules(DEFAULT_RULES)
    no_window = {**rules, "limits": {k: v for k, v in rules["limits"].items() if k != "pair_window"}}
    with pytest.raises(ValueError, match=r"missing key 'limits\.pair_window'"):
        compile_rules(no_window, frozenset())
    bad_type = {**rules, "tips": {**rules["tips"], "illegal_needs_target": "yes"}}
    with pytest.raises(ValueError, match=r"'tips\.illegal_needs_target' must be a bool"):
        compile_rules(bad_type, frozenset())


def test_invalid_regexes_are_named() -> None:
    rules = read_rules(DEFAULT_RULES)
    broken = {**rules, "frames": {**rules["frames"], "near_miss_pattern": "(差点"}}
    with pytest.raises(ValueError, match=r"'frames\.near_miss_pattern' is not a valid regex"):
        compile_rules(broken, frozenset())
    patterns = [{"name": "x", "roles": ["bad"], "regex": "[a"}]
    with pytest.raises(ValueError, match=r"'patterns\[0\]\.regex' \(x\) is not a valid regex"):
        compile_rules({**rules, "patterns": patterns}, frozenset())


def test_read_rules_reports_bad_toml_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text("this is = not [toml", encoding="utf-8")
    with pytest.raises(ValueError, match="invalid TOML"):
        read_rules(bad)
    with pytest.raises(ValueError, match="cannot read"):
        read_rules(tmp_path / "absent.toml")


def test_township_character_pairs_extend_and_override_the_generated_table() -> None:
    rules = read_rules(DEFAULT_RULES)
    compiled = compile_rules(rules, frozenset())
    assert compiled.char_table[ord("氣")] == "气" and compiled.char_table[ord("銲")] == "焊"
    extra = {**rules, "normalize": {**rules["normalize"], "chars": ["氣汽", "亍行"]}}
    table = compile_rules(extra, frozenset()).char_table
    assert (table[ord("氣")], table[ord("亍")], table[ord("電")]) == ("汽", "行", "电")
    without = {**rules, "normalize": {k: v for k, v in rules["normalize"].items() if k != "chars"}}
    assert compile_rules(without, frozenset()).char_table[ord("電")] == "电"


def test_self_mapped_and_repeated_character_pairs_are_refused() -> None:
    rules = read_rules(DEFAULT_RULES)
    for chars, message in (
        (["煤煤"], "两个不同的字"),
        (["氣气", "氣汽"], "写了两次"),
        (["氣"], "两个不同的字"),
    ):
        broken = {**rules, "normalize": {**rules["normalize"], "chars": chars}}
        with pytest.raises(ValueError, match=message):
            compile_rules(broken, frozenset())


# ---- word classes and dialect particles (round 12) ------------------------------------------------


def test_a_pattern_names_a_word_class_and_matches_any_of_its_words() -> None:
    rules = read_rules(DEFAULT_RULES)
    classes = {"people": ["放羊的", "娃娃"]}
    patterns = [{"name": "hurt", "roles": ["event"], "regex": "(?:{people})倒了"}]
    compiled = compile_rules({**rules, "classes": classes, "patterns": patterns}, frozenset())
    rx = compiled.evidence_patterns[0][0]
    assert rx.search("放羊的倒了") and rx.search("娃娃倒了") and not rx.search("羊倒了")


def test_an_unknown_word_class_is_named() -> None:
    rules = read_rules(DEFAULT_RULES)
    patterns = [{"name": "x", "roles": ["event"], "regex": "(?:{animals})倒了"}]
    with pytest.raises(ValueError, match=r"unknown word class '\{animals\}'"):
        compile_rules({**rules, "patterns": patterns}, frozenset())


def test_dialect_particles_follow_the_le_forms_of_each_root(compiled: CompiledRules) -> None:
    # 垮咯 / 断喽 are bad states like 垮了 / 断了; 倒了 is excluded, so 倒咯 is not generated either
    assert "bad" in compiled.entries["垮咯"].roles
    assert "bad" in compiled.entries["断喽"].roles
    assert "倒咯" not in compiled.entries


def test_the_noun_list_is_cached_and_follows_changes_to_the_dictionary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "cache"))
    monkeypatch.setattr(rules_module, "_CACHE_NOUNS_OVER", 10)  # cache even this small file
    (tmp_path / "cache").mkdir()
    words = tmp_path / "dict.txt"
    words.write_text("电杆 5 n\n跑 3 v\n", encoding="utf-8")
    tags = frozenset({"n"})
    assert load_nouns([words], tags, frozenset()) == {"电杆"}
    assert list((tmp_path / "cache").glob("anquan-nouns-*"))  # written for the next start-up
    assert load_nouns([words], tags, frozenset()) == {"电杆"}  # read back from the cache
    words.write_text("电杆 5 n\n堡坎 3 n\n", encoding="utf-8")
    os.utime(words, ns=(1, 2))  # a different modification time, as after an edit
    assert load_nouns([words], tags, frozenset({"电杆"})) == {"堡坎"}


def test_small_dictionaries_are_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    words = tmp_path / "userdict.txt"
    words.write_text("堡坎 5 n\n", encoding="utf-8")
    assert load_nouns([words], frozenset({"n"}), frozenset()) == {"堡坎"}
    assert not list(tmp_path.glob("anquan-nouns-*"))


def test_ongoing_danger_words_are_bad_states_and_an_older_rules_file_without_them_loads() -> None:
    rules = read_rules(DEFAULT_RULES)
    entries = compile_rules(rules, frozenset()).entries
    assert {"ongoing", "bad"} <= entries["在掉灰"].roles
    older = {**rules, "emergency": {k: v for k, v in rules["emergency"].items() if k != "ongoing"}}
    assert "在掉灰" not in compile_rules(older, frozenset()).entries
