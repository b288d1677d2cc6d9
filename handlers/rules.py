"""Loading, validating and compiling the classifier's rules file (``data/rules.toml``).

:func:`read_rules` parses the TOML; :func:`compile_rules` validates every section and turns it into a
:class:`CompiledRules`: the keyword lexicon (one :class:`Entry` per keyword, matched through a table of
per-first-character tries), the pattern families, and the small typed rule sets the other steps use
(:class:`PlaceRules`, :class:`SeverityRules`, :class:`FramePatterns`, :class:`TipRules`). A malformed file
raises ValueError naming the offending key.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handlers.rules_schema import RulesError, validate
from handlers.startup_cache import cached, read_cached, write_cached
from handlers.t2s import load_table

__all__ = [
    "CATEGORIES",
    "DEFAULT_RULES",
    "DEFAULT_USERDICT",
    "EVIDENCE_GATE",
    "CompiledRules",
    "Entry",
    "FramePatterns",
    "KeywordTrie",
    "PatternFamily",
    "PatternIndex",
    "PatternSet",
    "PlaceRules",
    "SeverityRules",
    "TipRules",
    "build_keyword_trie",
    "compile_rules",
    "load_nouns",
    "read_rules",
    "text_keys",
]

CATEGORIES = (
    "fire",
    "gas",
    "electric",
    "building",
    "construction",
    "traffic",
    "mining",
    "chemical",
    "geological",
    "water",
    "special_equipment",
    "other",
)
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_RULES = DATA_DIR / "rules.toml"
DEFAULT_USERDICT = DATA_DIR / "userdict.txt"

# Roles a keyword can play; each maps to a section of rules.toml (see that file's comments).
LIST_ROLES: dict[str, tuple[str, str]] = {
    "bad": ("states", "bad"),
    "near": ("states", "near"),
    "lack_marker": ("states", "lack_markers"),
    "lack_item": ("states", "lack_items"),
    "neg": ("negation", "clause"),
    "neg_msg": ("negation", "message"),
    "fixed": ("resolution", "words"),
    "contrast": ("resolution", "contrast"),
    "news": ("frames", "news"),
    "notice": ("frames", "notice"),
    "question": ("frames", "question"),
    "figurative": ("frames", "figurative"),
    "local": ("frames", "local"),
    "past": ("frames", "past"),
    "past_strong": ("frames", "past_strong"),
    "thanks": ("frames", "thanks"),
    "present": ("frames", "present"),
    "illegal": ("tips", "illegal"),
    "anon": ("tips", "anonymity"),
    "report": ("tips", "report"),
    "target": ("tips", "targets"),
    "people_strong": ("severity", "people_strong"),
    "people_weak": ("severity", "people_weak"),
    "imminent": ("severity", "imminent"),
    "major": ("severity", "major"),
    "critical": ("severity", "critical"),
    "major_thing": ("severity", "major_things"),
    "ignition": ("severity", "ignition"),
    "formal_marker": ("formal", "markers"),
    "formal_term": ("formal", "terms"),
    "formal_weak": ("formal", "weak_terms"),
    "ignore": ("ignore", "words"),
    "pile": ("states", "piles"),
    "strong": ("states", "strong"),
    "concern": ("frames", "concern"),
    "complaint": ("frames", "complaint"),
    "service": ("frames", "service"),
    "exposure": ("severity", "exposure"),
    "leak": ("severity", "leak_signs"),
    "urgent": ("emergency", "markers"),
    "emergency_event": ("emergency", "events"),
    "ongoing": ("emergency", "ongoing"),
    "reporting": ("frames", "reporting"),
    "non_safety": ("non_safety", "words"),
    "safety_dim": ("non_safety", "safety"),
}
# Lists added after townships began keeping their own rules files: a file without them still loads.
OPTIONAL_LIST_ROLES = frozenset({"ongoing"})
# Roles a longer keyword inherits from shorter keywords inside it ("非法开采" is also "非法").
INHERITED = frozenset(
    {
        "major",
        "people_strong",
        "people_weak",
        "imminent",
        "critical",
        "ignition",
        "illegal",
        "anon",
        "safety_dim",
    }
)
# Roles that can make a message worth weighing at all; a message with none of them is chatter at once.
EVIDENCE_GATE = frozenset(
    {"thing", "bad", "strong", "event", "act", "illegal", "anon", "formal_marker", "report"}
)
# Roles a pattern family may declare: the list roles plus the categorised ones, and ``people_now`` (people
# there at this moment, "还在坑底挖"), which only makes danger under way an emergency and never grades alone.
PATTERN_ROLES = frozenset(LIST_ROLES) | {"thing", "event", "act", "state_cat", "remnant", "people_now"}
# Sections whose keywords carry a category, and the role their keywords play.
CATEGORISED_SECTIONS = (("things", "thing"), ("events", "event"), ("acts", "act"))
# Keyword weight by the list a categorised keyword is in ("weak", "words", "strong", things_specific).
WEAK_WEIGHT, NORMAL_WEIGHT, STRONG_WEIGHT, SPECIFIC_WEIGHT = 0.5, 1.0, 2.0, 3.0
FRAME_PATTERN_KEYS = ("figurative_pattern", "explained_pattern", "resolved_pattern", "near_miss_pattern")


# --------------------------------------------------------------------------------------------------------
# compiled forms


@dataclass(frozen=True)
class Entry:
    """What one keyword means: its roles, and the category for thing/event/act roles."""

    roles: frozenset[str]
    category: str | None
    weight: float
    source: str = ""  # the ``[[patterns]]`` family a pattern hit came from (keyword entries leave it empty)


# A ``[[patterns]]`` family: (regex, entry, needs). A match of the regex becomes a hit with the entry's
# roles; ``needs`` holds characters of which every match has at least one, so a message with none skips
# the family. A plain tuple rather than a NamedTuple: unpacking an exact tuple is faster in the hot loop.
PatternFamily = tuple[re.Pattern[str], Entry, frozenset[str]]
# compiles one regex (``re.compile``, or a start-up cache's)
Compile = Callable[[str], re.Pattern[str]]


class PatternSet(list[PatternFamily]):
    """Pattern families indexed by the characters their matches need, so a message only runs the families
    that could match it (every family here has a non-empty ``needs``, or it runs on every message).

    Besides its ``needs``, a family's regex names further sets of keys every match holds one of: characters
    and pairs of adjacent characters of its literal words ("井盖|没了" needs 井盖, and 没 or 了). A message lacking
    one of them skips the family too. They are read from the regexes once and kept in the start-up cache."""

    def __init__(self, families: Iterable[PatternFamily]) -> None:
        super().__init__(families)
        n = len(self)
        # one bit per family, by file order: a message's families are the OR of its characters' masks
        self.always = sum(1 << i for i, fam in enumerate(self) if not fam[2])
        self.families_mask = (1 << n) - 1
        by_char: dict[str, int] = {}
        for i, (_, _, needs) in enumerate(self):
            for ch in needs:
                by_char[ch] = by_char.get(ch, 0) | (1 << i)
        # then one bit per further set of keys: a family runs only when all of its own bits are set
        self.further: list[int] = []
        bit = n
        for sets in _further_needs(self):
            mask = 0
            for keys in sets:
                for key in keys:
                    by_char[key] = by_char.get(key, 0) | (1 << bit)
                mask |= 1 << bit
                bit += 1
            self.further.append(mask)
        self.by_char = by_char
        self.keys = frozenset(by_char)
        self.bits = bit  # how many bits the masks use
        # for each byte of the family bits, the families (index, further mask) each of its 256 values selects:
        # one table lookup per byte instead of one loop turn per candidate bit
        self._bytes: list[list[tuple[tuple[int, int], ...]]] = []
        for base in range(0, n, 8):
            table: list[tuple[tuple[int, int], ...]] = [()]
            for v in range(1, 256):
                top = (
                    v.bit_length() - 1
                )  # a value's families: those of it without its top bit, then the top's
                i = base + top
                table.append(table[v ^ (1 << top)] + (((i, self.further[i]),) if i < n else ()))
            self._bytes.append(table)

    def for_text(self, text: str) -> list[PatternFamily]:
        """The families that may match ``text``, in file order."""
        mask = self.always
        by_char = self.by_char
        for key in self.keys.intersection(text_keys(text)):
            mask |= by_char[key]
        return self.for_mask(mask)

    def for_mask(self, mask: int) -> list[PatternFamily]:
        """The families selected by ``mask``, the OR of ``always`` and a text's characters' ``by_char``."""
        families = []
        candidates = mask & self.families_mask
        for table in self._bytes:
            if candidates & 0xFF:
                for i, need in table[candidates & 0xFF]:
                    if mask & need == need:
                        families.append(self[i])
            candidates >>= 8
            if not candidates:
                break
        return families


class PatternIndex:
    """Two pattern sets' character indexes merged (the second's bits above the first's), so that one pass over a
    message's characters selects the families of both."""

    def __init__(self, first: PatternSet, second: PatternSet) -> None:
        shift = self.shift = first.bits
        by_char = dict(first.by_char)
        for ch, mask in second.by_char.items():
            by_char[ch] = by_char.get(ch, 0) | (mask << shift)
        self.by_char = by_char
        self.keys = frozenset(by_char)
        self.always = first.always | (second.always << shift)
        self.first_bits = (1 << shift) - 1

    def masks(self, text: str) -> tuple[int, int]:
        """The masks of ``text`` for the first and the second set (see ``PatternSet.for_mask``)."""
        mask = self.always
        by_char = self.by_char
        for key in self.keys.intersection(text_keys(text)):
            mask |= by_char[key]
        return mask & self.first_bits, mask >> self.shift


