"""Weighing the evidence in a message: pairing things with bad states, events, acts and near misses.

Evidence comes in pairs within a clause (a thing such as 电线 plus a bad state such as 断), or as a
self-sufficient event (起火, 漏电), an unsafe act (酒驾, 超载) or a near miss (差点砸着); a noun jieba's own
dictionary knows pairs with a *strong* bad state at a lower weight, and concern markers (怕, 万一) strengthen
existing evidence. Every piece adds to a score, names itself in the evidence list and votes for a category.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import jieba

from handlers.frames import Scopes, repair_undone
from handlers.hits import AGENT_MARKS, CLAUSE_SEP, Hit

__all__ = [
    "Candidates",
    "Evidence",
    "add_near_miss",
    "boost_for_concern",
    "count_events",
    "gather_candidates",
    "pair_loose_states",
    "pair_states",
    "vote_things",
]

# what may follow a lack marker that closes its clause ("连个警示灯都没有")
_LACK_END = frozenset(CLAUSE_SEP) | frozenset({"", "了", "啊", "呀", "呢", "嘛", "哩"})
_STATE_ROLES = frozenset({"bad", "near", "pile", "strong"})
_PEOPLE_OR_PLACE = frozenset({"people_weak", "people_strong", "target", "local"})


@dataclass(slots=True)
class Candidates:
    """The hits that can become evidence: bad states, things, and events or acts."""

    states: list[Hit]
    things: list[Hit]
    events: list[Hit]


@dataclass(slots=True)
class Evidence:
    """The evidence found so far: its words, score, category votes and where it sits."""

    words: list[str] = field(default_factory=list)
    score: float = 0.0
    votes: dict[str, float] = field(default_factory=dict)
    first_seen: dict[str, int] = field(default_factory=dict)  # category -> offset of its first vote
    paired: dict[int, float] = field(default_factory=dict)  # thing start -> vote factor
    paired_states: set[int] = field(default_factory=set)  # starts of states paired with a thing
    positions: list[int] = field(default_factory=list)  # where the evidence sits (for the past frame)
    clauses: set[int] = field(default_factory=set)  # clauses holding evidence

    def vote(self, hit: Hit, factor: float) -> None:
        """Add the hit's weight times ``factor`` to the vote for its category (if it has one)."""
        cat = hit.entry.category
        if cat:
            self.votes[cat] = self.votes.get(cat, 0.0) + hit.entry.weight * factor
            self.first_seen.setdefault(cat, hit.start)


def gather_candidates(text: str, hits: Sequence[Hit]) -> Candidates:
    """Sort the hits into bad states, things and events/acts, in message order.

    A bad state is a state word, a resolution word that is undone ("还没修好"), or a lack marker next to a
    lacking item ("没装减压阀", "连个警示灯都没有").
    """
    states: list[Hit] = []
    things: list[Hit] = []
    events: list[Hit] = []
    for idx, h in enumerate(hits):
        roles = h.entry.roles
        if "fixed" in roles and repair_undone(text, h):
            states.append(h)
        if not roles.isdisjoint(_STATE_ROLES):
            states.append(h)
        if "lack_marker" in roles and _lacks_item(text, hits, idx):
            states.append(h)
        if "thing" in roles:
            things.append(h)
        if "event" in roles or "act" in roles:
            events.append(h)
    return Candidates(states, things, events)


def _lacks_item(text: str, hits: Sequence[Hit], idx: int) -> bool:
    """True if the lack marker at ``hits[idx]`` is right before a lacking item ("没装减压阀") or right
    after one and closes the clause ("连个警示灯都没有")."""
    h = hits[idx]
    nxt = hits[idx + 1] if idx + 1 < len(hits) else None
    if nxt is not None and nxt.start - h.end <= 2 and "lack_item" in nxt.entry.roles:
        return True
    prev = hits[idx - 1] if idx > 0 else None
    return (
        prev is not None
        and "lack_item" in prev.entry.roles
        and 0 <= h.start - prev.end <= 2
        and text[h.end : h.end + 1] in _LACK_END
    )


def pair_states(
    text: str,
    cands: Candidates,
    scopes: Scopes,
    window: int,
    source_categories: frozenset[str],
    ev: Evidence,
) -> None:
    """Pair every live bad state with the thing it is about (same clause, else one or two clauses back)."""
    for b in cands.states:
        if not scopes.alive(b):
            continue
        best = _nearest_thing(text, b, cands.things, window)
        fallback = False
        if best is None:
            best = _thing_in_earlier_clause(b, cands.things, window)
            fallback = best is not None
        if best is None or not (fallback or scopes.alive(best)):
            continue
        ev.words.append(f"{best.word}+{b.word}")
        if "state_cat" in b.entry.roles and best.entry.category not in source_categories:
            # "椽子都烤黑了": what the state looks like names the kind of hazard, unless the thing is
            # itself an energy source ("插座…烧黑了" is electric: the harm comes from the socket)
            ev.vote(b, 1.5)
        ev.paired_states.add(b.start)
        ev.positions.append(b.start)
        ev.score += 1.0
        factor = 1.0 if "near" in b.entry.roles else 2.0
        ev.paired[best.start] = max(ev.paired.get(best.start, 0.0), factor)
        ev.clauses.add(b.clause)
        ev.clauses.add(best.clause)


