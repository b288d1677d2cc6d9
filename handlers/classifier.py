"""Rule-based hazard-message classifier (jieba + keyword rules kept as data).

A message is normalised (mentions and emoji stripped, traditional and full-width characters folded), capped,
and scanned once with a single pre-compiled keyword pattern built from ``data/rules.toml``. Decisions are made
from the *structure* of the hits, not from single words:

* evidence comes in pairs within a clause (a thing such as 电线 plus a bad state such as 断), or as a
  self-sufficient event (起火, 漏电), an unsafe act (酒驾, 超载) or a near miss (差点砸着); any noun jieba's
  own tagged dictionary knows (砂浆, 菜) pairs with a *strong* bad state (歪歪扭扭, 馊了) at a lower weight,
  and concern markers (怕, 万一, 人还在上面) strengthen existing evidence;
* keywords are found at every position, so overlapping ones (一直往下 / 往下滚) are all seen;
* negation (没发现, 不是) is clause-local, resolution (修好了, 整改完) covers its scope up to a contrast word
  (但是, 又), so "电线修好了，但是杆子又歪了" still files;
* message frames (forwarded news, official notices and slogans, questions, figurative idioms) veto weak
  evidence unless a concrete local report is present; complaint questions (谁管管) are reports, service
  questions (有会修的没) are chatter, explained-away and resolved frames close their scope until a contrast;
* the most specific thing decides the category (塔吊 → special equipment even on a building site);
* tips are illegal-conduct words or anonymity requests plus a target; severity is its own small rule set;
  formal normative texts ("未设置…", "不符合…要求") are recognised by a formal frame;
* pattern families (``[[patterns]]`` in the rules: smells and smoke, shapes of damage, missing protection,
  people exposed, conduct) are regexes whose matches become hits with the roles they declare, and
  ``[[category.combos]]`` settle kind-at-place categories (炸药 at a 采石场 is mining).

Named places are found with the jieba tokenizer (a private ``jieba.Tokenizer`` loaded once with the domain user
dictionary and the town's village names) plus place-name suffix rules.
"""

from __future__ import annotations

import bisect
import logging
import re
import tomllib
import unicodedata
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import jieba

jieba.setLogLevel(logging.WARNING)
logging.getLogger("jieba").setLevel(logging.WARNING)

__all__ = ["CATEGORIES", "INTENTS", "Classification", "Classifier"]

INTENTS = ("hazard", "tip", "chatter", "command")
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

_MENTION_RE = re.compile(r"[@＠][^\s,，:：。！!？?]{1,20}(?:\s+|\u2005|$)")
_EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\u2b00-\u2bff\u2300-\u23ff"
    "\ufe0f\u200d\u20e3\U000e0020-\U000e007f]+"
)
_SPACE_RE = re.compile(r"\s+")
_CHATTY = frozenset("我你咱俺吧啊呢哈嘛呀哦噢吗")
_AGENT_MARKS = frozenset("让被叫")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
_CLAUSE_SEP = "，,。.！!？?；;：:\n~～… 【】[]()（）“”\"'「」《》/|"
# "还说没事", "硬说不要紧": the speaker disputes the all-clear that follows
_DISMISSIVE = ("还说", "硬说", "非说", "偏说", "老说", "倒说", "还讲", "非要说")
_LACK_END = frozenset(_CLAUSE_SEP) | frozenset({"", "了", "啊", "呀", "呢", "嘛", "哩"})

# Roles a keyword can play; each maps to a section of rules.toml (see that file's comments).
_LIST_ROLES = {
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
}
# Roles a longer keyword inherits from shorter keywords inside it ("非法开采" is also "非法").
_INHERITED = frozenset(
    {"major", "people_strong", "people_weak", "imminent", "critical", "ignition", "illegal", "anon"}
)
_EVIDENCE_ROLES = ("thing", "bad", "event", "act")
# roles that can make a message worth weighing at all; a message with none of them is chatter at once
_EVIDENCE_GATE = frozenset(
    {"thing", "bad", "strong", "event", "act", "illegal", "anon", "formal_marker", "report"}
)
_JIEBA_DICT = Path(jieba.__file__).resolve().parent / "dict.txt"


def _load_nouns(paths: Iterable[Path], tags: frozenset[str], exclude: frozenset[str]) -> frozenset[str]:
    """Read "word freq pos" dictionaries and return the words whose part of speech is in ``tags``."""
    nouns: set[str] = set()
    for path in paths:
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[2] in tags and parts[0] not in exclude:
                    nouns.add(parts[0])
    return frozenset(nouns)


