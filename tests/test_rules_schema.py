"""Tests for handlers.rules_schema: the shipped rules file passes, and every kind of mistake a township can
make in it (or in the user dictionary) is named by file, section and key (or line)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from handlers.rules import DEFAULT_RULES, DEFAULT_USERDICT, LIST_ROLES, read_rules
from handlers.rules_schema import (
    SCHEMA,
    WORDS,
    RulesError,
    Table,
    validate,
    validate_userdict,
)

BUNDLED = DEFAULT_RULES.read_text(encoding="utf-8")


@pytest.fixture
def rules() -> dict[str, Any]:
    """A fresh copy of the parsed bundled rules, free to break."""
    return copy.deepcopy(read_rules(DEFAULT_RULES))


def _error(rules: dict[str, Any], path: Path = Path("rules.toml")) -> str:
    with pytest.raises(RulesError) as info:
        validate(rules, path)
    return str(info.value)


def _read_error(path: Path) -> str:
    with pytest.raises(RulesError) as info:
        read_rules(path)
    return str(info.value)


def _broken_file(tmp_path: Path, old: str, new: str) -> Path:
    assert BUNDLED.count(old) == 1, old
    path = tmp_path / "本镇规则.toml"
    path.write_text(BUNDLED.replace(old, new), encoding="utf-8")
    return path


def test_the_shipped_rules_file_validates() -> None:
    validate(read_rules(DEFAULT_RULES), DEFAULT_RULES)


def test_every_keyword_list_the_compiler_reads_is_declared() -> None:
    """A list role added to handlers/rules.py without its schema line would reject every rules file."""
    for section, key in LIST_ROLES.values():
        table = SCHEMA.keys[section]
        assert isinstance(table, Table) and table.keys[key].test == WORDS.test, f"{section}.{key}"


def test_a_typo_in_a_key_names_file_section_key_and_the_right_key(tmp_path: Path) -> None:
    path = _broken_file(tmp_path, "\nquestion = [", "\nqustion = [")
    message = _read_error(path)
    assert message.startswith(f'{path}：[frames] 里有未知的键 "qustion"（是不是 "question"？）')
    assert "unknown key 'frames.qustion' (did you mean 'frames.question'?)" in message


def test_an_unknown_key_without_a_close_match_lists_the_known_keys(rules: dict[str, Any]) -> None:
    rules["limits"]["zzz"] = 3
    message = _error(rules)
    assert 'rules.toml：[limits] 里有未知的键 "zzz"（可用的键：max_chars、pair_window' in message
    assert "unknown key 'limits.zzz'" in message


def test_a_wrong_type_names_the_expected_type(tmp_path: Path) -> None:
    path = _broken_file(tmp_path, "max_chars = 500", 'max_chars = "500"')
    message = _read_error(path)
    assert f'{path}：[limits] 的 "max_chars" 应该是整数，现在是字符串' in message
    assert "'limits.max_chars' must be an integer, got string" in message


def test_a_bad_item_in_a_word_list_is_pointed_at(rules: dict[str, Any]) -> None:
    rules["things"]["fire"]["words"] = ["柴堆", "  ", "炉子"]
    message = _error(rules)
    assert '[things.fire] 的 "words" 应该是词语列表' in message and "第 2 项是 '  '" in message


def test_an_unknown_category_names_the_allowed_ones(tmp_path: Path) -> None:
    path = _broken_file(tmp_path, "[things.mining]", "[things.minning]")
    message = _read_error(path)
    assert f'{path}：[things] 里没有 "minning" 这个类别（是不是 "mining"？可用：fire、gas、' in message
    assert "unknown category 'things.minning'" in message and "special_equipment" in message


def test_an_unknown_category_in_a_category_list_is_named(rules: dict[str, Any]) -> None:
    rules["severity"]["leak_categories"] = ["gas", "chemicals"]
    message = _error(rules)
    assert '[severity] 的 "leak_categories" 里有未知的类别 "chemicals"（是不是 "chemical"？' in message


def test_an_unknown_section_suggests_the_closest(tmp_path: Path) -> None:
    path = _broken_file(tmp_path, "\n[negation]\n", "\n[negaton]\n")
    message = _read_error(path)
    assert f"{path}：未知的段 [negaton]（是不是 [negation]？）" in message


def test_missing_sections_and_keys_are_named(rules: dict[str, Any]) -> None:
    del rules["tips"]["conduct_pattern"]
    assert "[tips] 缺少键 \"conduct_pattern\" / missing key 'tips.conduct_pattern'" in _error(rules)
    del rules["tips"]
    assert "缺少段 [tips]" in _error(rules)


def test_a_pattern_entry_is_named_by_its_position_and_name(rules: dict[str, Any]) -> None:
    name = rules["patterns"][1]["name"]
    rules["patterns"][1]["rgex"] = rules["patterns"][1].pop("regex")
    message = _error(rules)
    assert f'[[patterns]] 第 2 个（name = "{name}"） 里有未知的键 "rgex"（是不是 "regex"？）' in message
    assert "'patterns[1].rgex'" in message


def test_optional_keys_may_be_left_out(rules: dict[str, Any]) -> None:
    del rules["normalize"]["chars"]
    del rules["places"]["road_words"]
    del rules["meta"]
    validate(rules, DEFAULT_RULES)


def test_the_bundled_user_dictionary_is_well_formed() -> None:
    validate_userdict(DEFAULT_USERDICT)


def test_a_malformed_user_dictionary_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "userdict.txt"
    path.write_text("液化气罐 2000 n\n\n碾盘 很多 n\n", encoding="utf-8")
    with pytest.raises(RulesError) as info:
        validate_userdict(path)
    message = str(info.value)
    assert f"分词词典 {path} 第 3 行格式不对：'碾盘 很多 n'" in message
    path.write_text("液化气罐\n石磙子 n\n窑洞 3000\n", encoding="utf-8")
    validate_userdict(path)  # frequency and tag are each optional, as in jieba


def test_a_missing_user_dictionary_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "没有这个.txt"
    with pytest.raises(RulesError, match=f"找不到或读不了分词词典文件 {missing}"):
        validate_userdict(missing)


def test_a_typo_in_a_word_class_name_is_named(rules: dict[str, Any]) -> None:
    rules["classes"]["peoples"] = rules["classes"].pop("people")
    message = _error(rules)
    assert '[classes] 里有未知的键 "peoples"（是不是 "people"？）' in message


def test_dialect_particles_must_be_a_word_list(rules: dict[str, Any]) -> None:
    rules["morphology"]["le_like"] = "咯"
    message = _error(rules)
    assert '[morphology] 的 "le_like" 应该是词语列表' in message
