"""Is a new hazard the same object at the same place as an open one? What, where, and how close the wording is.

A message is described by its objects (the hazard's things, synonyms folded), the marks that tell instances
apart (owner, number, direction, landmark, named place), the words in front of each object (粮站旁边的电线)
and whether it says "again" (又, 比上次). The rules and word lists live in ``handlers/data/duplicates.toml``
so a township can edit them.
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_RULES = Path(__file__).parent / "data" / "duplicates.toml"

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_CN_DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_NUMERAL = r"\d+|[零〇一二两三四五六七八九十百]+"
_CLAUSE = re.compile(r"[\s，。！？、；：,.!?;:\u3000]+")
_GAP = "\u3000"  # what a place name is blanked with, so no mark is read across it


class DuplicateRulesError(ValueError):
    """The duplicates rules file is not valid."""


def bigrams(text: str) -> set[str]:
    """The set of adjacent character pairs of ``text`` without spaces and punctuation."""
    clean = _NOISE.sub("", text)
    return {clean[i : i + 2] for i in range(len(clean) - 1)} or ({clean} if clean else set())


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of the two texts' bigrams, 0 (nothing shared) to 1 (same)."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def _number(raw: str) -> str:
    """A numeral as written (3, 三, 十二, 二十) as a plain decimal string."""
    if raw.isdigit():
        return str(int(raw))
    if all(ch in _CN_DIGITS for ch in raw):
        return "".join(str(_CN_DIGITS[ch]) for ch in raw)
    tens, _, ones = raw.partition("十")
    if "百" in raw or "十" not in raw:
        return raw  # rare forms are compared as written
    return str((_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0))


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@dataclass(frozen=True)
class DuplicateRules:
    """The editable rules of duplicates.toml, compiled: word lists, patterns and thresholds."""

    close: float
    close_with_marker: float
    max_candidates: int
    markers: tuple[str, ...]
    objects: dict[str, str]
    object_pattern: re.Pattern[str]
    fillers: re.Pattern[str]
    landmarks: dict[str, str]
    landmark_pattern: re.Pattern[str]
    owner_pattern: re.Pattern[str]
    owner_titles: tuple[str, ...]
    not_owners: frozenset[str]
    first_person: re.Pattern[str]
    number_pattern: re.Pattern[str]
    number_kinds: dict[str, str]
    ordinal_pattern: re.Pattern[str]
    direction_pattern: re.Pattern[str]

    @classmethod
    def load(cls, path: Path | str | None = None) -> DuplicateRules:
        """Read and check the rules file (the bundled one by default); raise DuplicateRulesError in Chinese."""
        where = Path(path) if path else DEFAULT_RULES
        try:
            data = tomllib.loads(where.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DuplicateRulesError(f"重复隐患规则文件 {where} 读不出来：{exc}") from exc
        return cls.from_dict(data, str(where))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "duplicates.toml") -> DuplicateRules:
        """Compile rules from parsed TOML; ``where`` names the file in error messages."""
        r = _Reader(data, where)
        objects = r.groups("objects")
        landmarks = r.groups("landmarks")
        units = r.pairs("numbers", "units")
        surnames = r.chars("owners", "surnames")
        stop = r.chars("owners", "not_in_name")
        given = r.integer("owners", "max_given", 0, 4)
        prefixes = r.words("owners", "prefixes", allow_empty=True)
        # 老?王 + up to ``given`` name characters + 家, unless 家 starts a place name (王家沟)
        prefix = f"(?:{_alternation(prefixes)})?" if prefixes else ""
        name = f"[{re.escape(surnames)}][^\\W\\d_{re.escape(stop)}]{{0,{given}}}?"
        place_after = re.escape(r.chars("owners", "place_after"))
        owner = f"{prefix}({name})家(?![{place_after}])"
        directions = r.chars("directions", "words")
        after = r.words("directions", "after")
        before = r.words("directions", "before")
        return cls(
            close=r.fraction("wording", "close"),
            close_with_marker=r.fraction("wording", "close_with_marker"),
            max_candidates=r.integer("candidates", "max", 1, 1000),
            markers=tuple(r.words("repeat", "markers")),
            objects=objects,
            object_pattern=re.compile(_alternation(objects)),
            fillers=re.compile(_alternation(r.words("qualifiers", "fillers", allow_empty=True)) or "(?!)"),
            landmarks=landmarks,
            landmark_pattern=re.compile(_alternation(landmarks)),
            owner_pattern=re.compile(owner),
            owner_titles=tuple(sorted(r.words("owners", "titles", allow_empty=True), key=len, reverse=True)),
            not_owners=frozenset(r.words("owners", "not_owners", allow_empty=True)),
            first_person=re.compile(
                _alternation(r.words("owners", "first_person", allow_empty=True)) or "(?!)"
            ),
            number_pattern=re.compile(f"({_NUMERAL})\\s*({_alternation(u for u, _ in units)})"),
            number_kinds=dict(units),
            ordinal_pattern=re.compile(f"第({_NUMERAL})([{re.escape(r.chars('numbers', 'ordinal_units'))}])"),
            direction_pattern=re.compile(
                f"(?:{_alternation(before)})([{directions}])|([{directions}])(?:{_alternation(after)})"
            ),
        )


class _Reader:
    """Typed access to the parsed TOML with Chinese errors naming the section and key."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def _get(self, section: str, key: str) -> Any:
        table = self.data.get(section)
        if not isinstance(table, dict) or key not in table:
            raise DuplicateRulesError(f"重复隐患规则文件 {self.where} 缺少 [{section}] {key}")
        return table[key]

    def _fail(self, section: str, key: str, what: str) -> DuplicateRulesError:
        return DuplicateRulesError(f"重复隐患规则文件 {self.where} 中 [{section}] {key} 应为{what}")

    def words(self, section: str, key: str, allow_empty: bool = False) -> list[str]:
        value = self._get(section, key)
        if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
            raise self._fail(section, key, "非空词语的列表")
        if not value and not allow_empty:
            raise self._fail(section, key, "至少有一个词的列表")
        return [w.strip() for w in value]

    def chars(self, section: str, key: str) -> str:
        value = self._get(section, key)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(section, key, "一串字（如“东西南北”）")
        return value.strip()

    def fraction(self, section: str, key: str) -> float:
        value = self._get(section, key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise self._fail(section, key, "0 到 1 之间的数")
        return float(value)

    def integer(self, section: str, key: str, low: int, high: int) -> int:
        value = self._get(section, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._fail(section, key, f"{low} 到 {high} 之间的整数")
        return value

    def groups(self, section: str) -> dict[str, str]:
        value = self._get(section, "groups")
        if not isinstance(value, list) or not value:
            raise self._fail(section, "groups", "词组的列表（每组第一个词是名称）")
        folded: dict[str, str] = {}
        for group in value:
            if not isinstance(group, list) or not group or not all(isinstance(w, str) and w for w in group):
                raise self._fail(section, "groups", "词组的列表（每组第一个词是名称）")
            for word in group:
                if word in folded:
                    raise DuplicateRulesError(
                        f"重复隐患规则文件 {self.where} 中 [{section}] 的“{word}”同时在两组里"
                    )
                folded[word] = group[0]
        return folded

    def pairs(self, section: str, key: str) -> list[tuple[str, str]]:
        value = self._get(section, key)
        if not isinstance(value, list) or not value:
            raise self._fail(section, key, "[量词, 种类] 的列表")
        for pair in value:
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(w, str) and w for w in pair)
            ):
                raise self._fail(section, key, "[量词, 种类] 的列表")
        return [(unit, kind) for unit, kind in value]


