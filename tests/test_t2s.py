"""Tests for handlers.t2s: the generated traditional→simplified table, its loader and its generator, and that
the classifier folds traditional-character messages to the verdict of their simplified twins."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from handlers.classifier import Classifier
from handlers.rules_schema import RulesError
from handlers.t2s import DEFAULT_T2S, generate, load_table, opencc_dictionary, parse_opencc


def _pairs() -> list[tuple[str, str]]:
    lines = DEFAULT_T2S.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]  # type: ignore[misc]


def test_the_table_has_one_single_character_pair_per_traditional_character() -> None:
    pairs = _pairs()
    assert len(pairs) > 4000
    sources = [src for src, _ in pairs]
    assert len(sources) == len(set(sources))
    assert all(len(src) == 1 and len(dst) == 1 for src, dst in pairs)
    assert not [src for src, dst in pairs if src == dst]


def test_common_traditional_characters_are_folded() -> None:
    table = load_table()
    for trad, simp in {
        "氣": "气",
        "電": "电",
        "裡": "里",
        "裏": "里",
        "著": "着",
        "廚": "厨",
        "瀉": "泻",
    }.items():
        assert table[ord(trad)] == simp
    for (
        simplified
    ) in "气电里着覆瞭":  # simplified characters (and OpenCC's self-mapped ones) stay as they are
        assert ord(simplified) not in table


def test_the_header_says_where_the_table_comes_from() -> None:
    header = [line for line in DEFAULT_T2S.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    text = "\n".join(header)
    assert "OpenCC TSCharacters.txt" in text and "python -m handlers.t2s > handlers/data/t2s.tsv" in text


def test_the_first_simplified_form_wins_and_self_mappings_are_dropped() -> None:
    lines = ["乾\t干 乾", "瞭\t瞭 了", "鍊\t炼 链 𫔀", "# comment", "", "兩\t两"]
    assert parse_opencc(lines) == {"乾": "干", "鍊": "炼", "兩": "两"}


def test_a_malformed_table_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t2s.tsv"
    path.write_text("# header\n氣\t气\n電 电\n", encoding="utf-8")
    with pytest.raises(RulesError, match="第 3 行"):
        load_table(path)
    path.write_text("煤\t煤\n", encoding="utf-8")
    with pytest.raises(RulesError, match="第 1 行"):
        load_table(path)


@pytest.mark.skipif(importlib.util.find_spec("opencc") is None, reason="needs the maintain extra")
def test_regenerating_from_opencc_reproduces_the_shipped_file() -> None:
    from importlib import metadata

    generated = generate(opencc_dictionary(), metadata.version("opencc-python-reimplemented"))
    assert generated == DEFAULT_T2S.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("王家溝村東頭老窯洞裂了好寬的縫，下雨怕塌", "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"),
        ("廚房的煤氣罐閥門壞了，一直漏氣", "厨房的煤气罐阀门坏了，一直漏气"),
        ("後溝那個煤窯晚上偷偷開採，別說是我說的", "后沟那个煤窑晚上偷偷开采，别说是我说的"),
        ("明天幾點開會", "明天几点开会"),
    ],
)
def test_a_traditional_message_gets_the_verdict_of_its_simplified_twin(
    classifier: Classifier, traditional: str, simplified: str
) -> None:
    chat = "private" if "別說" in traditional else "group"
    assert classifier.normalize(traditional) == classifier.normalize(simplified)
    trad = classifier.classify(traditional, chat)
    simp = classifier.classify(simplified, chat)
    assert (trad.intent, trad.category, trad.severity, trad.location) == (
        simp.intent,
        simp.category,
        simp.severity,
        simp.location,
    )
