"""One way to cut a long text into pieces a platform accepts, measured the way that platform counts.

Telegram counts UTF-16 code units (an emoji outside the BMP is two), WeCom counts UTF-8 bytes (an emoji is
four, a CJK character three); counting code points or assuming three bytes a character sends pieces that are
too long. Python strings hold whole code points, so a cut never falls inside a 4-byte character.
"""

from __future__ import annotations

from collections.abc import Callable

Measure = Callable[[str], int]


def utf16_units(text: str) -> int:
    """How many UTF-16 code units ``text`` has (what Telegram's 4096 limit counts)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf8_bytes(text: str) -> int:
    """How many UTF-8 bytes ``text`` has (what WeCom's 2048 limit counts)."""
    return len(text.encode("utf-8", "surrogatepass"))


def _fitting_prefix(text: str, limit: int, measure: Measure) -> int:
    """The longest prefix length (in code points, at least 1) whose measure is within ``limit``."""
    low, high = 1, len(text)  # a single character over the limit still goes alone, so the split ends
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def split_text(text: str, limit: int, *, measure: Measure = len) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` (as ``measure`` counts), preferring line breaks, then spaces.

    The line break (or space) a cut is made at is dropped; a piece without a break in its second half is cut
    hard at the limit. Pieces that would hold only whitespace are left out, so an empty text gives no piece.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text
    while rest:
        if measure(rest) <= limit:
            piece, rest = rest, ""
        else:
            end = _fitting_prefix(rest, limit, measure)
            # A separator right at ``end`` still counts: the piece before it fits exactly.
            cut = rest.rfind("\n", 0, end + 1)
            if cut <= end // 2:
                cut = rest.rfind(" ", 0, end + 1)
            if cut <= end // 2:
                piece, rest = rest[:end], rest[end:]
            else:
                piece, rest = rest[:cut], rest[cut + 1 :]
        if piece.strip():
            pieces.append(piece)
    return pieces
