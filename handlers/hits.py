"""Finding keyword and pattern hits in a normalised message, and the clauses they sit in.

A message is scanned once with the compiled keyword tables (longest keyword at every position, none
inside a longer one) and then with the pattern families of the rules file; every hit records the clause
it is in (clauses are separated by punctuation and spaces, a run of separators counting once).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

from handlers.rules import Entry, KeywordTrie, PatternFamily, PatternSet

__all__ = [
    "AGENT_MARKS",
    "CLAUSE_SEP",
    "Hit",
    "apply_patterns",
    "clause_at",
    "clause_breaks",
    "roles_of",
    "run_families",
    "scan_keywords",
]

CLAUSE_SEP = "，,。.！!？?；;：:\n~～… 【】[]()（）“”\"'「」《》/|"
# the source name of the discontinuous-passive hits generated from ``[morphology]`` ("让车堵着")
PASSIVE_SOURCE = "morphology.passive"
# "让/被/叫" before a thing: that thing did something to another, it is not what is broken
AGENT_MARKS = frozenset("让被叫遭")


@dataclass(slots=True)
class Hit:
    """One keyword or pattern match: the matched words, their span, what they mean and their clause."""

    word: str
    start: int
    end: int
    entry: Entry
    clause: int


_SEP_RUN = re.compile("[" + re.escape(CLAUSE_SEP) + "]+")


def clause_breaks(text: str) -> list[int]:
    """Return the offsets that close a clause: the first separator of each run ("。。。 " closes one)."""
    return [m.start() for m in _SEP_RUN.finditer(text)]


def clause_at(text: str, pos: int) -> int:
    """Return the clause index of a text offset (runs of separators count once, as in :func:`clause_breaks`)."""
    return sum(
        1
        for i in range(min(pos, len(text)))
        if text[i] in CLAUSE_SEP and (i == 0 or text[i - 1] not in CLAUSE_SEP)
    )


def roles_of(hits: Iterable[Hit]) -> set[str]:
    """Return every role any of the hits plays."""
    present: set[str] = set()
    for h in hits:
        present |= h.entry.roles
    return present


def scan_keywords(
    text: str,
    entries: dict[str, Entry],
    keywords: KeywordTrie,
    seps: list[int] | None = None,
) -> list[Hit]:
    """Return the keyword hits: longest per position, none inside a longer one or overlapping an ignore.

    ``seps`` are the message's :func:`clause_breaks` when the caller already has them."""
    seps = clause_breaks(text) if seps is None else seps
    raw: list[tuple[str, int, int, Entry]] = []
    ignored: list[tuple[int, int]] = []
    max_end = 0
    size = len(text)
    # the walk of KeywordTrie.longest_at, inline: this loop runs for every character of every message
    for start, ch in enumerate(text):
        node = keywords.get(ch)
        if node is None:
            continue
        word = None
        at = start + 1
        while True:
            found = node.get("")
            if found is not None:
                word, end = found, at
            if at >= size:
                break
            node = node.get(text[at])
            if node is None:
                break
            at += 1
        if word is None or end <= max_end:
            continue  # no keyword here, or one inside a longer keyword ("气罐" inside "液化气罐")
        entry = entries[word]
        raw.append((word, start, end, entry))
        if "ignore" in entry.roles:
            ignored.append((start, end))
        max_end = end
    if not ignored:
        return [
            Hit(word, start, end, entry, bisect.bisect_right(seps, start)) for word, start, end, entry in raw
        ]
    hits: list[Hit] = []
    for word, start, end, entry in raw:
        # "看着火了": the ignore phrase 看着火 also hides the overlapping 着火了
        if "ignore" not in entry.roles and any(s < end and start < e for s, e in ignored):
            continue
        hits.append(Hit(word, start, end, entry, bisect.bisect_right(seps, start)))
    return hits


def apply_patterns(
    text: str,
    hits: list[Hit],
    patterns: list[PatternFamily],
    seps: list[int] | None = None,
) -> list[Hit]:
    """Add the hits of pattern families (sensory evidence, damage shapes, missing protection, people
    exposed, conduct, frames); a named group "s" marks the part of the match that is the hit
    ("井盖|没了" → the state only), and an ``ignore`` family hides the hits it overlaps."""
    if not patterns:
        return hits
    seps = clause_breaks(text) if seps is None else seps
    if isinstance(patterns, PatternSet):
        families = patterns.for_text(text)
    else:
        chars = frozenset(text)
        families = [fam for fam in patterns if not fam[2] or not fam[2].isdisjoint(chars)]
    return run_families(text, hits, families, seps)


def run_families(text: str, hits: list[Hit], families: list[PatternFamily], seps: list[int]) -> list[Hit]:
    """Add the hits of the given pattern families, already selected for the text (see :func:`apply_patterns`)."""
    extra = False
    masked: list[tuple[int, int]] = []
    for rx, entry, _needs in families:
        # most families find nothing: one search says so without building an iterator; after a first match
        # that is not empty, finditer from its end goes on exactly as the same finditer would have
        first = rx.search(text)
        if first is None:
            continue
        after = first.end()
        matches = chain((first,), rx.finditer(text, after)) if after > first.start() else rx.finditer(text)
        for m in matches:
            start, end = (m.start("s"), m.end("s")) if "s" in rx.groupindex and m.group("s") else m.span()
            if end <= start:
                continue
            if "ignore" in entry.roles:
                masked.append((start, end))  # "旱得地都裂了": a figure of speech hides what it overlaps
                continue
            if entry.source == PASSIVE_SOURCE and any(
                "bad" in h.entry.roles and h.start < end and start < h.end for h in hits
            ):
                continue  # "让三轮车碰歪了": the state "歪了" already counts; the span would pair wrongly
            hits.append(Hit(text[start:end], start, end, entry, bisect.bisect_right(seps, start)))
            extra = True
    if masked:
        hits = [h for h in hits if not any(s < h.end and h.start < e for s, e in masked)]
    if extra:
        hits.sort(key=lambda h: (h.start, -h.end))
    return hits