@dataclass(frozen=True)
class Sighting:
    """What a hazard message is about and where: objects, distinguishing marks, a repeat marker, the text."""

    objects: frozenset[str]
    marks: frozenset[tuple[str, str]]
    repeat: bool
    text: str
    # Per object, the words in front of its first mention (粮站 in 粮站旁边的电线断了), fillers dropped.
    qualifiers: tuple[tuple[str, str], ...] = ()


def describe(
    rules: DuplicateRules,
    text: str,
    evidence: Iterable[str] = (),
    location: str | None = None,
    *,
    reporter: str | None = None,
    places: Iterable[str] = (),
) -> Sighting:
    """Describe one hazard message for duplicate checks.

    ``evidence`` is the classifier's evidence (``煤气罐+漏气`` pairs name the thing), ``location`` its place,
    ``reporter`` stands for 我家 and ``places`` are village names to ignore (王家沟 is not 王家's).
    """
    plain = text
    for place in sorted(set(places), key=len, reverse=True):
        if place:
            plain = plain.replace(place, _GAP)
    mentions = [(rules.objects.get(t, t), plain.find(t)) for t in _evidence_things(evidence)]
    mentions += [(rules.objects[m.group()], m.start()) for m in rules.object_pattern.finditer(plain)]
    objects = {name for name, _ in mentions}
    marks: set[tuple[str, str]] = set()
    for m in rules.owner_pattern.finditer(plain):
        if f"{m.group(1)}家" not in rules.not_owners:
            marks.add(("owner", _owner_name(rules, m.group(1))))
    if reporter and rules.first_person.search(plain):
        marks.add(("owner", f"@{reporter}"))
    for m in rules.number_pattern.finditer(plain):
        marks.add((rules.number_kinds[m.group(2)], _number(m.group(1))))
    for m in rules.ordinal_pattern.finditer(plain):
        marks.add((f"第{m.group(2)}", _number(m.group(1))))
    for m in rules.direction_pattern.finditer(plain):
        marks.add(("direction", m.group(1) or m.group(2)))
    for landmark in rules.landmark_pattern.findall(plain):
        marks.add(("landmark", rules.landmarks[landmark]))
    sub_place = _sub_place(location, places)
    if sub_place and sub_place not in rules.landmarks:
        marks.add(("place", sub_place))
    repeat = any(marker in text for marker in rules.markers)
    qualifiers = _qualifiers(rules, plain, mentions, _evidence_states(evidence))
    return Sighting(frozenset(objects), frozenset(marks), repeat, text, qualifiers)


