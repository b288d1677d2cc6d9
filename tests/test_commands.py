"""Tests for handlers.commands: commands are recognised however people type them; /清单 stays cheap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event

from handlers.commands import CommandRegistry, ParsedCommand, parse_command
from handlers.context import Core
from handlers.router import Router
from tests.helpers import file_report, group_msg


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


# ---------------------------------------------------------------------------------------------------------------
# /清单 counts and pages in SQL: a village with 1,000 open hazards costs what one with 10 does.


class _Queries:
    """Counts the statements sent to the database while active."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _seen(self, *_args: object) -> None:
        self.count += 1

    def __enter__(self) -> _Queries:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def test_list_sends_the_same_statements_for_10_and_1000_open_hazards(router: Router, core: Core) -> None:
    engine = core.sessions.kw["bind"]
    counts, replies = [], []
    major = None
    for size in (10, 990):
        with core.sessions.begin() as s:
            for i in range(size):
                r = file_report(s, village="王家沟村", created_at=core.clock() - timedelta(days=3))
                if size == 990 and i == 500:
                    r.severity = "major"
                    major = r.id
        router.dispatch(group_msg("/清单 王家沟村"))  # warm: the group is registered on its first message
        with _Queries(engine) as queries:
            (reply,) = router.dispatch(group_msg("/清单 王家沟村")).replies
        counts.append(queries.count)
        replies.append(reply.text)
    assert counts[0] == counts[1]
    assert replies[0].startswith("王家沟村未销号隐患 10 条") and "……另有" not in replies[0]
    lines = replies[1].splitlines()
    assert lines[0] == "王家沟村未销号隐患 1000 条："
    assert lines[1].startswith(f"#{major} 【重大】") and len(lines) == 22
    assert lines[-1].startswith("……另有 980 条")