def _nearest_thing(text: str, state: Hit, things: Sequence[Hit], window: int) -> Hit | None:
    """Return the thing in the state's clause, within the window, that the state most likely describes."""
    is_near = "near" in state.entry.roles
    is_pile = "pile" in state.entry.roles
    best: Hit | None = None
    best_dist = 1e9
    for t in things:
        if t.clause != state.clause or state.start <= t.start < state.end:
            continue  # a thing inside the state's own words ("拿几根树枝搭着") is not what failed
        if t.start > 0 and text[t.start - 1] in AGENT_MARKS and t.start < state.start:
            continue  # "让三轮车碰歪了": the thing after 让/被 did it, it is not what is broken
        gap = state.start - t.start
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
    return best


def _thing_in_earlier_clause(state: Hit, things: Sequence[Hit], window: int) -> Hit | None:
    """A bad state may refer to a thing named in the previous clause ("墙上的电线，外皮都酥了"), even one
    mended before a contrast ("杆子换了新的 可…又开始往一边歪"); return the last such thing, if any."""
    for back in (1, 2):
        best: Hit | None = None
        for t in things:
            if t.clause == state.clause - back and 0 < state.start - t.start <= window * 2:
                best = t
        if best is not None:
            return best
    return None


def pair_loose_states(
    text: str,
    hits: Sequence[Hit],
    scopes: Scopes,
    tokenizer: jieba.Tokenizer,
    nouns: frozenset[str],
    noun_weight: float,
    window: int,
    ev: Evidence,
) -> None:
    """Pair a strong bad state with no lexicon thing with any concrete noun jieba tags before it
    ("砂浆…码砖 歪歪扭扭", "菜都馊了"); weaker than a lexicon pair, so it needs a second sign."""
    loose = [
        b for b in hits if "strong" in b.entry.roles and b.start not in ev.paired_states and scopes.alive(b)
    ]
    if not loose or not nouns:
        return
    toks = _tokens(text, tokenizer)
    for b in loose:
        noun = _noun_before(text, toks, b, hits, nouns, window)
        if noun is not None:
            ev.words.append(f"{noun}+{b.word}")
            ev.score += noun_weight
            if "state_cat" in b.entry.roles:
                ev.vote(b, 1.5)
            ev.positions.append(b.start)
            ev.clauses.add(b.clause)


def _tokens(text: str, tokenizer: jieba.Tokenizer) -> list[tuple[str, int]]:
    """Return jieba's tokens with their start offsets."""
    out: list[tuple[str, int]] = []
    pos = 0
    for tok in tokenizer.lcut(text, HMM=False):
        out.append((tok, pos))
        pos += len(tok)
    return out


def _noun_before(
    text: str,
    toks: list[tuple[str, int]],
    state: Hit,
    hits: Sequence[Hit],
    nouns: frozenset[str],
    window: int,
) -> str | None:
    """Return the nearest concrete noun before ``state`` in its clause (within the pair window), if any."""
    best: str | None = None
    for tok, start in toks:
        end = start + len(tok)
        if end > state.start:
            break
        if state.start - start > window or tok not in nouns:
            continue
        if any(ch in CLAUSE_SEP for ch in text[end : state.start]):
            continue
        # a noun that is also another keyword (a person word, a frame word) is not a thing
        if any(h.start <= start < h.end and not h.entry.roles & {"thing", "strong", "bad"} for h in hits):
            continue
        best = tok
    return best


def count_events(cands: Candidates, present: set[str], scopes: Scopes, ev: Evidence) -> None:
    """Count every live event (起火) and unsafe act (酒驾); an act needs something concrete next to it
    (a thing, a person, a place) to count fully."""
    for e in cands.events:
        if not scopes.alive(e):
            continue
        ev.words.append(e.word)
        ev.positions.append(e.start)
        if "event" in e.entry.roles:
            ev.score += 1.0
        else:
            concrete = any(t.start != e.start for t in cands.things) or bool(present & _PEOPLE_OR_PLACE)
            ev.score += 1.0 if concrete else 0.5
        ev.vote(e, 3.0 if "event" in e.entry.roles else 2.0)


def vote_things(cands: Candidates, scopes: Scopes, ev: Evidence) -> None:
    """Let things vote for their category: paired things by their pairing, other live things by whether
    their clause holds evidence."""
    for t in cands.things:
        if t.start in ev.paired:
            ev.vote(t, ev.paired[t.start])
        elif scopes.alive(t):
            ev.vote(t, 1.0 if t.clause in ev.clauses else 0.5)


def add_near_miss(text: str, near_miss: re.Pattern[str], scopes: Scopes, ev: Evidence) -> None:
    """A near miss ("差点砸着一个老婆婆", "差点跟面包车撞上") is evidence on its own, unless its scope is closed."""
    m = near_miss.search(text)
    if m and not scopes.closed_at(text, m.start()):
        ev.score += 1.0
        ev.words.append(m.group(0))
        ev.positions.append(m.start())


def boost_for_concern(
    hits: Sequence[Hit], present: set[str], crowd: bool, scopes: Scopes, boost: float, ev: Evidence
) -> None:
    """Concern and urgency ("怕", "万一", "谁管管", "人还在上面") strengthen evidence, never replace it."""
    if ev.score > 0 and (
        any("concern" in h.entry.roles and scopes.alive(h) for h in hits)
        or "people_strong" in present
        or crowd
    ):
        ev.score += boost