def text_keys(text: str) -> set[str]:
    """What a text offers the pattern indexes: its characters and its pairs of adjacent characters."""
    keys = set(text)
    keys.update([text[i : i + 2] for i in range(len(text) - 1)])
    return keys


# at most this many further key sets per family (those letting fewest messages through), each at most this large
_FURTHER_SETS, _FURTHER_SET_SIZE = 5, 96


def _further_needs(families: list[PatternFamily]) -> list[list[list[str]]]:
    """For each family, the further key sets (characters or pairs of adjacent characters) every match of its
    regex holds one of, leaving out those its ``needs`` already implies; cached by the regexes' sources
    (start-up cache)."""

    def build() -> list[list[list[str]]]:
        out: list[list[list[str]]] = []
        for rx, _, needs in families:
            sets: list[frozenset[str]] = []
            if not rx.flags & re.IGNORECASE:
                try:
                    from re import _parser as sre_parse  # type: ignore[attr-defined]

                    sets = _all_required(sre_parse.parse(rx.pattern, rx.flags).data)
                except Exception:
                    sets = []
            kept = sorted(
                {s for s in sets if len(s) <= _FURTHER_SET_SIZE and not (needs and needs <= s)},
                key=lambda s: (_key_cost(s), sorted(s)),
            )
            out.append([sorted(s) for s in kept[:_FURTHER_SETS]])
        return out

    parts = [f"{_FURTHER_SETS},{_FURTHER_SET_SIZE}"]  # the limits shape the result too
    parts += [f"{rx.pattern}\0{''.join(sorted(needs))}" for rx, _, needs in families]
    return cached("pattern-keys", parts, build)


