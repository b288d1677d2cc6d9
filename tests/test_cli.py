"""Tests for bot.cli: the contracts outside tools rely on (parse, reports, officials, groups, run)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

ANQUAN = str(Path(sys.executable).with_name("anquan"))
HAZARD = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean ANQUAN_* environment with its own data folder and SQLite file."""
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    values = {"ANQUAN_DATA_DIR": str(tmp_path / "data")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _run(args: list[str], stdin: str = "") -> str:
    result = CliRunner().invoke(main, args, input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_parse_prints_one_json_object_per_line_in_order(env: dict[str, str]) -> None:
    out = _run(["parse"], f"{HAZARD}\n收到\n\n/整改完成 3\n").splitlines()
    rows = [json.loads(line) for line in out]
    assert [r["intent"] for r in rows] == ["hazard", "chatter", "chatter", "command"]
    assert rows[0]["category"] == "building" and rows[0]["location"] == "王家沟村"
    for row in rows:
        assert {"intent", "category", "severity", "location", "confidence"} <= row.keys()


def test_parse_jsonl_uses_the_chat_kind(env: dict[str, str]) -> None:
    lines = [
        {"text": "后沟那个煤窑晚上偷偷开采，别说是我说的", "chat": "private"},
        {"text": "明天几点开会", "chat": "group"},
    ]
    out = _run(["parse", "--jsonl"], "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    assert [json.loads(line)["intent"] for line in out.splitlines()] == ["tip", "chatter"]


def _parse_jsonl(stdin: str) -> tuple[list[dict[str, object]], str]:
    result = CliRunner().invoke(main, ["parse", "--jsonl"], input=stdin)
    # malformed lines are reported in place; the run itself succeeds while the stream is readable
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not json", "第 2 行：不是合法的 JSON 对象"),
        ('["a list"]', "第 2 行：不是 JSON 对象"),
        ('{"chat": "group"}', "第 2 行：缺少 text 字段"),
        ('{"text": 12}', "第 2 行：text 应是字符串"),
        ('{"text": "收到", "chat": "channel"}', "第 2 行：chat 只能是 group 或 private"),
    ],
)
def test_parse_jsonl_reports_a_malformed_line_in_its_place_and_goes_on(
    env: dict[str, str], bad: str, message: str
) -> None:
    good = json.dumps({"text": HAZARD}, ensure_ascii=False)
    rows, stderr = _parse_jsonl(f"{good}\n{bad}\n{good}\n")
    assert len(rows) == 3 and list(rows[1]) == ["error"] and rows[1]["error"].startswith(message)
    assert rows[0]["intent"] == rows[2]["intent"] == "hazard"
    assert message in stderr


def test_parse_jsonl_skips_blank_lines_and_adds_review_and_reason(env: dict[str, str]) -> None:
    good = json.dumps({"text": "明天几点开会", "chat": "private"}, ensure_ascii=False)
    rows, stderr = _parse_jsonl(f"{good}\n\n   \n{good}\n")
    assert len(rows) == 2 and stderr == ""
    for row in rows:
        assert row["intent"] == "chatter" and row["review"] is False and isinstance(row["reason"], str)


def test_parse_jsonl_reports_a_line_that_is_not_utf8(env: dict[str, str]) -> None:
    good = json.dumps({"text": HAZARD}, ensure_ascii=False).encode()
    result = CliRunner().invoke(main, ["parse", "--jsonl"], input=good + b"\n\xff\xfe{}\n" + good + b"\n")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("intent") for r in rows] == ["hazard", None, "hazard"] and "第 2 行" in rows[1]["error"]


