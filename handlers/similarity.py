"""Cheap text similarity for spotting the same hazard reported twice (character bigrams, Jaccard)."""

from __future__ import annotations

import re

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


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