def _evidence_things(evidence: Iterable[str]) -> list[str]:
    # Evidence words look like "窑洞+裂了" (a thing and its state) or a lone event word ("起火").
    return [word.split("+", 1)[0] for word in evidence if "+" in word and word.split("+", 1)[0]]


def _evidence_states(evidence: Iterable[str]) -> list[str]:
    # The state half of "窑洞+裂了", or a lone event word ("起火").
    return [word.rsplit("+", 1)[-1] for word in evidence if word.rsplit("+", 1)[-1]]


def _qualifiers(
    rules: DuplicateRules, plain: str, mentions: list[tuple[str, int]], states: list[str]
) -> tuple[tuple[str, str], ...]:
    """For each object, what its clause says before anything of the hazard is told, without fillers."""
    # The words in front stop at the first state or known object told (王家的路塌了一个大坑 → 王家的路); the
    # classifier's other things may be places (水库大坝上的柴草垛 pairs 水库 with 挨着) and do not stop them.
    stops = {m.start() for s in set(states) for m in re.finditer(re.escape(s), plain)}
    stops |= {m.start() for m in rules.object_pattern.finditer(plain)}
    heads: dict[str, str] = {}
    for name, pos in sorted(mentions, key=lambda m: m[1]):
        if pos < 0 or name in heads:
            continue
        clause = _CLAUSE.split(plain[:pos])[-1]
        start = pos - len(clause)
        end = min((s for s in stops if start <= s < pos), default=pos)
        heads[name] = rules.fillers.sub("", plain[start:end])
    return tuple((name, head) for name, head in heads.items() if head)