def test_run_with_piped_input_answers_hazards_only_and_keeps_the_ledger(env: dict[str, str]) -> None:
    """The README's first example: a hazard gets its number, chatter gets nothing, the ledger has it."""
    proc = subprocess.run(
        [ANQUAN, "run"],
        input=f"{HAZARD}\n收到\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("已登记隐患 #1")
    assert proc.stdout.count("#") == proc.stdout.count("#1")  # nothing answered to 收到
    rows = [json.loads(line) for line in _run(["reports", "--json"]).splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["kind"], row["status"], row["village"]) == (1, "hazard", "reported", "王家沟村")
    for key in ("category", "severity", "location", "text", "created_at", "rectified_at"):
        assert key in row
    assert "reporter_id" not in row


def test_run_console_plays_villager_whistleblower_and_official(env: dict[str, str]) -> None:
    script = "\n".join(
        [
            HAZARD,
            ":私聊",
            "举报 后沟那个煤窑晚上偷偷开采，别说是我说的",
            ":群",
            "/整改完成 1 已加固",
            ":干部",
            "/整改完成 1 已加固",
            "/帮助",
        ]
    )
    proc = subprocess.run(
        [ANQUAN, "run"],
        input=script + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "回执码：" in out
    assert "只有登记过的镇村干部" in out
    assert "隐患 #1 已标记为已整改" in out
    assert ":私聊" in out  # /帮助 documents the console switches
    statuses = {
        json.loads(line)["id"]: json.loads(line)["status"]
        for line in _run(["reports", "--status", "all", "--json"]).splitlines()
    }
    assert statuses == {1: "rectified"}  # the tip is not a group report and takes no group number
    (tip,) = [json.loads(line) for line in _run(["reports", "--tips", "--json"]).splitlines()]
    assert re.fullmatch(r"T\d{6}", tip["id"]) and tip["status"] == "reported" and tip["anonymous"] is True
    assert tip["created_at"].endswith(":00:00+00:00")  # the hour only


def test_reports_open_hides_rectified(env: dict[str, str]) -> None:
    subprocess.run(
        [ANQUAN, "run"],
        input=f"{HAZARD}\n:干部\n/整改完成 1\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=True,
    )
    assert _run(["reports", "--json"]).strip() == ""
    assert "已整改" in _run(["reports", "--status", "all"])


def test_db_upgrade_reports_the_database(env: dict[str, str]) -> None:
    assert "最新结构" in _run(["db", "upgrade"])


def test_broadcast_from_the_command_line_queues_rows_the_bot_will_deliver(env: dict[str, str]) -> None:
    _run(
        [
            "groups",
            "add",
            "--platform",
            "telegram",
            "--chat-id",
            "-1",
            "--kind",
            "village",
            "--unit",
            "王家沟村",
        ]
    )
    _run(
        [
            "groups",
            "add",
            "--platform",
            "telegram",
            "--chat-id",
            "-2",
            "--kind",
            "station",
            "--unit",
            "派出所",
        ]
    )
    out = _run(["broadcast", "--target", "villages", "@防溺水"])
    assert "共 1 个群" in out
    rows = [json.loads(line) for line in _run(["outbox", "--json"]).splitlines()]
    assert [(r["chat_id"], r["status"], r["event"]) for r in rows] == [("-1", "queued", "broadcast")]
    assert "queued" in _run(["outbox", "--status", "queued"])
    result = CliRunner().invoke(main, ["broadcast", "--target", "火星村", "你好"])
    assert result.exit_code != 0 and "火星村" in result.output


def test_a_data_file_option_wins_over_the_setting_and_a_missing_one_is_named(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = tmp_path / "texts.toml"
    texts.write_text('[replies]\nprivate_guide = "请写清楚"\n', encoding="utf-8")
    monkeypatch.setenv("ANQUAN_TEXTS", str(tmp_path / "nowhere.toml"))
    assert _run(["--texts", str(texts), "reports"]) == "（没有记录）\n"
    monkeypatch.delenv("ANQUAN_TEXTS")
    missing = tmp_path / "draft_calendar.toml"
    for args in (["--calendar", str(missing), "schedule"], ["--texts", str(missing), "reports"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and result.stdout == ""
        option, what = args[0], "日程表文件" if args[0] == "--calendar" else "用语文件"
        assert result.stderr == f"错误：找不到{what}：{missing}（命令行选项 {option}）\n"


def test_broadcast_uses_the_townships_publicity_library(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(
        [
            "groups",
            "add",
            "--platform",
            "telegram",
            "--chat-id",
            "-1",
            "--kind",
            "village",
            "--unit",
            "王家沟村",
        ]
    )
    refused = CliRunner().invoke(main, ["broadcast", "--target", "villages", "@秋收防火"])
    assert refused.exit_code != 0 and "秋收防火" in refused.output
    library = tmp_path / "publicity.toml"
    library.write_text('["秋收防火"]\ntext = "秋收时节，秸秆不要堆在灶台边。"\n', encoding="utf-8")
    monkeypatch.setenv("ANQUAN_PUBLICITY", str(library))
    assert "共 1 个群" in _run(["broadcast", "--target", "villages", "@秋收防火"])
