"""Training the statistical model through ``anquan model train`` on a tiny generated corpus."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from handlers.model import load_model
from handlers.model_training import auto_threshold, quantile_threshold, read_corpus, read_lccc

pytest.importorskip("sklearn")

THINGS = ["电线", "窑洞", "液化气罐", "护栏", "煤窑", "土崖", "锅炉", "桥面"]
STATES = ["裂了好宽的缝", "一直在漏", "歪得厉害", "冒烟了", "断了没人管"]
PLACES = ["村东头", "学校门口", "后沟"]
CHATTER = ["收到", "明天几点开会", "热炸了", "吃了没", "今天天气真好", "谢谢大家", "好的好的", "晚上一起喝酒"]
# Every held-out LCCC line carries this marker; if any of them were trained on, it would enter the vocabulary.
HELD_MARK = "龘靐齉"


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _corpus(path: Path) -> Path:
    rows: list[dict[str, object]] = []
    for (thing, state), place in zip(product(THINGS, STATES), PLACES * 20, strict=False):
        rows.append(
            {
                "text": f"{place}那个{thing}{state}",
                "chat": "group",
                "intent": "hazard",
                "category": "gas" if thing == "液化气罐" else "building",
                "severity": "major" if thing in ("窑洞", "煤窑") else "general",
            }
        )
    for a, b in product(CHATTER, ["", "哈哈", "朋友们"]):
        rows.append({"text": a + b, "chat": "group", "intent": "chatter", "category": None, "severity": None})
    rows.append({"text": "/整改完成 3", "chat": "group", "intent": "command"})
    return _write_jsonl(path, rows)


def _lccc(path: Path, n: int = 60) -> Path:
    lines = ["text"]
    for i in range(n):
        lines.append(f"{HELD_MARK}聊天{i}" if i % 5 == 0 else f"{CHATTER[i % len(CHATTER)]}呀第{i}句")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _criteria(path: Path) -> Path:
    rows = ["industry\tgroup\ttext", "煤矿\t瓦斯\t瓦斯超限作业", "烟花爆竹\t仓库\t烟花爆竹仓库超量储存"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _train(tmp_path: Path, *extra: str) -> tuple[Path, str]:
    out = tmp_path / "model.json.gz"
    args = [
        "model",
        "train",
        "--out",
        str(out),
        "--corpus",
        str(_corpus(tmp_path / "corpus.jsonl")),
        "--lccc",
        str(_lccc(tmp_path / "lccc.tsv")),
        "--criteria",
        str(_criteria(tmp_path / "criteria.tsv")),
        *extra,
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_cli_trains_a_model_that_loads_and_scores(tmp_path: Path) -> None:
    out, output = _train(tmp_path)
    model = load_model(out)
    assert model.score("学校门口那个电线冒烟了") > model.score("明天几点开会")
    assert model.category("后沟那个液化气罐一直在漏")[0] == "gas"
    assert model.major("后沟那个窑洞裂了好宽的缝") > model.major("后沟那个护栏歪得厉害")
    assert 0.0 < model.review_threshold <= model.auto_threshold <= 1.0
    # the trainer reports per-source counts and the calibrated thresholds
    assert "corpus.jsonl" in output and "自动登记阈值" in output and "复核阈值" in output
    assert model.trained_on["corpus.jsonl"] == len(THINGS) * len(STATES) + len(CHATTER) * 3
    assert model.trained_on["criteria.tsv"] == 2


def test_lccc_holdout_is_never_trained_on(tmp_path: Path) -> None:
    out, _ = _train(tmp_path, "--score-only")
    model = load_model(out)
    assert model.trained_on["lccc"] == 48  # 60 lines, every fifth (0, 5, ...) held out
    assert not model.features(HELD_MARK)
    assert model.metrics["heldout_lccc_rate_above_review"] >= 0.0


def test_read_lccc_holds_out_every_fifth_data_row(tmp_path: Path) -> None:
    train, held = read_lccc(_lccc(tmp_path / "lccc.tsv", n=11))
    assert [t.split("聊天")[1] for t in held] == ["0", "5", "10"]
    assert all(HELD_MARK not in ex.text for ex in train) and len(train) == 8


def test_commands_are_not_training_data(tmp_path: Path) -> None:
    examples = read_corpus(_corpus(tmp_path / "c.jsonl"))
    assert not any(ex.text.startswith("/") for ex in examples)


def test_frozen_split_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    frozen = tmp_path / "tests" / "corpora" / "frozen"
    frozen.mkdir(parents=True)
    corpus = _corpus(frozen / "unseen.jsonl")
    result = CliRunner().invoke(main, ["model", "train", "--out", "m.json.gz", "--corpus", str(corpus)])
    assert result.exit_code != 0
    assert "冻结" in result.output
    assert not (tmp_path / "m.json.gz").exists()


def test_corrections_from_the_database_join_the_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app import open_database
    from bot.config import Settings
    from storage.corrections import add_correction

    monkeypatch.setenv("ANQUAN_DATABASE_URL", f"sqlite:///{tmp_path / 'anquan.db'}")
    db = open_database(Settings())
    with db.sessions.begin() as session:
        add_correction(
            session,
            text="磨坊的皮带轮没有护罩",
            chat="group",
            intent="hazard",
            source="review_file",
            category="other",
        )
        add_correction(
            session, text="电线冒烟那是电视剧里的", chat="group", intent="chatter", source="false_alarm"
        )
    db.engine.dispose()
    out, _ = _train(tmp_path, "--corrections")
    assert load_model(out).trained_on["corrections"] == 2


def test_auto_threshold_is_the_lowest_score_that_keeps_precision() -> None:
    scores = [0.9] * 30 + [0.7] * 10 + [0.65] + [0.6] * 10
    truth = [True] * 30 + [True] * 10 + [False] + [False] * 10
    assert auto_threshold(scores, truth, 0.97) == 0.65  # 40 of the 41 filed are right
    # a dip below the target higher up stops the search: lower thresholds are not trusted past it
    dip = [0.9] * 30 + [0.8] + [0.7] * 10
    assert auto_threshold(dip, [True] * 30 + [False] + [True] * 10, 0.97) == 0.9
    assert auto_threshold([0.9] * 30, [False] * 30, 0.97) == 1.0  # never reached: the model never files alone


def test_quantile_threshold_lets_at_most_the_rate_through() -> None:
    scores = [i / 100 for i in range(100)]
    threshold = quantile_threshold(scores, 0.05)
    assert sum(s > threshold for s in scores) <= 5


def test_model_never_files_alone_where_its_precision_cannot_be_shown(tmp_path: Path) -> None:
    from handlers.model_training import train_model

    examples = read_corpus(_corpus(tmp_path / "c.jsonl"))
    chatter = {ex.text for ex in examples if not ex.report}
    # as if the rules had caught every report: the model is left to decide chatter only
    result = train_model(examples, alone_mask=lambda texts: [t in chatter for t in texts])
    assert result.artifact["thresholds"]["auto"] == 1.0
    assert any("不单独登记" in line for line in result.lines)
    free = train_model(examples)
    assert free.artifact["thresholds"]["auto"] < 1.0
