"""Tests for handlers.arguments: numbers, money and dates are read strictly; free text stays as typed."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.arguments import Ids, ascii_chars, format_amount, parse_amount, parse_date, parse_ids


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("23", Ids((23,), "")),
        ("#12 已加固，谢谢！", Ids((12,), "已加固，谢谢！")),
        ("４，５ 都修好了", Ids((4, 5), "都修好了")),
        ("3、4、5", Ids((3, 4, 5), "")),
        ("12 5个人修好了", Ids((12,), "5个人修好了")),
        ("7 7 好了", Ids((7,), "好了")),
    ],
)
def test_clean_numbers_are_read_and_the_rest_kept_as_typed(args: str, expected: Ids) -> None:
    assert parse_ids(args) == expected


@pytest.mark.parametrize("args", ["1.5", "12号", "1234567890", "", "abc", "#"])
def test_anything_not_clearly_a_number_is_refused(args: str) -> None:
    assert parse_ids(args) is None


def test_a_single_number_leaves_the_others_in_the_text() -> None:
    assert parse_ids("4，5 都修好了", many=False) == Ids((4,), "5 都修好了")


@pytest.mark.parametrize(
    ("text", "fen"),
    [("5000", 500000), ("5,000元", 500000), ("¥5000.50", 500050), ("0.5万", 500000), ("１２００", 120000)],
)
def test_amounts_are_read_in_fen(text: str, fen: int) -> None:
    assert parse_amount(text) == fen


@pytest.mark.parametrize("text", ["很多", "1.234", "-5", "5千", ""])
def test_unclear_amounts_are_refused(text: str) -> None:
    assert parse_amount(text) is None


def test_amounts_are_shown_as_officials_write_them() -> None:
    assert (format_amount(500000), format_amount(1250050), format_amount(None)) == (
        "¥5,000",
        "¥12,500.50",
        "",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-20", date(2026, 12, 20)),
        ("2026年12月20日", date(2026, 12, 20)),
        ("12月20日", date(2026, 12, 20)),
        ("1-5", date(2027, 1, 5)),  # already past this year: next January
        ("2026-02-30", None),
        ("下个月", None),
    ],
)
def test_dates_in_the_ways_people_write_them(text: str, expected: date | None) -> None:
    assert parse_date(text, date(2026, 12, 3)) == expected


def test_full_width_characters_map_one_for_one() -> None:
    typed = "Ｔ４８２９１３ 好"
    assert ascii_chars(typed) == "T482913 好" and len(ascii_chars(typed)) == len(typed)
