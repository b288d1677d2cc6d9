"""Tests for handlers.commands: commands are recognised however people type them."""

from __future__ import annotations

import pytest

from handlers.commands import CommandRegistry, ParsedCommand, parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/整改完成 23 已加固", ParsedCommand("整改完成", "23 已加固")),
        ("/整改完成23", ParsedCommand("整改完成", "23")),
        ("／整改完成　２３", ParsedCommand("整改完成", "２３")),
        # Free text keeps its Chinese punctuation; only numbers are read (by handlers.arguments).
        ("/整改完成 23，护栏已装好！（老王）", ParsedCommand("整改完成", "23，护栏已装好！（老王）")),
        ("  /清单", ParsedCommand("清单", "")),
        ("/done@anquan_bot 5", ParsedCommand("done", "5")),
        ("/DONE 5", ParsedCommand("done", "5")),
        ("/进度 abcd-efgh", ParsedCommand("进度", "abcd-efgh")),
    ],
)
def test_parse_command_accepts_every_way_of_typing(text: str, expected: ParsedCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["整改完成 23", "收到", "", "/", "/ 23", "//", "http://example.com"])
def test_non_commands_are_not_parsed(text: str) -> None:
    assert parse_command(text) is None


def test_registry_finds_names_and_aliases_and_refuses_duplicates() -> None:
    reg = CommandRegistry()
    cmd = reg.add("整改完成", lambda ctx: "ok", aliases=("done",), official_only=True)
    assert reg.find("整改完成") is cmd and reg.find("done") is cmd and reg.find("x") is None
    with pytest.raises(ValueError, match="twice"):
        reg.add("完成", lambda ctx: "", aliases=("done",))
    assert list(reg) == [cmd]