@dataclass(frozen=True)
class Classification:
    """The classifier's verdict on one message."""

    intent: str
    category: str | None
    severity: str | None
    location: str | None
    confidence: float
    evidence: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the verdict as a JSON-ready dict (the `anquan parse` output line)."""
        return {
            "intent": self.intent,
            "category": self.category,
            "severity": self.severity,
            "location": self.location,
            "confidence": round(self.confidence, 3),
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class _Entry:
    """What one keyword means: its roles, and the category for thing/event/act roles."""

    roles: frozenset[str]
    category: str | None
    weight: float


@dataclass
class _Hit:
    word: str
    start: int
    end: int
    entry: _Entry
    clause: int


# What a match of the anonymity pattern ("别跟村长说", "怕…知道是我") stands for.
_ANON_ENTRY = _Entry(frozenset({"anon"}), None, 1.0)
# What a match of the conduct pattern ("没有…资格", "改了拉客", "过期…接着用") stands for.
_ILLEGAL_ENTRY = _Entry(frozenset({"illegal"}), None, 1.0)


# --------------------------------------------------------------------------------------------------------
# rules loading and validation


def _require(table: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in table:
        raise ValueError(f"rules file: missing key '{where}{key}'")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = "/".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
        raise ValueError(f"rules file: '{where}{key}' must be a {names}, got {type(value).__name__}")
    return value


def _str_list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = _require(table, key, where, list)
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"rules file: '{where}{key}' must be a list of non-empty strings, got {item!r}")
    return [item.strip() for item in value]


def _category(name: str, where: str) -> str:
    if name not in CATEGORIES:
        raise ValueError(
            f"rules file: unknown category '{name}' in '{where}' (allowed: {', '.join(CATEGORIES)})"
        )
    return name


def _build_trie_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Compile the words into one regex shaped like a trie, longest alternatives first."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True

    def render(node: dict[str, Any]) -> str:
        branches = []
        optional = "" in node
        for ch in sorted(k for k in node if k):
            branches.append(re.escape(ch) + render(node[ch]))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if optional:
            return f"(?:{body})?"
        return body

    # a zero-width look-ahead finds the longest keyword at *every* position, so overlapping keywords
    # ("一直往下" and "往下滚") are all seen; hits inside a longer hit are dropped afterwards
    return re.compile("(?=(" + render(trie) + "))")


def _build_start_table(words: Iterable[str]) -> tuple[re.Pattern[str], dict[str, re.Pattern[str]]]:
    """Split the keyword trie by first character: a charset finds where a keyword can start, and each
    first character's own sub-trie (anchored with ``match``) returns the longest keyword starting there.

    Same hits as ``_build_trie_pattern``'s look-ahead at every position, without trying the whole trie at
    positions no keyword starts at.
    """
    by_first: dict[str, list[str]] = {}
    for word in words:
        if word:
            by_first.setdefault(word[0], []).append(word)
    table: dict[str, re.Pattern[str]] = {}
    for ch, group in by_first.items():
        sub = _build_trie_pattern(group).pattern
        table[ch] = re.compile(sub[len("(?=(") : -len("))")])
    starts = re.compile("[" + "".join(re.escape(ch) for ch in sorted(by_first)) + "]")
    return starts, table


class Classifier:
    """Classifies chat messages into hazard / tip / chatter / command with category, severity and place."""

    def __init__(self, rules: Mapping[str, Any], tokenizer: jieba.Tokenizer, places: Iterable[str]) -> None:
        """Build the matcher from already-parsed rules; use :meth:`load` instead of calling this directly."""
        self._tokenizer = tokenizer
        self._places = frozenset(p for p in places if p)
        self._nouns: frozenset[str] = frozenset()  # filled by load() from jieba's tagged dictionary
        self._compile(rules)

    # ---- construction -------------------------------------------------------------------------------

    @classmethod
    def load(cls, rules_path: Path | str | None = None, places: Iterable[str] = ()) -> Classifier:
        """Load and validate the rules file, initialise jieba once, and return a ready classifier.

        ``places`` are the town profile's village names; they segment whole and always count as places.
        Raises ValueError naming the offending key when the rules file is malformed.
        """
        path = Path(rules_path) if rules_path is not None else DEFAULT_RULES
        try:
            with path.open("rb") as fh:
                rules = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"rules file {path}: invalid TOML: {exc}") from exc
        except OSError as exc:
            raise ValueError(f"rules file {path}: cannot read: {exc}") from exc
        names = [p.strip() for p in places if p and p.strip()]
        tokenizer = jieba.Tokenizer()  # lazy: the dictionary is read below, after validation
        classifier = cls(rules, tokenizer, names)  # validates the rules; raises ValueError
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer.initialize()
            if DEFAULT_USERDICT.exists():
                tokenizer.load_userdict(str(DEFAULT_USERDICT))
        for place in names:
            tokenizer.add_word(place, freq=50000)
        classifier._nouns = _load_nouns(
            (_JIEBA_DICT, DEFAULT_USERDICT), classifier._noun_tags, classifier._noun_exclude
        )
        return classifier

    def _compile(self, rules: Mapping[str, Any]) -> None:
        limits = _require(rules, "limits", "", dict)
        self.max_chars = int(_require(limits, "max_chars", "limits.", int))
        self.pair_window = int(_require(limits, "pair_window", "limits.", int))
        self.hazard_threshold = float(_require(limits, "hazard_threshold", "limits.", (int, float)))
        if self.max_chars < 20 or self.pair_window < 1:
            raise ValueError("rules file: 'limits.max_chars' must be >= 20 and 'limits.pair_window' >= 1")

        norm = _require(rules, "normalize", "", dict)
        table: dict[int, str] = {}
        for pair in _str_list(norm, "chars", "normalize."):
            if len(pair) != 2:
                raise ValueError(f"rules file: 'normalize.chars' entries are two characters, got {pair!r}")
            table[ord(pair[0])] = pair[1]
        self._char_table = table
        self._phrases = {}
        for src, dst in _require(norm, "phrases", "normalize.", dict).items():
            if not isinstance(dst, str):
                raise ValueError(f"rules file: 'normalize.phrases.{src}' must be a string")
            self._phrases[src] = dst
        self._phrase_re = (
            re.compile("|".join(re.escape(k) for k in sorted(self._phrases, key=len, reverse=True)))
            if self._phrases
            else None
        )

        lexicon: dict[str, tuple[set[str], dict[str, float]]] = {}

        def add(word: str, role: str, category: str | None = None, weight: float = 1.0) -> None:
            roles, cats = lexicon.setdefault(word, (set(), {}))
            roles.add(role)
            if category is not None:
                cats[category] = max(cats.get(category, 0.0), weight)

        for role, (section, key) in _LIST_ROLES.items():
            table_ = _require(rules, section, "", dict)
            for word in _str_list(table_, key, f"{section}."):
                add(word, role)

        for section, role in (("things", "thing"), ("events", "event"), ("acts", "act")):
            cats = _require(rules, section, "", dict)
            for cat, spec in cats.items():
                _category(cat, f"{section}.{cat}")
                if not isinstance(spec, dict):
                    raise ValueError(f"rules file: '{section}.{cat}' must be a table with 'words'")
                for word in _str_list(spec, "words", f"{section}.{cat}."):
                    add(word, role, cat, 1.0)
                if "weak" in spec:
                    for word in _str_list(spec, "weak", f"{section}.{cat}."):
                        add(word, role, cat, 0.5)
                if "strong" in spec:
                    for word in _str_list(spec, "strong", f"{section}.{cat}."):
                        add(word, role, cat, 2.0)
        for cat, words in _require(rules, "things_specific", "", dict).items():
            _category(cat, f"things_specific.{cat}")
            for word in _str_list({cat: words}, cat, "things_specific."):
                add(word, "thing", cat, 3.0)
        for cat, spec in _require(rules, "state_categories", "", dict).items():
            _category(cat, f"state_categories.{cat}")
            if not isinstance(spec, dict):
                raise ValueError(f"rules file: 'state_categories.{cat}' must be a table with 'words'")
            for word in _str_list(spec, "words", f"state_categories.{cat}."):
                add(word, "state_cat", cat, 1.0)
        for word in _str_list(_require(rules, "generic_things", "", dict), "words", "generic_things."):
            add(word, "thing")

        inheritable = {w: r & _INHERITED for w, (r, _) in lexicon.items() if r & _INHERITED}
        for word, (roles, _) in lexicon.items():
            if len(word) < 2 or "ignore" in roles:
                continue
            for sub, sub_roles in inheritable.items():
                if sub != word and len(sub) < len(word) and sub in word:
                    roles |= sub_roles
        self._entries: dict[str, _Entry] = {}
        for word, (roles, cats) in lexicon.items():
            category = max(cats, key=lambda c: cats[c]) if cats else None
            weight = cats.get(category, 1.0) if category else 1.0
            self._entries[word] = _Entry(frozenset(roles), category, weight)
        # Places from the town profile are keywords too, so they are always recognised.
        for place in self._places:
            old = self._entries.get(place)
            roles = (old.roles if old else frozenset()) | {"place"}
            self._entries[place] = _Entry(frozenset(roles), old.category if old else None, 1.0)
        self._starts_re, self._start_table = _build_start_table(self._entries)

        pri = _str_list(_require(rules, "category", "", dict), "priority", "category.")
        for cat in pri:
            _category(cat, "category.priority")
        missing = [c for c in CATEGORIES if c not in pri]
        if missing:
            raise ValueError(f"rules file: 'category.priority' lacks {', '.join(missing)}")
        self._cat_rank = {c: i for i, c in enumerate(pri)}

        sev = _require(rules, "severity", "", dict)
        crowd = _require(sev, "crowd_pattern", "severity.", str)
        try:
            self._crowd_re = re.compile(crowd)
        except re.error as exc:
            raise ValueError(f"rules file: 'severity.crowd_pattern' is not a valid regex: {exc}") from exc
        self._exposed_categories = frozenset(_str_list(sev, "exposed_categories", "severity."))
        self._danger_categories = frozenset(_str_list(sev, "danger_categories", "severity."))
        self._venues = frozenset(_str_list(sev, "venues", "severity."))
        self._venue_categories = frozenset(
            _category(c, "severity.venue_categories") for c in _str_list(sev, "venue_categories", "severity.")
        )
        self._leak_categories = frozenset(
            _category(c, "severity.leak_categories") for c in _str_list(sev, "leak_categories", "severity.")
        )
        # kinds of hazard whose thing is the energy source itself: a fire-looking state does not re-file them
        self._source_categories = frozenset(
            _category(c, "category.source_categories")
            for c in _str_list(_require(rules, "category", "", dict), "source_categories", "category.")
        )
        for cat in self._exposed_categories | self._danger_categories:
            _category(cat, "severity.exposed_categories/danger_categories")

        pl = _require(rules, "places", "", dict)
        self._suffixes = frozenset(_require(pl, "suffixes", "places.", str))
        self._generic_places = frozenset(_str_list(pl, "generic", "places."))
        self._bad_prefix = frozenset(_require(pl, "bad_prefix_chars", "places.", str))
        self._extend_prefix = frozenset(_require(pl, "extend_prefix_chars", "places.", str))
        self._strong_suffixes = frozenset(_require(pl, "strong_suffixes", "places.", str))
        self._bad_follow = frozenset(_str_list(pl, "bad_following", "places."))
        self._max_prefix = int(_require(pl, "max_prefix", "places.", int))
        # a road word ("乡道") or a person ("老杨家") right after a name ends the name there
        self._road_words = tuple(_str_list(pl, "road_words", "places.")) if "road_words" in pl else ()
        try:
            self._person_after = re.compile(pl["person_after"]) if pl.get("person_after") else None
        except (re.error, TypeError) as exc:
            raise ValueError(f"rules file: 'places.person_after' is not a valid regex: {exc}") from exc

        gn = _require(rules, "generic_nouns", "", dict)
        self._noun_tags = frozenset(_str_list(gn, "pos", "generic_nouns."))
        self._noun_exclude = frozenset(_str_list(gn, "exclude", "generic_nouns."))
        self._noun_weight = float(_require(gn, "weight", "generic_nouns.", (int, float)))
        self._contrast_open = frozenset(
            _require(_require(rules, "resolution", "", dict), "contrast_open", "resolution.", str)
        )
        self._concern_boost = float(_require(limits, "concern_boost", "limits.", (int, float)))

        frames = _require(rules, "frames", "", dict)
        self._frame_res: dict[str, re.Pattern[str]] = {}
        for key in ("figurative_pattern", "explained_pattern", "resolved_pattern", "near_miss_pattern"):
            try:
                self._frame_res[key] = re.compile(_require(frames, key, "frames.", str))
            except re.error as exc:
                raise ValueError(f"rules file: 'frames.{key}' is not a valid regex: {exc}") from exc

        tips = _require(rules, "tips", "", dict)
        try:
            self._conduct_re = re.compile(_require(tips, "conduct_pattern", "tips.", str))
        except re.error as exc:
            raise ValueError(f"rules file: 'tips.conduct_pattern' is not a valid regex: {exc}") from exc
        self._tip_needs_target = bool(_require(tips, "illegal_needs_target", "tips.", bool))
        anon_pattern = _require(tips, "anonymity_pattern", "tips.", str)
        try:
            self._anon_re = re.compile(anon_pattern)
        except re.error as exc:
            raise ValueError(f"rules file: 'tips.anonymity_pattern' is not a valid regex: {exc}") from exc

        # pattern families: a regex whose match is a keyword hit with the given roles (and category)
        allowed_roles = set(_LIST_ROLES) | {"thing", "event", "act", "state_cat", "remnant"}
        self._patterns: list[tuple[re.Pattern[str], _Entry, frozenset[str]]] = []
        specs = rules.get("patterns", [])
        if not isinstance(specs, list):
            raise ValueError("rules file: 'patterns' must be an array of tables ([[patterns]])")
        for i, spec in enumerate(specs):
            where = f"patterns[{i}]."
            if not isinstance(spec, dict):
                raise ValueError(f"rules file: '{where[:-1]}' must be a table")
            name = _require(spec, "name", where, str)
            roles = frozenset(_str_list(spec, "roles", where))
            unknown = roles - allowed_roles
            if unknown:
                raise ValueError(
                    f"rules file: '{where}roles' of '{name}' has unknown roles {sorted(unknown)}"
                )
            cat = spec.get("category")
            if cat is not None:
                _category(cat, f"{where}category")
            weight = float(spec.get("weight", 1.0))
            try:
                rx = re.compile(_require(spec, "regex", where, str))
            except re.error as exc:
                raise ValueError(f"rules file: '{where}regex' ({name}) is not a valid regex: {exc}") from exc
            # "needs": characters of which every match holds at least one; a message with none skips it
            needs = spec.get("needs", "")
            if not isinstance(needs, str):
                raise ValueError(f"rules file: '{where}needs' ({name}) must be a string of characters")
            self._patterns.append((rx, _Entry(roles, cat, weight), frozenset(needs)))
        # families that can supply evidence run on every message; the rest (frames, scope, severity,
        # ignore) run only once a message has evidence, which keeps plain chit-chat fast
        self._ev_patterns = [p for p in self._patterns if p[1].roles & _EVIDENCE_GATE]
        self._mod_patterns = [p for p in self._patterns if not p[1].roles & _EVIDENCE_GATE]
        # category combinations: things of one kind at a place of another decide the category
        # ("炸药" at a "采石场" is a mining hazard)
        self._combos: list[tuple[frozenset[str], frozenset[str], str]] = []
        for i, spec in enumerate(_require(rules, "category", "", dict).get("combos", [])):
            where = f"category.combos[{i}]."
            if not isinstance(spec, dict):
                raise ValueError(f"rules file: '{where[:-1]}' must be a table")
            self._combos.append(
                (
                    frozenset(_str_list(spec, "any", where)),
                    frozenset(_str_list(spec, "with", where)),
                    _category(_require(spec, "category", where, str), f"{where}category"),
                )
            )

    # ---- helpers ------------------------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """Fold a raw message to the form the rules are written in (simplified, half-width, no emoji)."""
        text = unicodedata.normalize("NFKC", text[: self.max_chars * 2])
        text = _MENTION_RE.sub(" ", text)
        text = _EMOJI_RE.sub(" ", text)
        text = text.translate(self._char_table)
        if self._phrase_re is not None:
            text = self._phrase_re.sub(lambda m: self._phrases[m.group(0)], text)
        text = _SPACE_RE.sub(" ", text).strip()
        return text[: self.max_chars]

    def _find_location(self, text: str, hits: list[_Hit]) -> str | None:
        """Return the first named place: a gazetteer name, else a suffix-pattern name at jieba word bounds."""
        for hit in hits:
            if "place" in hit.entry.roles:
                return hit.word
        bounds: set[int] = set()
        pos = 0
        for tok in self._tokenizer.lcut(text):
            bounds.add(pos)
            pos += len(tok)
        bounds.add(pos)
        freq = self._tokenizer.FREQ
        for i, ch in enumerate(text):
            if ch not in self._suffixes or i == 0 or text[i : i + 2] in self._bad_follow:
                continue
            if text.startswith(self._road_words, i):
                continue  # "乡道", "村道": a road, not the end of a place name
            end = i + 1
            with_village = ch != "村" and text[i + 1 : i + 2] == "村"
            # "碾子沟老杨家", "高家塔乡道", "狼窝沟沟掌": a person, a road or the suffix repeated ends the name
            ends_here = (
                text.startswith(self._road_words, i + 1)
                or text[i + 1 : i + 2] == ch
                or (self._person_after is not None and self._person_after.match(text, i + 1) is not None)
            )
            if with_village:
                end = i + 2
            elif (i + 1) not in bounds and ch not in self._strong_suffixes and not ends_here:
                continue
            for length in range(1, self._max_prefix + 1):
                start = i - length
                if start < 0 or not _HAN_RE.match(text[start]):
                    break
                if start not in bounds:
                    continue
                first = text[start]
                if first in self._extend_prefix:
                    continue  # "家庄村" is the tail of "尚家庄村": look one character further back
                if first in self._bad_prefix:
                    break
                core = text[start : i + 1]
                if core in self._generic_places or text[start:end] in self._generic_places:
                    if with_village:
                        continue  # "河湾" is generic, "大河湾村" is a village
                    break
                if length == 1 and start > 0 and freq.get(text[start - 1 : start + 1], 0) > 0:
                    prev = text[start - 1]
                    if _HAN_RE.match(prev) and prev not in self._bad_prefix:
                        start -= 1  # "黑龙沟村": the name began with the word 黑龙, not with 龙
                elif length == 1 and start > 0 and (start - 1) in bounds:
                    prev = text[start - 1]
                    if _HAN_RE.match(prev) and prev not in self._bad_prefix:
                        start -= 1  # a lone character jieba split off an unknown name ("崖 窑坪村")
                return text[start:end]
        return None

    # ---- classification -----------------------------------------------------------------------------

    def classify(self, text: str, chat: str = "group") -> Classification:
        """Classify one message; ``chat`` is "group" or "private"."""
        stripped = (text or "").strip()
        if stripped[:1] in ("/", "／"):
            return Classification("command", None, None, None, 1.0, ())
        norm = self.normalize(stripped)
        if not norm:
            return Classification("chatter", None, None, None, 0.99, ())

        hits = self._scan(norm)

        roles_present: set[str] = set()
        for h in hits:
            roles_present |= h.entry.roles

        if not roles_present & _EVIDENCE_GATE and not self._conduct_re.search(norm):
            location = self._find_location(norm, hits) if self._has_place(norm, hits) else None
            return Classification("chatter", None, None, location, 0.95, ())
        # frame, severity and scope families only matter once there is evidence to weigh
        hits = self._apply_patterns(norm, hits, self._mod_patterns)
        roles_present = set()
        for h in hits:
            roles_present |= h.entry.roles
        crowd = self._crowd_re.search(norm)
        return self._decide(norm, chat, hits, roles_present, crowd is not None)

    def _scan(self, text: str) -> list[_Hit]:
        """Return the keyword hits: longest per position, none inside a longer one or overlapping an ignore."""
        # a run of separators ("。。。 ") closes one clause, not several
        seps = [
            i for i, ch in enumerate(text) if ch in _CLAUSE_SEP and (i == 0 or text[i - 1] not in _CLAUSE_SEP)
        ]
        entries = self._entries
        raw: list[tuple[str, int, int]] = []
        max_end = 0
        table = self._start_table
        for sm in self._starts_re.finditer(text):
            start = sm.start()
            m = table[sm.group()].match(text, start)
            if m is None:
                continue
            end = m.end()
            word = text[start:end]
            if end <= max_end:
                continue  # inside a longer keyword ("气罐" inside "液化气罐")
            raw.append((word, start, end))
            max_end = end
        ignored = [(s, e) for w, s, e in raw if "ignore" in entries[w].roles]
        hits: list[_Hit] = []
        for word, start, end in raw:
            # "看着火了": the ignore phrase 看着火 also hides the overlapping 着火了
            if (
                ignored
                and "ignore" not in entries[word].roles
                and any(s < end and start < e for s, e in ignored)
            ):
                continue
            hits.append(_Hit(word, start, end, entries[word], bisect.bisect_right(seps, start)))
        return self._apply_patterns(text, hits, self._ev_patterns)

    def _apply_patterns(
        self, text: str, hits: list[_Hit], patterns: list[tuple[re.Pattern[str], _Entry, frozenset[str]]]
    ) -> list[_Hit]:
        """Add the hits of pattern families (sensory evidence, damage shapes, missing protection, people
        exposed, conduct, frames); a named group "s" marks the part of the match that is the hit
        ("井盖|没了" → the state only), and an ``ignore`` family hides the hits it overlaps."""
        if not patterns:
            return hits
        seps = [
            i for i, ch in enumerate(text) if ch in _CLAUSE_SEP and (i == 0 or text[i - 1] not in _CLAUSE_SEP)
        ]
        extra = False
        masked: list[tuple[int, int]] = []
        chars = frozenset(text)
        for rx, entry, needs in patterns:
            if needs and needs.isdisjoint(chars):
                continue
            for m in rx.finditer(text):
                start, end = (m.start("s"), m.end("s")) if "s" in rx.groupindex and m.group("s") else m.span()
                if end <= start:
                    continue
                if "ignore" in entry.roles:
                    masked.append((start, end))  # "旱得地都裂了": a figure of speech hides what it overlaps
                    continue
                hits.append(_Hit(text[start:end], start, end, entry, bisect.bisect_right(seps, start)))
                extra = True
        if masked:
            hits = [h for h in hits if not any(s < h.end and h.start < e for s, e in masked)]
        if extra:
            hits.sort(key=lambda h: (h.start, -h.end))
        return hits

    def _has_place(self, text: str, hits: list[_Hit]) -> bool:
        """Cheap pre-check: only segment when a place suffix or a gazetteer name occurs."""
        suffixes = self._suffixes
        return any(ch in suffixes for ch in text) or any("place" in h.entry.roles for h in hits)

    def _decide(
        self, text: str, chat: str, hits: list[_Hit], present: set[str], crowd: bool
    ) -> Classification:
        n_clauses = (hits[-1].clause + 1) if hits else 1
        # scopes: a contrast word opens a new scope; resolution covers its whole scope
        scope_of_clause: dict[int, int] = {}
        scope = 0
        contrast_clauses = {h.clause for h in hits if "contrast" in h.entry.roles}
        # "…换了新的 可新杆子…": a lone 可/但 opening a clause is a contrast too
        clause = 0
        for i, ch in enumerate(text):
            if ch in _CLAUSE_SEP and (i == 0 or text[i - 1] not in _CLAUSE_SEP):
                clause += 1
            elif ch in self._contrast_open and (i == 0 or text[i - 1] in _CLAUSE_SEP):
                contrast_clauses.add(clause)
        for c in range(n_clauses):
            if c in contrast_clauses and c > 0:
                scope += 1
            scope_of_clause[c] = scope

        location = self._find_location(text, hits) if self._has_place(text, hits) else None
        if location:
            at = text.find(location)
            hits = (
                [
                    h
                    for h in hits
                    if not (h.start >= at and h.end <= at + len(location) and "place" not in h.entry.roles)
                ]
                if at >= 0
                else hits
            )  # "柳树湾": the willow in a village name is not a thing
        resolved_scopes: set[int] = set()
        # message-level negation and explained-away / resolved frames ("电工说线路没毛病", "上礼拜就拆了")
        # close their part of the message; a contrast word ("可是…还是有味") opens a new one
        # "烧锅炉的老汉还说没事": someone brushing a hazard off ("还说/硬说…没事") is no all-clear
        neg_msg_scopes = {
            scope_of_clause[h.clause]
            for h in hits
            if "neg_msg" in h.entry.roles and not text[max(0, h.start - 3) : h.start].endswith(_DISMISSIVE)
        }
        for key in ("explained_pattern", "resolved_pattern"):
            for m in self._frame_res[key].finditer(text):
                neg_msg_scopes.add(self._scope_at(text, m.start(), scope_of_clause))
        resolved_scopes |= neg_msg_scopes
        bad_positions: list[_Hit] = []
        neg_from: dict[int, int] = {}
        things: list[_Hit] = []
        events: list[_Hit] = []
        for idx, h in enumerate(hits):
            roles = h.entry.roles
            if "fixed" in roles:
                before = text[max(0, h.start - 2) : h.start]
                agent = text[max(0, h.start - 4) : h.start]
                if "没" in before or "未" in before or "不" in before:
                    bad_positions.append(h)  # "还没修好" / "也没整改": an unfixed hazard
                elif any(a + "人" in agent for a in _AGENT_MARKS):
                    bad_positions.append(h)  # "盖子叫人搬走了": taken away by someone, not a repair
                else:
                    resolved_scopes.add(scope_of_clause[h.clause])
            if "neg" in roles:
                neg_from[h.clause] = min(neg_from.get(h.clause, h.start), h.start)
            if "bad" in roles or "near" in roles or "pile" in roles or "strong" in roles:
                bad_positions.append(h)
            if "lack_marker" in roles:
                nxt = hits[idx + 1] if idx + 1 < len(hits) else None
                prev = hits[idx - 1] if idx > 0 else None
                if nxt is not None and nxt.start - h.end <= 2 and "lack_item" in nxt.entry.roles:
                    bad_positions.append(h)  # "没装减压阀"
                elif (
                    prev is not None
                    and "lack_item" in prev.entry.roles
                    and 0 <= h.start - prev.end <= 2
                    and text[h.end : h.end + 1] in _LACK_END
                ):
                    bad_positions.append(h)  # "连个警示灯都没有": the marker closes the clause
            if "thing" in roles:
                things.append(h)
            if "event" in roles or "act" in roles:
                events.append(h)

        def alive(h: _Hit) -> bool:
            if scope_of_clause[h.clause] in resolved_scopes:
                return False
            neg = neg_from.get(h.clause)
            return neg is None or h.start < neg

        evidence: list[str] = []
        score = 0.0
        cat_votes: dict[str, float] = {}
        first_seen: dict[str, int] = {}

        def vote(h: _Hit, factor: float) -> None:
            cat = h.entry.category
            if cat:
                cat_votes[cat] = cat_votes.get(cat, 0.0) + h.entry.weight * factor
                first_seen.setdefault(cat, h.start)

        window = self.pair_window
        paired: dict[int, float] = {}  # thing start -> vote factor
        paired_states: set[int] = set()
        ev_pos: list[int] = []  # where the evidence sits (for the past-story frame)
        evidence_clauses: set[int] = set()
        for b in bad_positions:
            if not alive(b):
                continue
            is_near = "near" in b.entry.roles
            is_pile = "pile" in b.entry.roles
            best: _Hit | None = None
            best_dist = 1e9
            for t in things:
                if t.clause != b.clause or b.start <= t.start < b.end:
                    continue  # a thing inside the state's own words ("拿几根树枝搭着") is not what failed
                if t.start > 0 and text[t.start - 1] in _AGENT_MARKS and t.start < b.start:
                    continue  # "让三轮车碰歪了": the thing after 让/被 did it, it is not what is broken
                gap = b.start - t.start
                if is_near:
                    dist = float(t.start)  # "X 离 Y 不到一米": X, the first thing, is what is at risk
                elif is_pile:
                    dist = -gap if gap < 0 else gap * 3.0  # "堆了一垛玉米杆": what is piled comes after
                elif gap > 0:
                    dist = gap  # the thing usually comes before its state ("电线断了")
                else:
                    dist = -gap * 3.0
                if abs(gap) <= window and dist < best_dist:
                    best, best_dist = t, dist
            fallback = False
            if best is None:
                # a bad state may refer to a thing named in the previous clause ("墙上的电线，外皮都酥了"),
                # even one mended before a contrast ("杆子换了新的 可…又开始往一边歪")
                for back in (1, 2):
                    for t in things:
                        if t.clause == b.clause - back and 0 < b.start - t.start <= window * 2:
                            best = t
                            fallback = True
                    if best is not None:
                        break
            if best is None or not (fallback or alive(best)):
                continue
            evidence.append(f"{best.word}+{b.word}")
            if "state_cat" in b.entry.roles and best.entry.category not in self._source_categories:
                # "椽子都烤黑了": what the state looks like names the kind of hazard, unless the thing is
                # itself an energy source ("插座…烧黑了" is electric: the harm comes from the socket)
                vote(b, 1.5)
            paired_states.add(b.start)
            ev_pos.append(b.start)
            score += 1.0
            factor = 1.0 if is_near else 2.0
            paired[best.start] = max(paired.get(best.start, 0.0), factor)
            evidence_clauses.add(b.clause)
            evidence_clauses.add(best.clause)
        # a strong bad state with no lexicon thing pairs with any concrete noun jieba tags before it
        # ("砂浆…码砖 歪歪扭扭", "菜都馊了"); weaker than a lexicon pair, so it needs a second sign
        loose = [b for b in hits if "strong" in b.entry.roles and b.start not in paired_states and alive(b)]
        if loose and self._nouns:
            toks = self._tokens(text)
            for b in loose:
                noun = self._noun_before(text, toks, b, hits)
                if noun is not None:
                    evidence.append(f"{noun}+{b.word}")
                    score += self._noun_weight
                    if "state_cat" in b.entry.roles:
                        vote(b, 1.5)
                    ev_pos.append(b.start)
                    evidence_clauses.add(b.clause)
        # "支护的木头都腐了": an always-major thing named in a clause that holds evidence
        major_pair = any(
            "major_thing" in h.entry.roles and h.clause in evidence_clauses and alive(h) for h in hits
        )
        for e in events:
            if alive(e):
                evidence.append(e.word)
                ev_pos.append(e.start)
                if "event" in e.entry.roles:
                    score += 1.0
                else:
                    # an unsafe act needs something concrete next to it (a thing, a person, a place)
                    concrete = any(t.start != e.start for t in things) or bool(
                        present & {"people_weak", "people_strong", "target", "local"}
                    )
                    score += 1.0 if concrete else 0.5
                vote(e, 3.0 if "event" in e.entry.roles else 2.0)
        for t in things:
            if t.start in paired:
                vote(t, paired[t.start])
            elif alive(t):
                vote(t, 1.0 if t.clause in evidence_clauses else 0.5)

        # formal normative text (official criteria): deficiency marker + industrial term
        n_weak_terms = sum(1 for h in hits if "formal_weak" in h.entry.roles)
        formal = (
            "formal_marker" in present
            and ("formal_term" in present or n_weak_terms >= 2)
            and len(text) >= 6
            and "question" not in present
            and not any(ch in _CHATTY for ch in text)
        )

        # a near miss ("差点砸着一个老婆婆", "差点跟面包车撞上") is evidence on its own
        near_miss = self._frame_res["near_miss_pattern"].search(text)
        if near_miss and self._scope_at(text, near_miss.start(), scope_of_clause) not in resolved_scopes:
            score += 1.0
            evidence.append(near_miss.group(0))
            ev_pos.append(near_miss.start())
        # concern and urgency ("怕", "万一", "谁管管", "人还在上面") strengthen evidence, never replace it
        if score > 0 and (
            any("concern" in h.entry.roles and alive(h) for h in hits) or "people_strong" in present or crowd
        ):
            score += self._concern_boost

        illegal = [h for h in hits if "illegal" in h.entry.roles and alive(h)]
        conduct = self._conduct_re.search(text)
        if conduct and self._scope_at(text, conduct.start(), scope_of_clause) not in resolved_scopes:
            illegal.append(_Hit(conduct.group(0), conduct.start(), conduct.end(), _ILLEGAL_ENTRY, 0))
        anon = [h for h in hits if "anon" in h.entry.roles]
        anon_match = self._anon_re.search(text)
        if anon_match and not anon:
            anon = [_Hit(anon_match.group(0), anon_match.start(), anon_match.end(), _ANON_ENTRY, 0)]
        report = [h for h in hits if "report" in h.entry.roles]
        target = "target" in present or bool(things) or bool(events)

        local = location is not None or "local" in present
        # forwarded news gives way only to a local report next to the evidence ("朋友圈…咱村口那电线断了"),
        # not to a local aside elsewhere in the message ("南方发大水了…咱这儿倒好 旱得…")
        local_news = location is not None or any(
            "local" in h.entry.roles and (h.clause in evidence_clauses or h.clause + 1 in evidence_clauses)
            for h in hits
        )

        notice = "notice" in present
        news = "news" in present
        # a complaint ("谁管管啊？", "能不能来人看看") is a report, not a question for information;
        # asking for a service or an item ("有会修的没", "谁家有…借我") is chatter whatever else it says
        service = "service" in present
        question = ("question" in present or text.endswith(("?", "？"))) and "complaint" not in present
        # a figurative word vetoes only when it shares a clause with the evidence ("说是没电了" is an excuse
        # in its own clause, not a figure of speech about the stopped fan)
        figurative = self._frame_res["figurative_pattern"].search(text) is not None or any(
            "figurative" in h.entry.roles and (h.clause in evidence_clauses or not evidence_clauses)
            for h in hits
        )
        # a story from the past ("小时候那孔窑塌过一回") unless it says it is so now ("现在又") before the
        # evidence ends; "…现在的娃娃金贵" after the story does not make the story current
        last_ev = max(ev_pos, default=len(text))
        # "…是以前炸石头剩下的": a leftover from the past is still there now, wherever it is said
        past = (
            bool(present & {"past", "past_strong"})
            and "remnant" not in present
            and not any(h.start <= last_ev for h in hits if h.entry.roles & {"present", "imminent"})
        )
        # "小时候…差点淹死": a childhood story stays a story however vivid it is
        past_strong = past and "past_strong" in present
        # "谢谢…漏电的那个闸": thanks before the evidence is talk about a handled hazard, unless a contrast
        # ("谢谢来修，可是…还是有味") or a complaint reopens it
        first_ev = min(ev_pos, default=len(text))
        thanked = (
            any("thanks" in h.entry.roles and h.start < first_ev for h in hits)
            and len(set(scope_of_clause.values())) == 1
            and "complaint" not in present
        )
        # message-level negation closed its scope above; it frames the message out only if nothing survived
        neg_msg = (bool(neg_msg_scopes) and score < self.hazard_threshold) or self._explained(text, hits)

        framed_out = notice or news or neg_msg  # notices, forwarded news and explanations never file
        is_tip = not framed_out and bool(
            (
                illegal
                and (target or not self._tip_needs_target)
                and (score > 0 or "target" in present or things)
            )
            or (anon and (score > 0 or illegal or things or report))
            or (report and chat == "private" and score >= self.hazard_threshold and illegal)
            or (illegal and anon)
            # "举报 …私拉电网", "…封死了 我要举报": an explicit report of someone's conduct with evidence
            or (any("举报" in h.word for h in report) and score >= self.hazard_threshold)
        )
        if is_tip:
            evidence.extend(h.word for h in illegal + anon)

        is_hazard = score >= self.hazard_threshold
        vetoed = (
            is_hazard
            and not is_tip
            and bool(
                notice
                or neg_msg
                or service
                or (news and not local_news)
                or (question and not local)
                or (figurative and score < 2 * self.hazard_threshold)
                or (past and score < 2 * self.hazard_threshold)
                or past_strong
                or thanked
            )
        )
        if formal and not is_hazard and not is_tip and not (framed_out or question):
            is_hazard = True
            evidence.extend(h.word for h in hits if "formal_marker" in h.entry.roles)

        if is_tip:
            intent = "tip"
        elif is_hazard and not vetoed:
            intent = "hazard"
        else:
            conf = 0.9 if score == 0 else (0.7 if vetoed else 0.75)
            return Classification("chatter", None, None, location, conf, ())

        # the most specific thing decides (塔吊 on a building site is special equipment, 药剂 in a coal
        # washery is chemical): a `specific` thing overrides the vote
        specific = {
            h.entry.category: h.start
            for h in hits
            if h.entry.weight >= 3.0
            and "thing" in h.entry.roles
            and alive(h)
            # named in a clause with evidence, or just before it ("庙会上来了个大摆锤 螺丝都锈了")
            and (
                h.start in paired
                or not paired
                or h.clause in evidence_clauses
                or h.clause + 1 in evidence_clauses
            )
        }
        if specific and is_hazard | is_tip:
            category = max(specific, key=lambda c: (cat_votes.get(c, 0.0), -self._cat_rank[c]))
        elif cat_votes:
            category = max(cat_votes, key=lambda c: (cat_votes[c], -self._cat_rank[c], -first_seen[c]))
        else:
            category = "other"
        words_alive = {h.word for h in hits if alive(h)}
        for any_of, with_of, combo_cat in self._combos:
            if words_alive & any_of and words_alive & with_of:
                category = combo_cat
                break

        people_now = any(
            h.entry.roles & {"people_weak", "people_strong"} and h.word not in self._venues for h in hits
        )
        venue_now = any(h.word in self._venues and alive(h) for h in hits)
        severity = self._severity(present, crowd, formal or major_pair, category, people_now, venue_now)
        strength = score + (1.0 if is_tip else 0.0) + (0.5 if local else 0.0)
        confidence = min(0.97, 0.5 + 0.12 * strength)
        if intent == "hazard" and (question or figurative or news):
            confidence = min(confidence, 0.6)
        ev = tuple(dict.fromkeys(evidence))[:8]
        return Classification(intent, category, severity, location, round(confidence, 3), ev)

    def _tokens(self, text: str) -> list[tuple[str, int]]:
        """Return jieba's tokens with their start offsets."""
        out: list[tuple[str, int]] = []
        pos = 0
        for tok in self._tokenizer.lcut(text):
            out.append((tok, pos))
            pos += len(tok)
        return out

    def _noun_before(
        self, text: str, toks: list[tuple[str, int]], state: _Hit, hits: list[_Hit]
    ) -> str | None:
        """Return the nearest concrete noun before ``state`` in its clause (within the pair window), if any."""
        best: str | None = None
        for tok, start in toks:
            end = start + len(tok)
            if end > state.start:
                break
            if state.start - start > self.pair_window or tok not in self._nouns:
                continue
            if any(ch in _CLAUSE_SEP for ch in text[end : state.start]):
                continue
            # a noun that is also another keyword (a person word, a frame word) is not a thing
            if any(h.start <= start < h.end and not h.entry.roles & {"thing", "strong", "bad"} for h in hits):
                continue
            best = tok
        return best

    @staticmethod
    def _clause_at(text: str, pos: int) -> int:
        """Return the clause index of a text offset (runs of separators count once, as in :meth:`_scan`)."""
        return sum(
            1
            for i in range(min(pos, len(text)))
            if text[i] in _CLAUSE_SEP and (i == 0 or text[i - 1] not in _CLAUSE_SEP)
        )

    def _scope_at(self, text: str, pos: int, scope_of_clause: dict[int, int]) -> int:
        """Return the scope (part of the message between contrast words) holding a text offset."""
        clause = self._clause_at(text, pos)
        known = [c for c in scope_of_clause if c <= clause]
        return scope_of_clause[max(known)] if known else 0

    @staticmethod
    def _explained(text: str, hits: list[_Hit]) -> bool:
        """True for "不是着火，是…的炉子冒烟": a negated report followed by the real explanation."""
        for h in hits:
            if h.word == "不是":
                rest = text[h.end :]
                for sep in ("，是", ",是", "，那是", ",那是", "，只是", ",只是"):
                    if sep in rest:
                        return True
        return False

    def _severity(
        self,
        present: set[str],
        crowd: bool,
        intrinsic: bool,
        category: str,
        people_now: bool,
        venue_now: bool = False,
    ) -> str:
        """Return "major" or "general" by the severity rule set (see ``[severity]`` in rules.toml).

        major = A. official major-hazard vocabulary, formal criteria text, an always-major thing failing,
                or a gas hazard showing a leak (闻见味, 嗤嗤);
             or B. many people in or at it now (住着, 一家五口, 十几个娃), in a danger category;
             or C. people inside/under/on it right now (还在里头上课, 底下有人) in an exposed category;
             or D. vulnerable people named as people (娃娃, 老人, 工人; a venue such as 小学 is not enough)
                and imminence (随时, 快塌了); or people or a venue and a critical item (安全出口, 锅炉);
             or E. a fire source with imminence, or next to explosives and fuel;
             or F. a slope or building failing at a venue (小学, 教室) with imminence (又宽了, 往下坐).
        general otherwise.
        """
        if intrinsic or "major" in present or (category in self._leak_categories and "leak" in present):
            return "major"  # A (a gas or chemical hazard that smells, hisses or fumes is a leak)
        danger = category in self._danger_categories
        many = "people_strong" in present or crowd
        if many and danger:
            return "major"  # B
        people = bool(present & {"people_weak", "people_strong"}) or crowd
        if people and "exposure" in present and category in self._exposed_categories:
            return "major"  # C
        if "imminent" in present and (people_now or crowd):
            return "major"  # D: people named as people, and it is about to happen
        if "critical" in present and people and danger:
            return (
                "major"  # D: a critical item (fire exit, boiler, pit) where vulnerable people are or gather
            )
        if "ignition" in present and ("imminent" in present or category == "chemical"):
            return "major"  # E
        if venue_now and "imminent" in present and category in self._venue_categories:
            return "major"  # F
        return "general"
