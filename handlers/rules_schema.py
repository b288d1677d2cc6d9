"""The strict schema of the classifier's data files: every section and key ``rules.toml`` may hold, with its type.

:data:`SCHEMA` is one readable tree; :func:`validate` checks a parsed rules file against it before anything
is compiled, and :func:`validate_userdict` checks the jieba user dictionary line by line. Errors are
:class:`RulesError` (a ValueError) naming the file, the section and the key in Chinese and English, with
the closest known name when a key looks like a typo. To declare a new section or key, add one line to
:data:`SCHEMA`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "BOOL",
    "CATEGORY",
    "CATEGORY_LIST",
    "CHARS",
    "INT",
    "NUMBER",
    "REGEX",
    "ROLE_LIST",
    "SCHEMA",
    "STR",
    "WORDS",
    "Leaf",
    "Names",
    "PerCategory",
    "RulesError",
    "Spec",
    "Table",
    "TableArray",
    "TextTable",
    "optional",
    "validate",
    "validate_userdict",
]


class RulesError(ValueError):
    """A data file of the classifier (rules, user dictionary, character table) cannot be used; the message
    names the file and the section and key, or the line, in Chinese and English."""


# --------------------------------------------------------------------------------------------------------
# the kinds of node a schema is built from


@dataclass(frozen=True)
class Leaf:
    """A single value: its type's name in Chinese and English, and the test the value must pass."""

    zh: str
    en: str
    test: Callable[[Any], bool]
    required: bool = True


@dataclass(frozen=True)
class Names:
    """A name, or a list of names, drawn from a fixed set (categories, pattern roles)."""

    zh: str
    en: str
    allowed: Callable[[], Sequence[str]]
    many: bool = True
    required: bool = True


@dataclass(frozen=True)
class Table:
    """A table with known keys (``[limits]``, ``[things.fire]``, one ``[[patterns]]`` entry)."""

    keys: Mapping[str, Spec]
    required: bool = True


@dataclass(frozen=True)
class PerCategory:
    """A table whose keys are categories (``[things.<category>]``); ``extra`` names other allowed keys."""

    value: Spec
    extra: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class TextTable:
    """A table with free keys, each holding a string (``[normalize.phrases]``: from → to)."""

    required: bool = True


@dataclass(frozen=True)
class TableArray:
    """An array of tables (``[[patterns]]``), each with the known keys of ``table``."""

    table: Table
    required: bool = True


Spec = Leaf | Names | Table | PerCategory | TextTable | TableArray
SpecT = TypeVar("SpecT", Leaf, Names, Table, PerCategory, TextTable, TableArray)


def optional(spec: SpecT) -> SpecT:
    """The same node, allowed to be absent."""
    return replace(spec, required=False)


def _is_words(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value)


def _categories() -> Sequence[str]:
    # imported late: handlers.rules imports this module to validate every file it reads
    from handlers.rules import CATEGORIES

    return CATEGORIES


def _pattern_roles() -> Sequence[str]:
    from handlers.rules import PATTERN_ROLES

    return sorted(PATTERN_ROLES)


