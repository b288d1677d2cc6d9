"""Tests for handlers.similarity: two wordings of one hazard are close, different hazards are not."""

from __future__ import annotations

from handlers.similarity import similarity


def test_rewordings_of_one_hazard_are_similar() -> None:
    assert similarity("村东头老窑洞裂了好宽的缝", "村东头那个老窑洞裂缝了") > 0.3


def test_different_hazards_are_not_similar() -> None:
    assert similarity("村东头老窑洞裂了好宽的缝", "小学门口电线断了") < 0.1


def test_empty_text_is_never_similar() -> None:
    assert similarity("", "窑洞") == 0.0
    assert similarity("！！", "窑洞") == 0.0
