"""The start-up caches: a warm start gives exactly what a cold one computes, and no cache problem is an error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers import startup_cache
from handlers.classifier import Classifier
from handlers.model import DEFAULT_MODEL, TextModel
from handlers.rules import DEFAULT_RULES, compile_rules, read_rules
from handlers.startup_cache import RegexCache, cache_path, cached


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own temporary directory, so caches start cold and nothing leaks between tests."""
    monkeypatch.setattr(startup_cache.tempfile, "gettempdir", lambda: str(tmp_path))
    return tmp_path


def _rule_patterns() -> list[str]:
    """Every regex the shipped rules compile (recorded through the compile hook)."""
    seen: list[str] = []

    def record(pattern: str) -> re.Pattern[str]:
        seen.append(pattern)
        return re.compile(pattern)

    compile_rules(read_rules(DEFAULT_RULES), frozenset({"王家沟村"}), record)
    return seen


def test_cached_programs_make_the_same_regexes_as_re_compile() -> None:
    patterns = _rule_patterns()
    assert len(patterns) > 100
    cold = RegexCache("t", ["rules"])
    first = [cold.compile(p) for p in patterns]
    cold.save()
    warm = RegexCache("t", ["rules"])
    second = [warm.compile(p) for p in patterns]
    texts = [
        "村东头老窑洞裂了好宽的缝，下雨怕塌，底下还住着一家人",
        "快来人，后山着火了，往村里烧过来了，有人被困在屋里出不来",
        "三轮车翻到沟里了，开车的人叫不醒",
        "别把柴火点着了，小心把房子引着了",
        "王家沟村消防通道被堵，电线断了还冒火花",
    ]
    for pattern, a, b in zip(patterns, first, second, strict=True):
        # pattern objects compare equal only with the same source, flags and compiled program
        assert a == b
        plain = re.compile(pattern)
        assert a.pattern == plain.pattern and a.flags == plain.flags and a.groupindex == plain.groupindex
        # the stored programs carry first-character gates (look-aheads implied by the regex): same matches
        for text in texts:
            assert [m.groupdict() | {"": m.span()} for m in a.finditer(text)] == [
                m.groupdict() | {"": m.span()} for m in plain.finditer(text)
            ]


def test_a_warm_classifier_judges_exactly_as_a_cold_one() -> None:
    texts = [
        "村东头老窑洞裂了好宽的缝，下雨怕塌",
        "王家沟村消防通道被堵",
        "快来人，后山着火了，往村里烧过来了",
        "今天天气不错",
        "我要匿名举报，有人在河边私挖煤窑",
    ]
    cold = Classifier.load(places=["王家沟村"])
    warm = Classifier.load(places=["王家沟村"])  # the regexes now come from the cache written above
    assert [warm.classify(t) for t in texts] == [cold.classify(t) for t in texts]


def test_a_broken_cache_file_is_computed_again(private_tmp: Path) -> None:
    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"a": len(calls)}

    path = cache_path("thing", [b"key"])
    path.write_bytes(b"\x00 not marshal")
    assert cached("thing", [b"key"], build) == {"a": 1}
    assert cached("thing", [b"key"], build) == {"a": 1}  # now from the cache
    assert calls == [1]

    path = cache_path("regex-t", ["k"])
    path.write_bytes(b"garbage")
    assert RegexCache("t", ["k"]).compile("a(?P<s>b)c").match("abc") is not None


def test_a_stored_program_from_another_interpreter_is_replaced() -> None:
    cache = RegexCache("t", ["k"])
    cache._programs["ab"] = (32, [999999], 0, {}, (None,))  # an opcode no interpreter has
    assert cache.compile("ab").match("ab") is not None


def test_different_data_never_share_a_cache() -> None:
    assert cache_path("rules", [b"one"]) != cache_path("rules", [b"two"])
    assert cache_path("rules", [b"one"]) != cache_path("model", [b"one"])


def test_a_read_only_temporary_directory_only_costs_time(private_tmp: Path) -> None:
    private_tmp.chmod(0o500)
    try:
        assert cached("thing", [b"k"], lambda: [1, 2]) == [1, 2]
        cache = RegexCache("t", ["k"])
        cache.compile("x+")
        cache.save()
    finally:
        private_tmp.chmod(0o700)


def test_a_bad_regex_is_still_an_error() -> None:
    with pytest.raises(re.error):
        RegexCache("t", ["k"]).compile("(unclosed")


def test_rules_read_from_the_cache_equal_the_file(tmp_path: Path) -> None:
    first = read_rules(DEFAULT_RULES)
    second = read_rules(DEFAULT_RULES)  # from the cache
    assert first == second
    second["limits"]["max_chars"] = 1  # each caller gets its own copy to change
    assert read_rules(DEFAULT_RULES)["limits"] == first["limits"]


def test_an_edited_rules_file_is_read_afresh(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    before = read_rules(path)["limits"]["max_chars"]
    path.write_text(text.replace(f"max_chars = {before}", f"max_chars = {before + 1}", 1), encoding="utf-8")
    assert read_rules(path)["limits"]["max_chars"] == before + 1


def test_the_model_from_the_cache_equals_the_artifact() -> None:
    fresh = TextModel.load(DEFAULT_MODEL)
    again = TextModel.load(DEFAULT_MODEL)
    assert again == fresh
    assert again.score("电线着火了") == fresh.score("电线着火了")


def test_a_broken_model_file_still_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.json.gz"
    path.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match=r"model\.json\.gz"):
        TextModel.load(path)
    with pytest.raises(ValueError, match="找不到"):
        TextModel.load(tmp_path / "absent.json.gz")