STR = Leaf("字符串", "string", lambda v: isinstance(v, str))
CHARS = Leaf("一串字符（字符串）", "string of characters", lambda v: isinstance(v, str))
REGEX = Leaf("正则表达式（字符串）", "regular expression string", lambda v: isinstance(v, str))
INT = Leaf("整数", "integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
NUMBER = Leaf("数字", "number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
BOOL = Leaf("布尔值（true 或 false）", "boolean", lambda v: isinstance(v, bool))
WORDS = Leaf("词语列表（每项都是非空字符串）", "list of non-empty strings", _is_words)
CATEGORY = Names("类别", "category", _categories, many=False)
CATEGORY_LIST = Names("类别", "category", _categories)
ROLE_LIST = Names("作用（role）", "role", _pattern_roles)

# A keyword list per category, with optional weak (half weight) and strong (double weight) lists.
_WEIGHTED_WORDS = Table({"words": WORDS, "weak": optional(WORDS), "strong": optional(WORDS)})


# --------------------------------------------------------------------------------------------------------
# the rules file, section by section (what handlers/rules.py reads)

SCHEMA = Table(
    {
        "meta": optional(Table({"version": optional(INT), "town": optional(STR)})),
        "limits": Table(
            {"max_chars": INT, "pair_window": INT, "hazard_threshold": NUMBER, "concern_boost": NUMBER}
        ),
        # chars: township additions to the generated data/t2s.tsv table, two characters each (繁简)
        "normalize": Table({"chars": optional(WORDS), "phrases": TextTable()}),
        "places": Table(
            {
                "suffixes": CHARS,
                "max_prefix": INT,
                "generic": WORDS,
                "bad_prefix_chars": CHARS,
                "extend_prefix_chars": CHARS,
                "strong_suffixes": CHARS,
                "bad_following": WORDS,
                "road_words": optional(WORDS),
                "person_after": optional(REGEX),
            }
        ),
        "category": Table(
            {
                "priority": CATEGORY_LIST,
                "source_categories": CATEGORY_LIST,
                "combos": optional(TableArray(Table({"any": WORDS, "with": WORDS, "category": CATEGORY}))),
            }
        ),
        "things": PerCategory(_WEIGHTED_WORDS),
        "things_specific": PerCategory(WORDS),
        "state_categories": PerCategory(Table({"words": WORDS})),
        "generic_things": Table({"words": WORDS}),
        "generic_nouns": Table({"pos": WORDS, "exclude": WORDS, "weight": NUMBER}),
        "states": Table(
            {
                "bad": WORDS,
                "strong": WORDS,
                "piles": WORDS,
                "near": WORDS,
                "lack_markers": WORDS,
                "lack_items": WORDS,
            }
        ),
        "events": PerCategory(_WEIGHTED_WORDS),
        "acts": PerCategory(_WEIGHTED_WORDS),
        "signals": optional(PerCategory(Table({"words": WORDS}), extra=("any",))),
        "morphology": optional(
            Table(
                {
                    "roots": WORDS,
                    "strong_roots": WORDS,
                    "passive": WORDS,
                    "passive_gap": INT,
                    "gap_roots": WORDS,
                    "suffixes": WORDS,
                    "le_like": optional(WORDS),
                    "exclude": WORDS,
                }
            )
        ),
        "negation": Table({"clause": WORDS, "message": WORDS}),
        "resolution": Table({"words": WORDS, "contrast": WORDS, "contrast_open": CHARS}),
        "frames": Table(
            {
                "news": WORDS,
                "notice": WORDS,
                "question": WORDS,
                "figurative": WORDS,
                "concern": WORDS,
                "complaint": WORDS,
                "service": WORDS,
                "local": WORDS,
                "past": WORDS,
                "past_strong": WORDS,
                "thanks": WORDS,
                "present": WORDS,
                "reporting": WORDS,
                "near_miss_pattern": REGEX,
                "figurative_pattern": REGEX,
                "explained_pattern": REGEX,
                "resolved_pattern": REGEX,
            }
        ),
        "tips": Table(
            {
                "illegal": WORDS,
                "anonymity": WORDS,
                "report": WORDS,
                "targets": WORDS,
                "anonymity_pattern": REGEX,
                "conduct_pattern": REGEX,
                "private_conduct_pattern": REGEX,
                "illegal_needs_target": BOOL,
            }
        ),
        "severity": Table(
            {
                "people_strong": WORDS,
                "people_weak": WORDS,
                "imminent": WORDS,
                "major": WORDS,
                "critical": WORDS,
                "major_things": WORDS,
                "leak_signs": WORDS,
                "ignition": WORDS,
                "exposure": WORDS,
                "exposed_categories": CATEGORY_LIST,
                "danger_categories": CATEGORY_LIST,
                "venue_categories": CATEGORY_LIST,
                "leak_categories": CATEGORY_LIST,
                "venues": WORDS,
                "crowd_pattern": REGEX,
            }
        ),
        "emergency": optional(Table({"markers": WORDS, "events": WORDS, "ongoing": optional(WORDS)})),
        # word classes a pattern's regex names as {people} or {vehicles}
        "classes": optional(Table({"people": optional(WORDS), "vehicles": optional(WORDS)})),
        "non_safety": optional(Table({"words": WORDS, "safety": WORDS})),
        "formal": Table({"markers": WORDS, "terms": WORDS, "weak_terms": WORDS}),
        "ignore": Table({"words": WORDS}),
        "patterns": optional(
            TableArray(
                Table(
                    {
                        "name": STR,
                        "roles": ROLE_LIST,
                        "category": optional(CATEGORY),
                        "weight": optional(NUMBER),
                        "regex": REGEX,
                        "needs": optional(CHARS),
                    }
                )
            )
        ),
    }
)


# --------------------------------------------------------------------------------------------------------
# validation


_TYPE_NAMES = {
    "str": ("字符串", "string"),
    "int": ("整数", "integer"),
    "float": ("小数", "float"),
    "bool": ("true/false", "boolean"),
    "list": ("列表", "list"),
    "dict": ("表", "table"),
}


@dataclass(frozen=True)
class _Where:
    """Where a value sits in the file: its dotted key, and the sections it is written in and opens."""

    file: str
    dotted: str = ""  # "limits.max_chars", "patterns[2].regex"
    name: str = ""  # the last key: "max_chars"
    parent: str = ""  # the section the key is written under, as shown: "[limits]" ("" at the top)
    label: str = ""  # how this value reads as a section itself: "[things.fire]", "[[patterns]] 第 3 个"

    def key(self, name: str) -> _Where:
        """The place of key ``name`` inside this table."""
        dotted = f"{self.dotted}.{name}" if self.dotted else name
        return _Where(self.file, dotted, name, self.label, f"[{dotted}]")

    def item(self, index: int, note: str) -> _Where:
        """The place of the ``index``-th table of this array of tables."""
        label = f"[[{self.dotted}]] 第 {index + 1} 个{note}"
        return _Where(self.file, f"{self.dotted}[{index}]", self.name, self.parent, label)

    def owner(self) -> str:
        """How the township finds this value: a key in its section, or a whole section."""
        return f'{self.parent} 的 "{self.name}"' if self.parent else self.label


def _fail(where: _Where, zh: str, en: str) -> RulesError:
    return RulesError(f"{where.file}：{zh} / {en}")


def _suggest(name: str, known: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _allowed_text(hint: str | None, allowed: Sequence[str]) -> tuple[str, str]:
    zh = (f'是不是 "{hint}"？' if hint else "") + f"可用：{'、'.join(allowed)}"
    en = (f"did you mean '{hint}'? " if hint else "") + f"allowed: {', '.join(allowed)}"
    return zh, en


def validate(rules: Mapping[str, Any], path: Path) -> None:
    """Check a parsed rules file against :data:`SCHEMA`; raise RulesError naming file, section and key.

    Unknown sections and keys are errors (with the closest known name), as are wrong types, unknown
    categories and missing required sections and keys.
    """
    root = _Where(str(path))
    # unknown names first: a misspelt required section is reported as the typo it is, not as missing
    for name in rules:
        if name not in SCHEMA.keys:
            hint = _suggest(name, SCHEMA.keys)
            zh = f"未知的段 [{name}]" + (f"（是不是 [{hint}]？）" if hint else "")
            en = f"unknown section [{name}]" + (f" (did you mean [{hint}]?)" if hint else "")
            raise _fail(root, zh, en + "; new sections are declared in handlers/rules_schema.py")
    for name, spec in SCHEMA.keys.items():
        if spec.required and name not in rules:
            raise _fail(root, f"缺少段 [{name}]", f"missing section [{name}]")
    for name, value in rules.items():
        _check(SCHEMA.keys[name], value, root.key(name))


def _check(spec: Spec, value: Any, where: _Where) -> None:
    """Check one value against its node of the schema."""
    if isinstance(spec, Leaf):
        if not spec.test(value):
            _wrong_type(value, where, spec.zh, spec.en)
    elif isinstance(spec, Names):
        _check_names(spec, value, where)
    elif isinstance(spec, Table):
        _check_table(spec, value, where)
    elif isinstance(spec, PerCategory):
        _check_per_category(spec, value, where)
    elif isinstance(spec, TextTable):
        if not isinstance(value, dict):
            _wrong_type(value, where, '表（每项：原文 = "替换成"）', "table of strings")
        for key, text in value.items():
            if not isinstance(text, str):
                _wrong_type(text, where.key(key), "字符串", "string")
    else:
        _check_array(spec, value, where)


def _wrong_type(value: Any, where: _Where, zh: str, en: str) -> None:
    got = type(value).__name__
    got_zh, got_en = _TYPE_NAMES.get(got, (got, got))
    if isinstance(value, list):
        bad = next((i for i, v in enumerate(value) if not isinstance(v, str) or not v.strip()), None)
        if bad is not None:
            got_zh += f"，第 {bad + 1} 项是 {value[bad]!r}"
            got_en += f" whose item {bad + 1} is {value[bad]!r}"
    raise _fail(
        where,
        f"{where.owner()} 应该是{zh}，现在是{got_zh}",
        f"'{where.dotted}' must be {_article(en)} {en}, got {got_en}",
    )


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def _check_names(spec: Names, value: Any, where: _Where) -> None:
    if spec.many and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        _wrong_type(value, where, f"{spec.zh}列表", f"list of {spec.en} names")
    if not spec.many and not isinstance(value, str):
        _wrong_type(value, where, f"{spec.zh}名", f"{spec.en} name")
    allowed = spec.allowed()
    for name in value if spec.many else [value]:
        if name not in allowed:
            hint_zh, hint_en = _allowed_text(_suggest(name, allowed), allowed)
            raise _fail(
                where,
                f'{where.owner()} 里有未知的{spec.zh} "{name}"（{hint_zh}）',
                f"unknown {spec.en} '{name}' in '{where.dotted}' ({hint_en})",
            )


def _check_table(spec: Table, value: Any, where: _Where) -> None:
    if not isinstance(value, dict):
        _wrong_type(value, where, "表（table）", "table")
    for key in value:
        if key not in spec.keys:
            _unknown_key(key, list(spec.keys), where)
    for key, sub in spec.keys.items():
        if sub.required and key not in value:
            raise _fail(where, f'{where.label} 缺少键 "{key}"', f"missing key '{where.key(key).dotted}'")
    for key, item in value.items():
        _check(spec.keys[key], item, where.key(key))


def _unknown_key(key: str, known: list[str], where: _Where) -> None:
    hint = _suggest(key, known)
    zh = f'{where.label} 里有未知的键 "{key}"'
    zh += f'（是不是 "{hint}"？）' if hint else f"（可用的键：{'、'.join(known)}）"
    en = f"unknown key '{where.key(key).dotted}'"
    en += f" (did you mean '{where.key(hint).dotted}'?)" if hint else f" (known keys: {', '.join(known)})"
    raise _fail(where, zh, en)


def _check_per_category(spec: PerCategory, value: Any, where: _Where) -> None:
    if not isinstance(value, dict):
        _wrong_type(value, where, f"按类别分的表（[{where.dotted}.类别]）", "table of categories")
    allowed = [*_categories(), *spec.extra]
    for cat, item in value.items():
        if cat not in allowed:
            hint_zh, hint_en = _allowed_text(_suggest(cat, allowed), allowed)
            raise _fail(
                where,
                f'{where.label} 里没有 "{cat}" 这个类别（{hint_zh}）',
                f"unknown category '{where.key(cat).dotted}' ({hint_en})",
            )
        _check(spec.value, item, where.key(cat))


def _check_array(spec: TableArray, value: Any, where: _Where) -> None:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        _wrong_type(value, where, f"表数组（[[{where.dotted}]]）", "array of tables")
    for i, item in enumerate(value):
        note = f'（name = "{item["name"]}"）' if isinstance(item.get("name"), str) else ""
        _check_table(spec.table, item, where.item(i, note))


# --------------------------------------------------------------------------------------------------------
# the jieba user dictionary

# one entry: a word without spaces, then optionally a frequency and a part-of-speech tag (jieba's format)
_USERDICT_LINE = re.compile(r"^(\S+)(?: +([0-9]+))?(?: +([a-zA-Z]+))?$")


def validate_userdict(path: Path) -> None:
    """Check that the jieba user dictionary exists and every line is "词 [词频] [词性]".

    Raises RulesError naming the file (and the line) in Chinese and English.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulesError(
            f"找不到或读不了分词词典文件 {path} / cannot read user dictionary {path}: {exc.strerror}"
        ) from exc
    for lineno, raw in enumerate(data.splitlines(), 1):
        try:
            line = raw.decode("utf-8").lstrip("\ufeff").strip()
        except UnicodeDecodeError as exc:
            raise RulesError(
                f"分词词典 {path} 第 {lineno} 行不是 UTF-8 编码 / {path} line {lineno}: not UTF-8"
            ) from exc
        if line and not _USERDICT_LINE.match(line):
            raise RulesError(
                f"分词词典 {path} 第 {lineno} 行格式不对：{line!r}（应为“词 词频 词性”，例如“液化气罐 2000 n”）"
                f' / {path} line {lineno}: expected "word [freq] [tag]", got {line!r}'
            )