def _heads_match(a: str, b: str) -> bool:
    x, y = bigrams(a), bigrams(b)
    return a in b or b in a or len(x & y) * 2 >= len(x | y)


def _same_thing(a: str, b: str) -> bool:
    # Chinese names end in their head noun: 那面坡 is a 坡 and 老窑洞 a 窑洞, but 电线杆 is no 电线.
    return a.endswith(b) or b.endswith(a)


def _objects_meet(a: frozenset[str], b: frozenset[str]) -> bool:
    return any(_same_thing(x, y) for x in a for y in b)


def _qualifiers_agree(new: Sighting, old: Sighting) -> bool | None:
    """Whether the words in front of a shared object agree; None when they are not there to compare."""
    verdicts = [
        _heads_match(mine, theirs)
        for x, mine in new.qualifiers
        for y, theirs in old.qualifiers
        if _same_thing(x, y)
    ]
    return any(verdicts) if verdicts else None


def _owner_name(rules: DuplicateRules, name: str) -> str:
    for title in rules.owner_titles:
        if name.endswith(title) and len(name) > len(title):
            return name[: -len(title)]
    return name


def _sub_place(location: str | None, places: Iterable[str]) -> str | None:
    """The part of a named place below the village (王家沟村后沟 → 后沟); None for a bare village name."""
    if not location:
        return None
    rest = location
    for place in sorted(set(places), key=len, reverse=True):
        if place:
            rest = rest.replace(place, "")
    return rest if len(rest) >= 2 else None


def _by_kind(marks: frozenset[tuple[str, str]]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for kind, value in marks:
        kinds.setdefault(kind, set()).add(value)
    return kinds


def _owners_match(a: set[str], b: set[str]) -> bool:
    # 李 and 李二狗 may be one household; 李 and 王 are not.
    return any(x == y or x.startswith(y) or y.startswith(x) for x in a for y in b)


def same_hazard(rules: DuplicateRules, new: Sighting, old: Sighting, *, same_category: bool = True) -> bool:
    """True when ``new`` reports the same object at the same place as ``old`` (already the same village).

    Different objects or a conflicting mark (李家/王家, 3号楼/5号楼, 东头/西头) keep them apart; a shared mark
    links them; then the words in front of the object (粮站旁边的 / 果园里的); otherwise a repeat marker
    (又, 比上次) or close wording decides. Reports classified in different categories must name the same object.
    """
    if new.objects and old.objects:
        if not _objects_meet(new.objects, old.objects):
            return False
    elif not same_category:
        return False
    a, b = _by_kind(new.marks), _by_kind(old.marks)
    shared = False
    for kind in a.keys() & b.keys():
        match = _owners_match(a[kind], b[kind]) if kind == "owner" else bool(a[kind] & b[kind])
        if not match:
            return False
        shared = True
    if shared:
        return True
    wording = similarity(new.text, old.text)
    agree = _qualifiers_agree(new, old)
    if agree is not None:
        # Both say which one in words the rules do not know (粮站旁边的 / 果园里的): the same words link them.
        return agree or (new.repeat and wording >= rules.close_with_marker)
    if a and b:
        # Both say where, in ways that cannot be compared (李家 / 村口小卖部): only an explicit "again".
        return new.repeat and wording >= rules.close_with_marker
    if new.repeat and _objects_meet(new.objects, old.objects):
        return True
    return wording >= rules.close


class SightingMemo:
    """A bounded, thread-safe memo of old reports' descriptions (their texts never change), oldest dropped first."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[object, ...], Sighting] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> Sighting | None:
        """The description kept under ``key``, if any."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], sighting: Sighting) -> None:
        """Keep ``sighting``; the least recently used one goes when the memo is full."""
        with self._lock:
            self._items[key] = sighting
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
