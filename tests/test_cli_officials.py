"""Tests for bot.cli_officials: officials with roles, binding codes, groups and the audit trail from the command line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean ANQUAN_* environment with its own data folder and SQLite file."""
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _run(args: list[str]) -> str:
    result = _invoke(args)
    assert result.exit_code == 0, result.output
    return result.output


def _lines(args: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in _run(args).splitlines()]


ADD = ["officials", "add", "--platform", "telegram", "--user-id", "1001"]


def test_a_new_official_needs_a_name_and_the_old_role_forms_still_work() -> None:
    result = _invoke(ADD)
    assert result.exit_code != 0 and "--name" in result.output
    assert _lines(["officials", "list", "--json"]) == []
    # The contract's older shapes: no --role, or --role official, give a station official (no tips).
    _run([*ADD, "--name", "张站长"])
    _run(
        [
            "officials",
            "add",
            "--platform",
            "telegram",
            "--user-id",
            "1002",
            "--name",
            "李",
            "--role",
            "official",
        ]
    )
    assert [(r["role"], r["tips"]) for r in _lines(["officials", "list", "--json"])] == [
        ("station", False),
        ("station", False),
    ]
    assert "绑定码：" in _run(["officials", "invite", "--name", "王"])


def test_officials_list_json_gives_role_unit_and_tip_permission() -> None:
    _run([*ADD, "--name", "张站长", "--role", "admin", "--unit", "应急站"])
    _run(
        [
            "officials",
            "add",
            "--platform",
            "wechaty",
            "--user-id",
            "wx_li",
            "--name",
            "李主任",
            "--role",
            "village",
            "--unit",
            "王家沟",
        ]
    )
    rows = _lines(["officials", "list", "--json"])
    assert [(r["user_id"], r["role"], r["unit"], r["tips"], r["active"]) for r in rows] == [
        ("1001", "admin", "应急管理站", True, True),
        ("wx_li", "village", "王家沟村", False, True),
    ]


def test_a_village_official_needs_a_village_of_this_town() -> None:
    result = _invoke([*ADD, "--name", "王", "--role", "village", "--unit", "火星村"])
    assert result.exit_code != 0 and "王家沟村" in result.output
    result = _invoke([*ADD, "--name", "王", "--role", "village"])
    assert result.exit_code != 0 and "--unit" in result.output


def test_adding_an_existing_official_warns_and_keeps_what_was_not_given() -> None:
    _run([*ADD, "--name", "张站长", "--role", "station", "--unit", "应急站", "--tips"])
    result = _invoke([*ADD, "--role", "admin"])
    assert result.exit_code == 0
    assert "已经是干部" in result.stderr and "station→admin" in result.stderr
    (row,) = _lines(["officials", "list", "--json"])
    assert (row["name"], row["role"], row["unit"]) == ("张站长", "admin", "应急管理站")


def test_invite_prints_a_code_that_can_be_listed_and_revoked_but_never_shown_again() -> None:
    out = _run(["officials", "invite", "--name", "李主任", "--role", "village", "--unit", "王家沟村"])
    code = re.search(r"绑定码：(\S+)", out)
    assert code is not None and re.fullmatch(r"[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){2}", code.group(1))
    (pending,) = _lines(["officials", "codes", "--json"])
    assert (pending["name"], pending["role"], pending["unit"]) == ("李主任", "village", "王家沟村")
    assert code.group(1) not in _run(["officials", "codes"])
    assert "已作废" in _run(["officials", "revoke", str(pending["id"])])
    assert _lines(["officials", "codes", "--json"]) == []
    again = _invoke(["officials", "revoke", str(pending["id"])])
    assert again.exit_code != 0 and "没有可作废" in again.output


def test_codes_are_valid_at_most_seven_days() -> None:
    result = _invoke(["officials", "invite", "--name", "李", "--role", "station", "--days", "8"])
    assert result.exit_code != 0
    assert _lines(["officials", "codes", "--json"]) == []


def test_disable_enable_and_remove_are_audited() -> None:
    _run([*ADD, "--name", "张站长", "--role", "station"])
    key = ["--platform", "telegram", "--user-id", "1001"]
    assert "已停用" in _run(["officials", "disable", *key])
    assert _lines(["officials", "list", "--json"])[0]["active"] is False
    _run(["officials", "enable", *key])
    assert _lines(["officials", "list", "--json"])[0]["active"] is True
    _run(["officials", "remove", *key])
    assert _lines(["officials", "list", "--json"]) == []
    missing = _invoke(["officials", "remove", *key])
    assert missing.exit_code != 0 and "没有这名干部" in missing.output
    actions = [e["action"] for e in _lines(["audit", "--json"])]
    assert actions == ["official.removed", "official.enabled", "official.disabled", "official.added"]


def test_groups_list_json_has_kind_unit_chat_id_and_platform() -> None:
    _run(
        [
            "groups",
            "add",
            "--platform",
            "telegram",
            "--chat-id",
            "-100",
            "--kind",
            "leadership",
            "--unit",
            "镇领导",
        ]
    )
    _run(
        [
            "groups",
            "add",
            "--platform",
            "wechaty",
            "--chat-id",
            "room1@chatroom",
            "--kind",
            "village",
            "--unit",
            "庙坪",
        ]
    )
    rows = _lines(["groups", "list", "--json"])
    assert [(r["platform"], r["chat_id"], r["kind"], r["unit"]) for r in rows] == [
        ("telegram", "-100", "leadership", "镇安委会"),
        ("wechaty", "room1@chatroom", "village", "庙坪村"),
    ]
    assert [e["action"] for e in _lines(["audit", "--json"])] == ["group.tagged", "group.tagged"]


def test_a_wecom_robot_key_needs_a_unit_and_is_never_printed() -> None:
    result = _invoke(["groups", "add", "--platform", "wecom", "--chat-id", WECOM_KEY, "--kind", "village"])
    assert result.exit_code != 0 and "--unit" in result.output
    added = _run(
        [
            "groups",
            "add",
            "--platform",
            "wecom",
            "--chat-id",
            WECOM_KEY,
            "--kind",
            "village",
            "--unit",
            "王家沟村",
        ]
    )
    _run(["broadcast", "--target", "王家沟村", "@防溺水"])
    shown = added + _run(["groups", "list"]) + _run(["groups", "list", "--json"])
    shown += _run(["outbox"]) + _run(["outbox", "--json"]) + _run(["audit"])
    assert WECOM_KEY not in shown and WECOM_KEY[:12] not in shown
    (row,) = _lines(["groups", "list", "--json"])
    assert str(row["chat_id"]).startswith("key#")