def _key_cost(keys: AbstractSet[str]) -> int:
    """How many messages a key set lets through, roughly: a pair of characters rules out far more messages than
    a single character does (the fewer let through, the better the set)."""
    return sum(10 if len(key) == 1 else 1 for key in keys)


def _all_required(items: Any) -> list[frozenset[str]]:
    """Every key set a match of a parsed regex sequence must hold one of (an empty list when none is known):
    one per literal or literal class (its characters), per two of them in a row (their pairs: "[正还]在" gives
    正在/还在) and per alternation whose every branch requires one."""
    found: list[frozenset[str]] = []
    before: frozenset[str] | None = None  # the characters the previous position must be, if it is one
    for op, arg in items:
        name = str(op)
        chars: frozenset[str] | None = None
        if name == "LITERAL":
            chars = frozenset({chr(arg)})
        elif name == "IN" and arg and all(str(o) == "LITERAL" for o, _ in arg):
            chars = frozenset(chr(v) for _, v in arg)
        if chars is not None:
            found.append(chars)
            if before is not None and len(before) * len(chars) <= _FURTHER_SET_SIZE:
                found.append(frozenset(a + b for a in before for b in chars))
            before = chars
            continue
        before = None
        if name == "SUBPATTERN":
            found += _all_required(arg[-1])
        elif name == "BRANCH":
            union: set[str] = set()
            for alt in arg[1]:
                sub = _all_required(alt)
                if not sub:
                    break
                union |= min(sub, key=_key_cost)
            else:
                found.append(frozenset(union))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            found += _all_required(arg[-1])
    return found


@dataclass(frozen=True)
class PlaceRules:
    """The ``[places]`` section: how a place name ending in a suffix (村, 沟, 塔…) is recognised."""

    suffixes: frozenset[str]
    generic: frozenset[str]
    bad_prefix: frozenset[str]
    extend_prefix: frozenset[str]
    strong_suffixes: frozenset[str]
    bad_follow: frozenset[str]
    max_prefix: int
    road_words: tuple[str, ...]
    person_after: re.Pattern[str] | None


@dataclass(frozen=True)
class SeverityRules:
    """The ``[severity]`` section: which categories and places make people's presence a major hazard."""

    crowd_re: re.Pattern[str]
    exposed_categories: frozenset[str]
    danger_categories: frozenset[str]
    venues: frozenset[str]
    venue_categories: frozenset[str]
    leak_categories: frozenset[str]


@dataclass(frozen=True)
class FramePatterns:
    """The regexes of ``[frames]``: figures of speech, explanations, resolutions and near misses."""

    figurative: re.Pattern[str]
    explained: re.Pattern[str]
    resolved: re.Pattern[str]
    near_miss: re.Pattern[str]


@dataclass(frozen=True)
class TipRules:
    """The regexes and switch of ``[tips]``: illegal conduct, anonymity requests, whether a target is needed."""

    conduct_re: re.Pattern[str]
    needs_target: bool
    anon_re: re.Pattern[str]
    # someone responsible defeating a safety measure on purpose: conduct only in a private chat
    private_conduct_re: re.Pattern[str]


@dataclass(frozen=True)
class CompiledRules:
    """Everything the classifier needs from the rules file, validated and compiled."""

    max_chars: int
    pair_window: int
    hazard_threshold: float
    concern_boost: float
    char_table: dict[int, str]
    phrases: dict[str, str]
    phrase_re: re.Pattern[str] | None
    entries: dict[str, Entry]
    keywords: KeywordTrie
    category_rank: dict[str, int]
    source_categories: frozenset[str]
    combos: list[tuple[frozenset[str], frozenset[str], str]]
    severity: SeverityRules
    places: PlaceRules
    noun_tags: frozenset[str]
    noun_exclude: frozenset[str]
    noun_weight: float
    contrast_open: frozenset[str]
    frames: FramePatterns
    tips: TipRules
    evidence_patterns: PatternSet
    modifier_patterns: PatternSet


# --------------------------------------------------------------------------------------------------------
# reading and validation helpers


def read_rules(path: Path) -> dict[str, Any]:
    """Parse the rules file as TOML and check it against the schema (:mod:`handlers.rules_schema`).

    Raises ValueError naming the file (and the section and key) when it cannot be read, is not valid
    TOML, or holds an unknown or mistyped key.
    """
    try:
        raw = path.read_bytes()
        # parsed once per distinct file content, then read back from the start-up cache (see its module)
        rules = cached("rules", [raw], lambda: tomllib.loads(raw.decode()))
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"规则文件 {path} 不是合法的 TOML：{exc} / rules file {path}: invalid TOML") from exc
    except OSError as exc:
        raise RulesError(f"读不了规则文件 {path}（{exc.strerror}） / rules file {path}: cannot read") from exc
    validate(rules, path)
    return rules


def require(table: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    """Return ``table[key]``, raising ValueError naming ``where + key`` when it is missing or mistyped."""
    if key not in table:
        raise ValueError(f"rules file: missing key '{where}{key}'")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = "/".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
        raise ValueError(f"rules file: '{where}{key}' must be a {names}, got {type(value).__name__}")
    return value


def str_list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    """Return ``table[key]`` as a list of stripped non-empty strings, or raise ValueError."""
    value = require(table, key, where, list)
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"rules file: '{where}{key}' must be a list of non-empty strings, got {item!r}")
    return [item.strip() for item in value]


