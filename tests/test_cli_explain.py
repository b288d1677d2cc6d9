"""Tests for bot.cli_explain: ``anquan explain`` shows how the real classifier decides a message."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.cli_explain import render

HAZARD = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
TIP = "后沟那个煤窑晚上偷偷开采，别说是我说的"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean ANQUAN_* environment with its own data folder."""
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _line(out: str, label: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(label))


def test_explain_shows_tokens_hits_with_rules_and_the_decision(env: None) -> None:
    out = _run(["explain", HAZARD])
    assert "窑洞" in _line(out, "分词：").split(" / ")
    hit = next(line for line in out.splitlines() if line.startswith("  · 窑洞"))
    assert "thing" in hit and "规则 things.building" in hit and "房屋建筑" in hit
    assert "profile.places" in out  # the village name comes from the town profile
    decision = _line(out, "结论：")
    assert "隐患（hazard）" in decision and "building" in decision and "地点 王家沟村" in decision
    assert "窑洞" in _line(out, "理由：")


def test_explain_json_follows_the_contract_and_agrees_with_parse(env: None) -> None:
    data = json.loads(_run(["explain", "--json", HAZARD]))
    assert {"text", "normalized", "tokens", "hits", "frames", "model_score", "classification"} <= data.keys()
    assert data["text"] == HAZARD and isinstance(data["tokens"], list)
    assert all({"word", "roles", "category", "rule"} <= h.keys() for h in data["hits"])
    parsed = json.loads(CliRunner().invoke(main, ["parse"], input=HAZARD + "\n").output)
    assert data["classification"] == parsed


def test_explain_uses_the_chat_kind(env: None) -> None:
    assert "举报（tip）" in _line(_run(["explain", "--chat", "private", TIP]), "结论：")


def test_explain_of_chatter_says_it_is_not_filed(env: None) -> None:
    out = _run(["explain", "哈哈哈哈"])
    assert _line(out, "命中：") == "命中：（无）"
    assert "不登记（chatter）" in _line(out, "结论：")


def test_render_marks_a_review_and_shows_the_model_score() -> None:
    lines = render(
        {
            "text": "x",
            "normalized": "x",
            "tokens": ["x"],
            "hits": [],
            "frames": ["question"],
            "model_score": 0.4567,
            "classification": {"intent": "chatter", "category": "fire", "review": True, "reason": "拿不准"},
        },
        {"fire": "火灾"},
    )
    assert "框架：question" in lines and "模型分：0.457" in lines and "理由：拿不准" in lines
    assert any(line.startswith("结论：不登记（chatter），送干部复核，类别 火灾") for line in lines)
