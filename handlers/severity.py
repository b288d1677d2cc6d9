"""The severity rule set: whether a hazard or tip is "major" or "general" (see ``[severity]`` in rules.toml)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from handlers.hits import Hit
from handlers.rules import SeverityRules

__all__ = ["assess_severity", "grade", "major_thing_failing"]

_PEOPLE_ROLES = frozenset({"people_weak", "people_strong"})


def assess_severity(
    rules: SeverityRules,
    hits: Sequence[Hit],
    alive: Callable[[Hit], bool],
    present: set[str],
    crowd: bool,
    intrinsic: bool,
    category: str,
) -> str:
    """Grade a message: find whether people (not just a venue word) and a live venue are named, then
    apply :func:`grade`. ``intrinsic`` is formal criteria text or an always-major thing failing."""
    people_now = any(h.entry.roles & _PEOPLE_ROLES and h.word not in rules.venues for h in hits)
    venue_now = any(h.word in rules.venues and alive(h) for h in hits)
    return grade(rules, present, crowd, intrinsic, category, people_now, venue_now)


def grade(
    rules: SeverityRules,
    present: set[str],
    crowd: bool,
    intrinsic: bool,
    category: str,
    people_now: bool,
    venue_now: bool = False,
) -> str:
    """Return "major" or "general" by the severity rule set.

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
    if intrinsic or "major" in present or (category in rules.leak_categories and "leak" in present):
        return "major"  # A (a gas or chemical hazard that smells, hisses or fumes is a leak)
    danger = category in rules.danger_categories
    many = "people_strong" in present or crowd
    if many and danger:
        return "major"  # B
    people = bool(present & _PEOPLE_ROLES) or crowd
    if people and "exposure" in present and category in rules.exposed_categories:
        return "major"  # C
    if "imminent" in present and (people_now or crowd):
        return "major"  # D: people named as people, and it is about to happen
    if "critical" in present and people and danger:
        return "major"  # D: a critical item (fire exit, boiler, pit) where vulnerable people are or gather
    if "ignition" in present and ("imminent" in present or category == "chemical"):
        return "major"  # E
    if venue_now and "imminent" in present and category in rules.venue_categories:
        return "major"  # F
    return "general"


def major_thing_failing(
    hits: Sequence[Hit], alive: Callable[[Hit], bool], evidence_clauses: set[int]
) -> bool:
    """True if an always-major thing (淤地坝, 支护) is named live in a clause holding evidence
    ("支护的木头都腐了")."""
    return any("major_thing" in h.entry.roles and h.clause in evidence_clauses and alive(h) for h in hits)
