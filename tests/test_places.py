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
        # a village before 村口 or 村东头 is still a village; a bare 村口 is not
        ("赵屯村东头那根电线杆子歪得厉害", "赵屯村"),
        ("白岩村口变压器那根线被风刮断了", "白岩村"),
        ("洪水进村了 水都到窗台了", None),
        # jieba splits a family name off the village ("马家/河村"): the whole name is taken back
        ("校车陷泥里了 在马家河村口 水还在涨", "马家河村"),
        ("郭家洼村养猪场明天要下沼气池清渣", "郭家洼村"),
        # villages of the north-east and the south-west: 屯, 寨, 坳
        ("风是从杨柳屯村北边那个化工厂刮过来的", "杨柳屯村"),
        ("龙脊寨着火了！！杨家木楼烧起来了", "龙脊寨"),
        ("黄坳乡那个尾矿库坝坡有水渗出来", "黄坳乡"),
        ("诉求人反映寨上村不少村民在窑洞内烧蜂窝煤取暖", "寨上村"),
        ("侗寨鼓楼边上有游客放孔明灯", None),  # a kind of village, not a name
        # a road after a place is the place's road; a place before 的 ends there
        ("石门峁乡道上的护栏让车撞倒了一大截", "石门峁"),
        ("罗家坪的乡亲先别进去抢东西", "罗家坪"),
    ],
)
def test_find_location(
    rules: CompiledRules, tokenizer: jieba.Tokenizer, text: str, place: str | None
) -> None:
    assert find_location(text, _hits(rules, text), rules.places, tokenizer) == place


def test_has_place_is_a_cheap_precheck(rules: CompiledRules) -> None:
    assert not has_place("明天几点开会", _hits(rules, "明天几点开会"), rules.places)
    assert has_place("二十里铺", _hits(rules, "二十里铺"), rules.places)
