"""The one text splitter the adapters share: limits as each platform counts them, emoji never cut in half."""

from __future__ import annotations

import pytest

from bot.adapters.text_split import split_text, utf8_bytes, utf16_units


def test_measures_count_like_the_platforms() -> None:
    assert utf16_units("隐患") == 2
    assert utf16_units("😀🔥") == 4  # outside the BMP: a surrogate pair each
    assert utf8_bytes("隐患") == 6
    assert utf8_bytes("😀🔥") == 8
    assert utf8_bytes("a") == utf16_units("a") == 1


def test_short_text_is_one_piece_and_empty_text_none() -> None:
    assert split_text("注意防火", 10) == ["注意防火"]
    assert split_text("", 10) == []
    assert split_text("\n \n", 10) == []


def test_exactly_at_the_limit_is_not_split() -> None:
    assert split_text("隐" * 4096, 4096, measure=utf16_units) == ["隐" * 4096]
    assert split_text("隐" * 4097, 4096, measure=utf16_units) == ["隐" * 4096, "隐"]
    assert split_text("😀" * 512, 2048, measure=utf8_bytes) == ["😀" * 512]


def test_cuts_at_a_line_break_and_drops_it() -> None:
    text = "\n".join(f"第{i}行：" + "隐" * 90 for i in range(200))
    pieces = split_text(text, 4096, measure=utf16_units)
    assert len(pieces) > 1
    assert all(0 < utf16_units(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text
    assert all(not p.startswith("\n") and not p.endswith("\n") for p in pieces[:-1])


def test_a_break_exactly_at_the_limit_is_used() -> None:
    assert split_text("ab\ncd", 2) == ["ab", "cd"]


def test_long_line_without_breaks_is_cut_hard() -> None:
    assert split_text("隐" * 9000, 4096, measure=utf16_units) == ["隐" * 4096, "隐" * 4096, "隐" * 808]


def test_falls_back_to_a_space_in_the_second_half() -> None:
    assert split_text("hello world again", 12) == ["hello world", "again"]


def test_emoji_count_double_for_telegram_and_are_never_halved() -> None:
    text = "😀" * 3000  # 6000 UTF-16 units: one piece by code points, two by Telegram's count
    pieces = split_text(text, 4096, measure=utf16_units)
    assert [len(p) for p in pieces] == [2048, 952]
    assert "".join(pieces) == text
    odd = "a" + "🔥" * 10  # the limit falls in the middle of a pair: the emoji moves whole to the next piece
    pieces = split_text(odd, 4, measure=utf16_units)
    assert pieces == ["a🔥", "🔥🔥", "🔥🔥", "🔥🔥", "🔥🔥", "🔥"]
    assert all(p.encode("utf-16-le").decode("utf-16-le") == p for p in pieces)


@pytest.mark.parametrize("filler", ["😀", "🔥", "注", "a", "注😀a"])
def test_wecom_pieces_fit_in_bytes_whatever_the_characters(filler: str) -> None:
    text = filler * 1500
    pieces = split_text(text, 2000, measure=utf8_bytes)
    assert all(0 < utf8_bytes(p) <= 2000 for p in pieces)
    assert "".join(pieces) == text
    assert all(p.encode().decode() == p for p in pieces)  # each piece is valid UTF-8 on its own


def test_a_character_wider_than_the_limit_still_goes_alone() -> None:
    assert split_text("😀😀", 3, measure=utf8_bytes) == ["😀", "😀"]


def test_whitespace_only_pieces_are_left_out() -> None:
    text = "第一段" + "\n" * 6 + "第二段"
    pieces = split_text(text, 4)
    assert pieces and all(p.strip() for p in pieces)
    assert "".join(pieces).replace("\n", "") == "第一段第二段"


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_text("x", 0)
