"""Tests for bot.cli_eval: ``anquan eval`` scores the real classifier on small temporary corpora, per file and
in total, lists errors, counts errors per rule and scores the township's corrections in its database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

HAZARD = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
TIP = "后沟那个煤窑晚上偷偷开采，别说是我说的"
CHATTER = "明天几点开会"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean ANQUAN_* environment whose SQLite database lives in the test's folder; returns the folder."""
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _corpus(folder: Path) -> Path:
    return _jsonl(
        folder / "small.jsonl",
        [
            {
                "text": HAZARD,
                "chat": "group",
                "intent": "hazard",
                "category": "building",
                "location": "王家沟村",
            },
            {"text": TIP, "chat": "private", "intent": "tip", "category": "mining", "severity": "major"},
            {"text": CHATTER, "chat": "group", "intent": "chatter"},
            {"text": "收到", "intent": "hazard", "category": "other"},  # a wrong gold label: a certain miss
        ],
    )


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(main, ["eval", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _json_blocks(args: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in _run(["--json", *args]).splitlines()]


def test_eval_prints_the_metrics_of_one_corpus(env: Path) -> None:
    out = _run([str(_corpus(env))])
    assert "small.jsonl（4 条" in out
    assert any(line.split()[:3] == ["detect_precision", "1.0000", "2/2"] for line in out.splitlines())
    assert any(line.split()[:3] == ["detect_recall", "0.6667", "2/3"] for line in out.splitlines())
    assert "合计" not in out  # one corpus, no total


def test_eval_json_gives_one_line_per_file_and_a_total_including_tsv(env: Path) -> None:
    tsv = env / "chatter.tsv"
    tsv.write_text("text\n哈哈哈哈\n今天吃的面\n", encoding="utf-8")
    first, second, total = _json_blocks([str(_corpus(env)), str(tsv)])
    assert first["n"] == 4 and first["detect_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert first["reach"] == pytest.approx(2 / 3, abs=1e-4) and first["major_reach"] == 1.0
    assert second["n"] == 2 and second["false_positive_rate"] == 0.0 and second["detect_recall"] is None
    assert total["corpus"] == "合计" and total["n"] == 6 and total["false_positive_rate"] == 0.0


def test_show_errors_lists_the_wrong_lines_with_gold_and_got(env: Path) -> None:
    out = _run(["--show-errors", "5", str(_corpus(env))])
    assert "漏报：收到" in out and "标准 hazard/other/- → 结果 chatter/-/-" in out
    assert HAZARD not in out  # a right verdict is not listed
    (block,) = _json_blocks(["--show-errors", "5", str(_corpus(env))])
    assert block["errors"] == [
        {
            "text": "收到",
            "error": "miss",
            "gold": {"intent": "hazard", "category": "other", "severity": None},
            "got": {"intent": "chatter", "category": None, "severity": None, "review": False},
        }
    ]


def test_by_rule_counts_the_lines_each_rule_fired_on_and_its_errors(env: Path) -> None:
    corpus = _jsonl(
        env / "rules.jsonl",
        [
            {"text": HAZARD, "intent": "hazard", "category": "building"},
            # the same kind of line labelled chatter: the building rule now fired on one false positive
            {"text": "李家沟村那孔老窑洞裂了好宽的缝", "intent": "chatter"},
            {"text": CHATTER, "intent": "chatter"},
        ],
    )
    (block,) = _json_blocks(["--by-rule", str(corpus)])
    rules = {r["rule"]: r for r in block["by_rule"]}
    assert rules["things.building"]["fired"] == 2
    assert rules["things.building"]["false_positives"] == 1 and rules["things.building"]["errors"] == 1
    assert block["by_rule"][0]["errors"] >= block["by_rule"][-1]["errors"]
    text = _run(["--by-rule", str(corpus)])
    row = next(line for line in text.splitlines() if line.strip().startswith("things.building"))
    assert row.split()[1:] == ["2", "1", "1", "0", "0", "0"]
    assert "例：李家沟村那孔老窑洞裂了好宽的缝" in text


def test_eval_scores_the_corrections_in_the_configured_database(env: Path) -> None:
    from bot.cli_common import load_settings, open_db
    from storage import corrections

    db = open_db(load_settings())
    with db.sessions.begin() as session:
        corrections.add_correction(
            session, text=HAZARD, chat="group", intent="hazard", category="building", source="review_file"
        )
        corrections.add_correction(
            session, text="热炸了", chat="group", intent="chatter", source="false_alarm"
        )
        corrections.add_correction(
            session,
            text=TIP,
            chat="private",
            intent="tip",
            category="mining",
            severity="major",
            source="private_confirm",
        )
    db.engine.dispose()
    corpus = _jsonl(env / "one.jsonl", [{"text": CHATTER}])
    first, block, total = _json_blocks([str(corpus), "--corrections"])
    assert first["n"] == 1 and first["false_positive_rate"] == 0.0
    assert block["corpus"] == "纠正记录" and block["n"] == 3
    assert block["detect_recall"] == 1.0 and block["false_positive_rate"] == 0.0
    assert block["category_accuracy"] == 1.0
    assert total["n"] == 4


def test_eval_needs_a_corpus_and_names_a_bad_line(env: Path) -> None:
    result = CliRunner().invoke(main, ["eval"])
    assert result.exit_code == 2 and "--corrections" in result.output
    bad = env / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"text": "b", "intent": "danger"}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(bad)])
    assert result.exit_code == 1 and "bad.jsonl" in result.output and "第 2 行" in result.output
