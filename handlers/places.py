"""Finding the named place a message is about.

A village name from the town profile (a gazetteer keyword) wins; otherwise a place is a run of Han
characters ending in a place suffix (村, 沟, 塔…) whose start and end fall on jieba word boundaries, shaped
by the ``[places]`` rules: generic place words (村里, 山沟) are not names, a road word or a person right
after a name ends it, and some prefix characters extend or stop the name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import jieba

from handlers.hits import Hit
from handlers.rules import PlaceRules

__all__ = ["find_location", "has_place"]

# characters of context kept on each side of the place suffixes when segmenting around them
_CONTEXT = 12
# the runs jieba segments independently (its own ``re_han_default``)
_BLOCK_RE = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")


def has_place(text: str, hits: Sequence[Hit], rules: PlaceRules) -> bool:
    """Cheap pre-check: only segment when a place suffix or a gazetteer name occurs."""
    suffixes = rules.suffixes
    return not suffixes.isdisjoint(text) or any("place" in h.entry.roles for h in hits)


def find_location(
    text: str, hits: Sequence[Hit], rules: PlaceRules, tokenizer: jieba.Tokenizer
) -> str | None:
    """Return the first named place: a gazetteer name, else a suffix-pattern name at jieba word bounds."""
    for hit in hits:
        if "place" in hit.entry.roles:
            return hit.word
    bounds = _word_bounds(text, tokenizer, [i for i, ch in enumerate(text) if ch in rules.suffixes])
    freq = tokenizer.FREQ
    for i, ch in enumerate(text):
        if ch not in rules.suffixes or i == 0 or text[i : i + 2] in rules.bad_follow:
            continue
        end = _name_end(text, i, bounds, rules)
        if end is None:
            continue
        name = _name_ending_at(text, i, end, bounds, freq, rules)
        if name is not None:
            return name
    return None


def _word_bounds(text: str, tokenizer: jieba.Tokenizer, positions: Sequence[int]) -> set[int]:
    """Return the offsets where jieba's words start and end, in the blocks holding ``positions``.

    jieba segments every run of Han characters and letters on its own, so segmenting only the runs that
    hold a place suffix gives the same bounds there at a fraction of the cost on long messages.
    """
    bounds: set[int] = set()
    for block in _BLOCK_RE.finditer(text):
        a, b = block.span()
        inside = [p for p in positions if a <= p < b]
        if not inside:
            continue
        # a name is decided by the few characters before its suffix: segment a window around the suffixes
        # (with some context on each side so jieba splits the same way), not a whole long run
        a = max(a, inside[0] - _CONTEXT)
        b = min(b, inside[-1] + _CONTEXT)
        pos = a
        for tok in tokenizer.lcut(text[a:b], HMM=False):
            bounds.add(pos)
            pos += len(tok)
        bounds.add(pos)
    return bounds


def _name_end(text: str, i: int, bounds: set[int], rules: PlaceRules) -> int | None:
    """Return where a place name with its suffix at ``i`` ends, or None if the suffix ends no name there.

    "高家塔村": the suffix plus a following 村 (镇, 乡) ends after it, and a suffix two characters before one
    ("寨上村") ends nothing; otherwise the name ends after the suffix if
    jieba ends a word there, the suffix is a strong one, or a road, a person or the suffix repeated follows.
    """
    ch = text[i]
    if text.startswith(rules.road_words, i):
        return None  # "乡道", "村道": a road, not the end of a place name
    after = text[i + 1 : i + 2]
    if ch != "村" and after == "村":
        return i + 2  # "高家塔村"
    if text.startswith(rules.road_words, i + 1):
        return i + 1  # "石门峁乡道": the place's road
    if ch != after and after in rules.strong_suffixes:
        return i + 2  # "黄坳乡"
    if (
        _HAN_RE.match(after)
        and after not in rules.bad_prefix
        and text[i + 2 : i + 3] in rules.strong_suffixes
    ):
        return None  # "寨上村": the name goes on to the village suffix
    if (i + 1) in bounds or ch in rules.strong_suffixes:
        return i + 1
    # "碾子沟老杨家", "高家塔乡道", "狼窝沟沟掌": a person, a road or the suffix repeated ends the name
    person = rules.person_after
    if (
        text.startswith(rules.road_words, i + 1)
        or text[i + 1 : i + 2] == ch
        or (person is not None and person.match(text, i + 1) is not None)
    ):
        return i + 1
    return None


def _name_ending_at(
    text: str, i: int, end: int, bounds: set[int], freq: dict[str, int], rules: PlaceRules
) -> str | None:
    """Return the place name whose suffix is at ``i`` (ending at ``end``), trying prefixes of growing
    length that start on a word boundary; None if no prefix makes a specific (non-generic) name."""
    with_village = end == i + 2
    for length in range(1, rules.max_prefix + 1):
        start = i - length
        if start < 0 or not _HAN_RE.match(text[start]):
            break
        if start not in bounds:
            continue
        first = text[start]
        if first in rules.extend_prefix:
            continue  # "家庄村" is the tail of "尚家庄村": look one character further back
        if first in rules.bad_prefix:
            break
        if text[start : i + 1] in rules.generic or text[start:end] in rules.generic:
            if with_village:
                continue  # "河湾" is generic, "大河湾村" is a village
            break
        if length == 1 and start > 0:
            start = _with_leading_char(text, start, bounds, freq, rules)
        return text[_with_family_name(text, start, rules) : end]
    return None


def _with_family_name(text: str, start: int, rules: PlaceRules) -> int:
    """Take back a family name jieba split off ("马家/河村", "杨家/岔村"): a name at or right after "X家" starts
    at X."""
    if start >= 1 and text[start] in rules.extend_prefix and text[start - 1] not in rules.bad_prefix:
        return start - 1 if _HAN_RE.match(text[start - 1]) else start
    if (
        start >= 2
        and text[start - 1] in rules.extend_prefix
        and _HAN_RE.match(text[start - 2])
        and text[start - 2] not in rules.bad_prefix
    ):
        return start - 2
    return start


def _with_leading_char(
    text: str, start: int, bounds: set[int], freq: dict[str, int], rules: PlaceRules
) -> int:
    """A one-character prefix often lost its first character to jieba: take it back when the two form a
    dictionary word ("黑龙沟村": 黑龙, not 龙) or jieba split it off alone ("崖 窑坪村")."""
    prev = text[start - 1]
    joined = freq.get(text[start - 1 : start + 1], 0) > 0
    if (joined or (start - 1) in bounds) and _HAN_RE.match(prev) and prev not in rules.bad_prefix:
        return start - 1
    return start
