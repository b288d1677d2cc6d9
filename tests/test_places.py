"""Behaviour tests for finding the named place of a message (handlers/places.py)."""

from __future__ import annotations

import warnings

import jieba
import pytest

from handlers.hits import Hit, scan_keywords
from handlers.places import find_location, has_place
from handlers.rules import DEFAULT_RULES, DEFAULT_USERDICT, CompiledRules, compile_rules, read_rules

PLACES = frozenset({"二十里铺"})


@pytest.fixture(scope="module")
def rules() -> CompiledRules:
    """The bundled rules with one gazetteer name, compiled once for the module."""
    return compile_rules(read_rules(DEFAULT_RULES), PLACES)


@pytest.fixture(scope="module")
def tokenizer() -> jieba.Tokenizer:
    """A jieba tokenizer set up as Classifier.load sets it up."""
    tok = jieba.Tokenizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok.initialize()
        tok.load_userdict(str(DEFAULT_USERDICT))
    for place in PLACES:
        tok.add_word(place, freq=50000)
    return tok


def _hits(rules: CompiledRules, text: str) -> list[Hit]:
    return scan_keywords(text, rules.entries, rules.keywords)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("二十里铺那座桥的护栏断了", "二十里铺"),  # a gazetteer name
        ("李家塔村村口那根电线杆歪了", "李家塔村"),  # a suffix name
        ("村里的电线断了", None),  # a generic place word
        ("山沟里的老煤窑口塌了", None),
    ],
)
def test_find_location(
    rules: CompiledRules, tokenizer: jieba.Tokenizer, text: str, place: str | None
) -> None:
    assert find_location(text, _hits(rules, text), rules.places, tokenizer) == place


def test_has_place_is_a_cheap_precheck(rules: CompiledRules) -> None:
    assert not has_place("明天几点开会", _hits(rules, "明天几点开会"), rules.places)
    assert has_place("二十里铺", _hits(rules, "二十里铺"), rules.places)