def check_category(name: str, where: str) -> str:
    """Return ``name`` if it is a known category, else raise ValueError naming ``where``."""
    if name not in CATEGORIES:
        raise ValueError(
            f"rules file: unknown category '{name}' in '{where}' (allowed: {', '.join(CATEGORIES)})"
        )
    return name


def compile_regex(
    pattern: str, where: str, label: str = "", compile: Compile = re.compile
) -> re.Pattern[str]:
    """Compile a regex from the rules file, raising ValueError naming ``where`` when it is invalid."""
    try:
        return compile(pattern)
    except re.error as exc:
        raise ValueError(f"rules file: '{where}'{label} is not a valid regex: {exc}") from exc


def load_nouns(paths: Iterable[Path], tags: frozenset[str], exclude: frozenset[str]) -> frozenset[str]:
    """Read "word freq pos" dictionaries and return the words whose part of speech is in ``tags``.

    The nouns of a large dictionary (jieba's own, 8 MB) are cached in the temporary directory, as jieba
    caches its dictionary, keyed by the file's path, size and modification time and by the tags; small
    dictionaries (the township's user dictionary) are read each time. Any problem with the cache just
    reads the file again."""
    if not tags:
        return frozenset()
    nouns: set[str] = set()
    for path in paths:
        if path.exists():
            nouns |= _nouns_of(path, tags)
    return frozenset(nouns - exclude)


# dictionaries at least this large have their noun list cached
_CACHE_NOUNS_OVER = 1_000_000


def _nouns_of(path: Path, tags: frozenset[str]) -> frozenset[str]:
    """The nouns of one dictionary, from the cache when it is large and a cache is there."""
    cache = _nouns_cache_path(path, tags)
    if cache is not None:
        joined = read_cached(cache)
        if isinstance(joined, str):
            return frozenset(joined.split("\n"))
    nouns = _read_nouns(path, tags)
    if cache is not None:
        write_cached(cache, "\n".join(sorted(nouns)))  # one string loads much faster than a list
    return nouns


def _nouns_cache_path(path: Path, tags: frozenset[str]) -> Path | None:
    """Where the noun list of a large dictionary is cached, or None for a small or unreadable file."""
    try:
        st = path.stat()
        if st.st_size < _CACHE_NOUNS_OVER:
            return None
        key = hashlib.sha1(f"nouns-v3|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|".encode())
    except OSError:
        return None
    key.update("|".join(sorted(tags)).encode())
    return Path(tempfile.gettempdir()) / f"anquan-nouns-{key.hexdigest()[:16]}.marshal"


