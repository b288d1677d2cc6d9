"""Reading command arguments strictly: report numbers, amounts of money and dates as officials type them.

Only the numbers are normalised (full-width digits, ``#``); the free text after them keeps its punctuation.
Anything that is not clearly a number is refused rather than guessed: ``/整改完成 1.5`` closes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

MAX_ID_DIGITS = 9
# Separators between several numbers: 、 , ， and spaces (full-width too).
_SEPARATORS = "、,，; ；\u3000\t"
_ID_TOKEN = re.compile(r"#?\s*(\d+)")


@dataclass(frozen=True)
class Ids:
    """The report numbers at the start of the arguments, and the free text after them."""

    ids: tuple[int, ...]
    rest: str


_FULL_WIDTH_ASCII = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}


def ascii_chars(text: str) -> str:
    """Full-width letters, digits and signs (``Ｔ１２``, ``＃``) as ASCII, character for character.

    Positions stay the same, so whatever follows a number can be cut from the text exactly as it was typed.
    """
    return "".join(_FULL_WIDTH_ASCII.get(ch, ch) for ch in text)


def parse_ids(args: str, *, many: bool = True) -> Ids | None:
    """Report numbers at the start of ``args`` (several if ``many``), then the rest; None if the first isn't clean.

    A number is clean when it has at most nine digits and is followed by a separator or the end: ``1.5``,
    ``12abc`` and ten digits are not numbers. With ``many``, further clean numbers separated by 、 , ， or spaces
    are taken too (``4，5 都修好了`` → 4 and 5, "都修好了").
    """
    text = ascii_chars(args).strip()
    ids: list[int] = []
    pos = 0
    while True:
        match = _ID_TOKEN.match(text, pos)
        if match is None:
            break
        end = match.end()
        if end < len(text) and text[end] not in _SEPARATORS:
            break  # "1.5", "12号" …: not a clean number
        if len(match.group(1)) > MAX_ID_DIGITS:
            return None
        ids.append(int(match.group(1)))
        pos = end
        while pos < len(text) and text[pos] in _SEPARATORS:
            pos += 1
        if not many:
            break
    if not ids:
        return None
    # ``ascii_chars`` maps character for character, so the free text is cut from the original as typed.
    return Ids(tuple(dict.fromkeys(ids)), args.strip()[pos:].strip())


_AMOUNT = re.compile(r"^[¥￥]?\s*(\d[\d,]*(?:\.\d{1,2})?)\s*(万元|万|元)?$")


def parse_amount(text: str) -> int | None:
    """An amount of money in fen from ``5000``, ``5,000元``, ``¥5000.50``, ``0.5万``; None if it isn't one."""
    match = _AMOUNT.match(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    try:
        value = Decimal(match.group(1).replace(",", ""))
    except InvalidOperation:
        return None
    if match.group(2) in ("万", "万元"):
        value *= 10000
    fen = value * 100
    if fen != fen.to_integral_value() or fen > 10**14:
        return None
    return int(fen)


def format_amount(fen: int | None) -> str:
    """An amount in fen as officials write it: ¥12,500 or ¥12,500.50."""
    if fen is None:
        return ""
    yuan, cents = divmod(fen, 100)
    return f"¥{yuan:,}" + (f".{cents:02d}" if cents else "")


_FULL_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})日?$")


def parse_date(text: str, today: date) -> date | None:
    """A date from ``2026-12-20``, ``2026年12月20日``, ``12月20日``, ``12-20`` (the next such day); None if not."""
    value = unicodedata.normalize("NFKC", text).strip()
    try:
        full = _FULL_DATE.match(value)
        if full:
            return date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
        short = _MONTH_DAY.match(value)
        if short:
            month, day = int(short.group(1)), int(short.group(2))
            candidate = date(today.year, month, day)
            return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None
    return None