def _read_nouns(path: Path, tags: frozenset[str]) -> frozenset[str]:
    """The nouns of one dictionary, read from the file."""
    # one regex pass over the file instead of splitting its ~350,000 lines in Python (start-up time)
    line_re = re.compile(
        r"^(\S+)[ \t]+\S+[ \t]+(?:" + "|".join(map(re.escape, sorted(tags))) + r")[ \t]*\r?$", re.MULTILINE
    )
    return frozenset(line_re.findall(path.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------------------------------------
# keyword matching tables


class KeywordTrie(dict[str, Any]):
    """The keywords as a trie of nested dictionaries, one level per character; the key "" of a node holds the
    keyword that ends there. Walking it from a position finds the longest keyword starting there with one
    dictionary lookup per character (:func:`handlers.hits.scan_keywords` walks it inline)."""

    def longest_at(self, text: str, start: int) -> str | None:
        """The longest keyword starting at ``start`` in ``text``, or None."""
        node = self.get(text[start]) if start < len(text) else None
        found = None
        at = start + 1
        while node is not None:
            found = node.get("", found)
            node = node.get(text[at]) if at < len(text) else None
            at += 1
        return found


def build_keyword_trie(words: Iterable[str]) -> KeywordTrie:
    """Build the keyword trie of ``words`` (empty words are skipped)."""
    trie = KeywordTrie()
    for word in words:
        if not word:
            continue
        node: dict[str, Any] = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = word
    return trie


# --------------------------------------------------------------------------------------------------------
# compiling, one rules-file section at a time (called in the file's validation order)


def compile_rules(
    rules: Mapping[str, Any], places: frozenset[str], compile: Compile = re.compile
) -> CompiledRules:
    """Validate the parsed rules file and compile it; ``places`` (village names) become keywords too.
    ``compile`` compiles each regex (a :class:`handlers.startup_cache.RegexCache`'s, to reuse earlier runs').

    Sections are checked in a fixed order, so a file with several problems always reports the same one.
    """
    limits = require(rules, "limits", "", dict)
    max_chars, pair_window, hazard_threshold = _compile_limits(limits)
    char_table, phrases, phrase_re = _compile_normalize(rules, compile)
    entries = _compile_lexicon(rules, places)
    keywords = build_keyword_trie(entries)
    category_rank = _compile_priority(rules)
    severity = _compile_severity(rules, compile)
    source_categories = _compile_source_categories(rules)
    for cat in severity.exposed_categories | severity.danger_categories:
        check_category(cat, "severity.exposed_categories/danger_categories")
    place_rules = _compile_places(rules, compile)
    noun_tags, noun_exclude, noun_weight = _compile_generic_nouns(rules)
    resolution = require(rules, "resolution", "", dict)
    contrast_open = frozenset(require(resolution, "contrast_open", "resolution.", str))
    concern_boost = float(require(limits, "concern_boost", "limits.", (int, float)))
    frames = _compile_frames(rules, compile)
    tips = _compile_tips(rules, compile)
    patterns = _compile_patterns(rules, compile)
    _, passive_regex = morphology_forms(rules)
    if passive_regex:
        # the discontinuous passive ("让车堵着") is a bad state spanning its agent, which then never pairs
        patterns.append(
            (
                compile_regex(passive_regex, "morphology.gap_roots", compile=compile),
                Entry(frozenset({"bad"}), None, 1.0, "morphology.passive"),
                frozenset("被让叫遭"),
            )
        )
    return CompiledRules(
        max_chars=max_chars,
        pair_window=pair_window,
        hazard_threshold=hazard_threshold,
        concern_boost=concern_boost,
        char_table=char_table,
        phrases=phrases,
        phrase_re=phrase_re,
        entries=entries,
        keywords=keywords,
        category_rank=category_rank,
        source_categories=source_categories,
        combos=_compile_combos(rules),
        severity=severity,
        places=place_rules,
        noun_tags=noun_tags,
        noun_exclude=noun_exclude,
        noun_weight=noun_weight,
        contrast_open=contrast_open,
        frames=frames,
        tips=tips,
        # families that can supply evidence run on every message; the rest (frames, scope, severity,
        # ignore) run only once a message has evidence, which keeps plain chit-chat fast
        evidence_patterns=PatternSet(p for p in patterns if p[1].roles & EVIDENCE_GATE),
        modifier_patterns=PatternSet(p for p in patterns if not p[1].roles & EVIDENCE_GATE),
    )


def _compile_limits(limits: Mapping[str, Any]) -> tuple[int, int, float]:
    """``[limits]``: message length cap, thing-state pairing window and the hazard score threshold."""
    max_chars = int(require(limits, "max_chars", "limits.", int))
    pair_window = int(require(limits, "pair_window", "limits.", int))
    hazard_threshold = float(require(limits, "hazard_threshold", "limits.", (int, float)))
    if max_chars < 20 or pair_window < 1:
        raise ValueError("rules file: 'limits.max_chars' must be >= 20 and 'limits.pair_window' >= 1")
    return max_chars, pair_window, hazard_threshold


def _compile_normalize(
    rules: Mapping[str, Any], compile: Compile = re.compile
) -> tuple[dict[int, str], dict[str, str], re.Pattern[str] | None]:
    """``[normalize]``: the character folding table, phrase rewrites and one regex finding the phrases.

    The folding table is the generated traditional-to-simplified table (``data/t2s.tsv``, see
    :mod:`handlers.t2s`) with the township's own ``normalize.chars`` pairs on top.
    """
    norm = require(rules, "normalize", "", dict)
    extra: dict[int, str] = {}
    for pair in str_list(norm, "chars", "normalize.") if "chars" in norm else []:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ValueError(
                f"规则文件 [normalize] 的 chars 每项是两个不同的字（繁简），{pair!r} 不是"
                f" / rules file: 'normalize.chars' entries are two different characters, got {pair!r}"
            )
        if ord(pair[0]) in extra:
            raise ValueError(
                f"规则文件 [normalize] 的 chars 里 {pair[0]!r} 写了两次"
                f" / rules file: 'normalize.chars' lists {pair[0]!r} twice"
            )
        extra[ord(pair[0])] = pair[1]
    table = load_table() | extra
    phrases: dict[str, str] = {}
    for src, dst in require(norm, "phrases", "normalize.", dict).items():
        if not isinstance(dst, str):
            raise ValueError(f"rules file: 'normalize.phrases.{src}' must be a string")
        phrases[src] = dst
    phrase_re = (
        compile("|".join(re.escape(k) for k in sorted(phrases, key=len, reverse=True))) if phrases else None
    )
    return table, phrases, phrase_re


# word -> (roles, category -> best weight) while the lexicon is being collected
_Lexicon = dict[str, tuple[set[str], dict[str, float]]]


def _add(lexicon: _Lexicon, word: str, role: str, category: str | None = None, weight: float = 1.0) -> None:
    """Record that ``word`` plays ``role`` (and, for categorised roles, its best weight per category)."""
    roles, cats = lexicon.setdefault(word, (set(), {}))
    roles.add(role)
    if category is not None:
        cats[category] = max(cats.get(category, 0.0), weight)


def _compile_lexicon(rules: Mapping[str, Any], places: frozenset[str]) -> dict[str, Entry]:
    """Collect every keyword of every section into one entry per word (roles, category, weight)."""
    lexicon: _Lexicon = {}
    _add_listed_words(lexicon, rules)
    _add_categorised_words(lexicon, rules)
    _add_specific_and_state_words(lexicon, rules)
    _add_signals(lexicon, rules)
    _add_morphology(lexicon, rules)
    for roles, _ in lexicon.values():
        if "emergency_event" in roles:
            roles |= {"event", "urgent", "major"}  # "着火了": evidence, an emergency and major on its own
    _inherit_roles(lexicon)
    entries: dict[str, Entry] = {}
    for word, (roles, cats) in lexicon.items():
        category = max(cats, key=lambda c: cats[c]) if cats else None
        weight = cats.get(category, 1.0) if category else 1.0
        entries[word] = Entry(frozenset(roles), category, weight)
    # Places from the town profile are keywords too, so they are always recognised.
    for place in places:
        old = entries.get(place)
        place_roles = (old.roles if old else frozenset()) | {"place"}
        entries[place] = Entry(frozenset(place_roles), old.category if old else None, 1.0)
    return entries


def _add_listed_words(lexicon: _Lexicon, rules: Mapping[str, Any]) -> None:
    """The plain word lists (states, negation, resolution, frames, tips, severity, formal, ignore)."""
    for role, (section, key) in LIST_ROLES.items():
        table = require(rules, section, "", dict)
        if role in OPTIONAL_LIST_ROLES and key not in table:
            continue  # a rules file written before the list existed
        for word in str_list(table, key, f"{section}."):
            _add(lexicon, word, role)
            if role == "ongoing":
                _add(lexicon, word, "bad")  # danger under way (在掉灰) is a bad state as well


def _add_categorised_words(lexicon: _Lexicon, rules: Mapping[str, Any]) -> None:
    """``[things.*]``, ``[events.*]`` and ``[acts.*]``: keywords per category, with weak and strong lists."""
    for section, role in CATEGORISED_SECTIONS:
        cats = require(rules, section, "", dict)
        for cat, spec in cats.items():
            check_category(cat, f"{section}.{cat}")
            if not isinstance(spec, dict):
                raise ValueError(f"rules file: '{section}.{cat}' must be a table with 'words'")
            for word in str_list(spec, "words", f"{section}.{cat}."):
                _add(lexicon, word, role, cat, NORMAL_WEIGHT)
            if "weak" in spec:
                for word in str_list(spec, "weak", f"{section}.{cat}."):
                    _add(lexicon, word, role, cat, WEAK_WEIGHT)
            if "strong" in spec:
                for word in str_list(spec, "strong", f"{section}.{cat}."):
                    _add(lexicon, word, role, cat, STRONG_WEIGHT)


def _add_specific_and_state_words(lexicon: _Lexicon, rules: Mapping[str, Any]) -> None:
    """``[things_specific]`` (category-deciding things), ``[state_categories]`` and ``[generic_things]``."""
    for cat, words in require(rules, "things_specific", "", dict).items():
        check_category(cat, f"things_specific.{cat}")
        for word in str_list({cat: words}, cat, "things_specific."):
            _add(lexicon, word, "thing", cat, SPECIFIC_WEIGHT)
    for cat, spec in require(rules, "state_categories", "", dict).items():
        check_category(cat, f"state_categories.{cat}")
        if not isinstance(spec, dict):
            raise ValueError(f"rules file: 'state_categories.{cat}' must be a table with 'words'")
        for word in str_list(spec, "words", f"state_categories.{cat}."):
            _add(lexicon, word, "state_cat", cat, 1.0)
    for word in str_list(require(rules, "generic_things", "", dict), "words", "generic_things."):
        _add(lexicon, word, "thing")


def _add_signals(lexicon: _Lexicon, rules: Mapping[str, Any]) -> None:
    """``[signals.*]``: standalone strong signals (隐患, 危房, 着火): events on their own; ``signals.any``
    carries no category, so the things around them decide it."""
    for cat, spec in rules.get("signals", {}).items():
        if cat != "any":
            check_category(cat, f"signals.{cat}")
        if not isinstance(spec, dict):
            raise ValueError(f"rules file: 'signals.{cat}' must be a table with 'words'")
        for word in str_list(spec, "words", f"signals.{cat}."):
            _add(lexicon, word, "event", None if cat == "any" else cat, NORMAL_WEIGHT)
            lexicon[word][0].add("signal")


def morphology_forms(rules: Mapping[str, Any]) -> tuple[dict[str, bool], str]:
    """Expand ``[morphology]`` roots into their passive, aspect and resultative forms.

    Returns form -> whether it is a strong state, and the regex source of the discontinuous passive
    ("让车堵着", "被人锁住") or "" when the section is absent.
    """
    morph = rules.get("morphology")
    if morph is None:
        return {}, ""
    where = "morphology."
    roots = str_list(morph, "roots", where)
    strong = set(str_list(morph, "strong_roots", where))
    passive = str_list(morph, "passive", where)
    suffixes = str_list(morph, "suffixes", where)
    exclude = set(str_list(morph, "exclude", where))
    gap_roots = str_list(morph, "gap_roots", where)
    gap = int(require(morph, "passive_gap", where, int))
    # dialect particles used like 了 (垮咯, 断喽): generated wherever the 了 form is
    le_like = str_list(morph, "le_like", where) if "le_like" in morph else []
    forms: dict[str, bool] = {}
    for root in roots:
        variants = [p + root for p in passive] + [root + sfx for sfx in suffixes]
        variants += [p + root + sfx for p in passive for sfx in suffixes[:8]]
        if root + "了" not in exclude:
            variants += [root + le for le in le_like]
        for form in variants:
            if form not in exclude:
                forms[form] = forms.get(form, False) or root in strong
    gap_markers = "".join(m for m in passive if m != "给" and len(m) == 1)
    regex = ""
    if gap_roots and gap_markers and gap > 0:
        regex = (
            f"[{gap_markers}][^\\s，。,.!！?？；;：:]{{1,{gap}}}?(?:{'|'.join(map(re.escape, gap_roots))})"
        )
    return forms, regex


def _add_morphology(lexicon: _Lexicon, rules: Mapping[str, Any]) -> None:
    """``[morphology]``: every generated form of a bad-state root is a bad state (strong for strong roots);
    forms already listed elsewhere keep their roles."""
    forms, _ = morphology_forms(rules)
    for form, is_strong in forms.items():
        _add(lexicon, form, "bad")
        if is_strong:
            _add(lexicon, form, "strong")


def _inherit_roles(lexicon: _Lexicon) -> None:
    """Give each longer keyword the inheritable roles of the shorter keywords inside it (not chained)."""
    inheritable = {w: r & INHERITED for w, (r, _) in lexicon.items() if r & INHERITED}
    longest = max(map(len, inheritable), default=0)
    for word, (roles, _) in lexicon.items():
        if len(word) < 2 or "ignore" in roles:
            continue
        size = len(word)
        for i in range(size):
            # proper substrings only ("非法" inside "非法开采"), no longer than the longest inheritable word
            for j in range(i + 1, min(size - (i == 0), i + longest) + 1):
                sub_roles = inheritable.get(word[i:j])
                if sub_roles:
                    roles |= sub_roles


def _compile_priority(rules: Mapping[str, Any]) -> dict[str, int]:
    """``category.priority``: every category, in tie-break order; returns category -> rank."""
    priority = str_list(require(rules, "category", "", dict), "priority", "category.")
    for cat in priority:
        check_category(cat, "category.priority")
    missing = [c for c in CATEGORIES if c not in priority]
    if missing:
        raise ValueError(f"rules file: 'category.priority' lacks {', '.join(missing)}")
    return {c: i for i, c in enumerate(priority)}


def _compile_severity(rules: Mapping[str, Any], compile: Compile = re.compile) -> SeverityRules:
    """``[severity]``: the crowd regex and the category and venue sets of the severity rule set."""
    sev = require(rules, "severity", "", dict)
    crowd = require(sev, "crowd_pattern", "severity.", str)
    crowd_re = compile_regex(crowd, "severity.crowd_pattern", compile=compile)
    exposed = frozenset(str_list(sev, "exposed_categories", "severity."))
    danger = frozenset(str_list(sev, "danger_categories", "severity."))
    venues = frozenset(str_list(sev, "venues", "severity."))
    venue_categories = frozenset(
        check_category(c, "severity.venue_categories") for c in str_list(sev, "venue_categories", "severity.")
    )
    leak_categories = frozenset(
        check_category(c, "severity.leak_categories") for c in str_list(sev, "leak_categories", "severity.")
    )
    return SeverityRules(crowd_re, exposed, danger, venues, venue_categories, leak_categories)


def _compile_source_categories(rules: Mapping[str, Any]) -> frozenset[str]:
    """``category.source_categories``: kinds of hazard whose thing is the energy source itself, so a
    fire-looking state does not re-file them."""
    category = require(rules, "category", "", dict)
    return frozenset(
        check_category(c, "category.source_categories")
        for c in str_list(category, "source_categories", "category.")
    )


def _compile_places(rules: Mapping[str, Any], compile: Compile = re.compile) -> PlaceRules:
    """``[places]``: suffixes, generic place words, prefix characters and what ends a place name."""
    pl = require(rules, "places", "", dict)
    suffixes = frozenset(require(pl, "suffixes", "places.", str))
    generic = frozenset(str_list(pl, "generic", "places."))
    bad_prefix = frozenset(require(pl, "bad_prefix_chars", "places.", str))
    extend_prefix = frozenset(require(pl, "extend_prefix_chars", "places.", str))
    strong_suffixes = frozenset(require(pl, "strong_suffixes", "places.", str))
    bad_follow = frozenset(str_list(pl, "bad_following", "places."))
    max_prefix = int(require(pl, "max_prefix", "places.", int))
    # a road word ("乡道") or a person ("老杨家") right after a name ends the name there
    road_words = tuple(str_list(pl, "road_words", "places.")) if "road_words" in pl else ()
    try:
        person_after = compile(pl["person_after"]) if pl.get("person_after") else None
    except (re.error, TypeError) as exc:
        raise ValueError(f"rules file: 'places.person_after' is not a valid regex: {exc}") from exc
    return PlaceRules(
        suffixes=suffixes,
        generic=generic,
        bad_prefix=bad_prefix,
        extend_prefix=extend_prefix,
        strong_suffixes=strong_suffixes,
        bad_follow=bad_follow,
        max_prefix=max_prefix,
        road_words=road_words,
        person_after=person_after,
    )


def _compile_generic_nouns(rules: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str], float]:
    """``[generic_nouns]``: jieba part-of-speech tags that count as things, exclusions, and their weight."""
    gn = require(rules, "generic_nouns", "", dict)
    tags = frozenset(str_list(gn, "pos", "generic_nouns."))
    exclude = frozenset(str_list(gn, "exclude", "generic_nouns."))
    weight = float(require(gn, "weight", "generic_nouns.", (int, float)))
    return tags, exclude, weight


def _compile_frames(rules: Mapping[str, Any], compile: Compile = re.compile) -> FramePatterns:
    """The regexes of ``[frames]`` (figurative, explained-away, resolved, near miss)."""
    frames = require(rules, "frames", "", dict)
    compiled = {
        key: compile_regex(require(frames, key, "frames.", str), f"frames.{key}", compile=compile)
        for key in FRAME_PATTERN_KEYS
    }
    return FramePatterns(
        figurative=compiled["figurative_pattern"],
        explained=compiled["explained_pattern"],
        resolved=compiled["resolved_pattern"],
        near_miss=compiled["near_miss_pattern"],
    )


def _compile_tips(rules: Mapping[str, Any], compile: Compile = re.compile) -> TipRules:
    """``[tips]``: the conduct (everywhere and private-only) and anonymity regexes and whether illegal conduct
    needs a target."""
    tips = require(rules, "tips", "", dict)
    conduct_re = compile_regex(
        require(tips, "conduct_pattern", "tips.", str), "tips.conduct_pattern", compile=compile
    )
    needs_target = bool(require(tips, "illegal_needs_target", "tips.", bool))
    anon_pattern = require(tips, "anonymity_pattern", "tips.", str)
    anon_re = compile_regex(anon_pattern, "tips.anonymity_pattern", compile=compile)
    private_re = compile_regex(
        require(tips, "private_conduct_pattern", "tips.", str),
        "tips.private_conduct_pattern",
        compile=compile,
    )
    return TipRules(conduct_re, needs_target, anon_re, private_re)


def _compile_patterns(rules: Mapping[str, Any], compile: Compile = re.compile) -> list[PatternFamily]:
    """``[[patterns]]``: regex families whose matches are hits with the roles (and category) they declare."""
    specs = rules.get("patterns", [])
    if not isinstance(specs, list):
        raise ValueError("rules file: 'patterns' must be an array of tables ([[patterns]])")
    classes = compile_classes(rules)
    families = [_compile_pattern(spec, f"patterns[{i}].", classes, compile) for i, spec in enumerate(specs)]
    # a family without ``needs`` gets the characters read from its regex (parsing the regexes again at every
    # start would cost a tenth of a second: they are kept in the start-up cache)
    open_ = [rx for rx, _, needs in families if not needs]
    keys = [f"{rx.flags}\0{rx.pattern}" for rx in open_]
    found = iter(
        cached("pattern-required", keys, lambda: ["".join(sorted(required_chars(rx))) for rx in open_])
    )
    return [(rx, entry, needs or frozenset(next(found))) for rx, entry, needs in families]


# "{people}" in a pattern's regex: the word class of that name from ``[classes]``
_CLASS_REF = re.compile(r"\{([a-z_]+)\}")


def compile_classes(rules: Mapping[str, Any]) -> dict[str, str]:
    """``[classes]``: named word classes (people, vehicles) a pattern refers to as ``{people}``; returns
    name -> regex alternation, longest words first."""
    classes: dict[str, str] = {}
    for name, words in rules.get("classes", {}).items():
        items = sorted(set(str_list({name: words}, name, "classes.")), key=lambda w: (-len(w), w))
        classes[name] = "(?:" + "|".join(map(re.escape, items)) + ")"
    return classes


def expand_classes(regex: str, classes: Mapping[str, str], where: str) -> str:
    """Replace every ``{name}`` in a pattern's regex by its word class; an unknown name is an error."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in classes:
            raise ValueError(
                f"rules file: '{where}regex' refers to an unknown word class '{{{name}}}'"
                f" (known: {', '.join(sorted(classes)) or 'none'})"
            )
        return classes[name]

    return _CLASS_REF.sub(repl, regex)


def _compile_pattern(
    spec: Any, where: str, classes: Mapping[str, str] | None = None, compile: Compile = re.compile
) -> PatternFamily:
    """One ``[[patterns]]`` table: name, roles, optional category and weight, regex (word classes expanded),
    optional needs."""
    if not isinstance(spec, dict):
        raise ValueError(f"rules file: '{where[:-1]}' must be a table")
    name = require(spec, "name", where, str)
    roles = frozenset(str_list(spec, "roles", where))
    unknown = roles - PATTERN_ROLES
    if unknown:
        raise ValueError(f"rules file: '{where}roles' of '{name}' has unknown roles {sorted(unknown)}")
    cat = spec.get("category")
    if cat is not None:
        check_category(cat, f"{where}category")
    weight = float(spec.get("weight", 1.0))
    source = expand_classes(require(spec, "regex", where, str), classes or {}, where)
    regex = compile_regex(source, f"{where}regex", f" ({name})", compile)
    needs = spec.get("needs", "")
    if not isinstance(needs, str):
        raise ValueError(f"rules file: '{where}needs' ({name}) must be a string of characters")
    # ``needs`` is a condition of its own: a message holding none of its characters never runs the family,
    # even where the regex alone would match ("药瓶子扔得…到处都是" for a smell spreading, which needs 味 or 气);
    # left empty here, it is read from the regex by the caller
    return (regex, Entry(roles, cat, weight, f"patterns:{name}"), frozenset(needs))


def required_chars(regex: re.Pattern[str]) -> frozenset[str]:
    """Characters of which every match of ``regex`` holds at least one (empty when no such set is known).

    Lets a pattern family without an explicit ``needs`` skip messages that cannot match it, which keeps
    the per-message cost of many families low.
    """
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_parse  # type: ignore[no-redef]
    try:
        found = _required(sre_parse.parse(regex.pattern, regex.flags))
    except Exception:
        return frozenset()
    return frozenset(found) if found and len(found) <= 64 else frozenset()


def _required(items: Any) -> set[str] | None:
    """The required-characters set of a parsed regex sequence, or None when it can match without one."""
    best: set[str] | None = None
    for op, arg in items:
        name = str(op)
        got: set[str] | None = None
        if name == "LITERAL":
            got = {chr(arg)}
        elif name == "IN":
            chars = [chr(v) for o, v in arg if str(o) == "LITERAL"]
            got = set(chars) if chars and len(chars) == len(arg) else None
        elif name == "SUBPATTERN":
            got = _required(arg[-1])
        elif name == "BRANCH":
            union: set[str] = set()
            for alt in arg[1]:
                sub = _required(alt)
                if sub is None:
                    union = set()
                    break
                union |= sub
            got = union or None
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub_items = arg
            got = _required(sub_items) if low >= 1 else None
        if got is not None and (best is None or len(got) < len(best)):
            best = got
    return best


def _compile_combos(rules: Mapping[str, Any]) -> list[tuple[frozenset[str], frozenset[str], str]]:
    """``[[category.combos]]``: things of one kind at a place of another decide the category
    ("炸药" at a "采石场" is a mining hazard)."""
    combos: list[tuple[frozenset[str], frozenset[str], str]] = []
    for i, spec in enumerate(require(rules, "category", "", dict).get("combos", [])):
        where = f"category.combos[{i}]."
        if not isinstance(spec, dict):
            raise ValueError(f"rules file: '{where[:-1]}' must be a table")
        combos.append(
            (
                frozenset(str_list(spec, "any", where)),
                frozenset(str_list(spec, "with", where)),
                check_category(require(spec, "category", where, str), f"{where}category"),
            )
        )
    return combos
