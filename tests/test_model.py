"""The shipped statistical model, loaded and evaluated in plain Python."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.model import DEFAULT_MODEL, TextModel, load_model
from handlers.rules import CATEGORIES

HAZARD = "王家沟村东头老窑洞裂了好宽的缝,下雨怕塌"
CHATTER = ["收到", "明天几点开会", "热炸了", "哈哈哈今天吃啥"]


@pytest.fixture(scope="module")
def model() -> TextModel:
    return load_model(None)


def test_shipped_model_scores_a_hazard_above_chatter(model: TextModel) -> None:
    hazard = model.score(HAZARD)
    for text in CHATTER:
        assert model.score(text) < model.review_threshold < hazard


def test_category_of_a_gas_leak_is_gas(model: TextModel) -> None:
    category, probability = model.category("我家厨房液化气罐漏气了,一股煤气味")
    assert category == "gas"
    assert 0.5 < probability <= 1.0
    assert set(model.category_classes) <= set(CATEGORIES)


def test_major_hazards_score_higher_than_minor_ones(model: TextModel) -> None:
    assert model.major("煤矿井下瓦斯超限了还在干活") > 0.5 > model.major("村口那根电线杆歪了")


def test_thresholds_and_provenance_come_with_the_artifact(model: TextModel) -> None:
    assert 0.0 < model.review_threshold <= model.auto_threshold <= 1.0
    # both calibrations were made on out-of-fold predictions to file at >= 97% precision: on every message,
    # and on the messages the model decides alone (1.0, never, when that cannot be shown)
    assert model.metrics["score_only_oof_precision"] >= 0.97
    assert model.metrics["oof_alone_precision_at_auto"] >= 0.97
    assert model.metrics["heldout_lccc_rate_above_review"] <= 0.008
    assert model.trained_on["lccc"] > 10_000 and model.trained_on["dev.jsonl"] > 0
    assert model.version


def test_scores_are_deterministic(model: TextModel) -> None:
    first = [model.score(t) for t in [HAZARD, *CHATTER]]
    model.category("别的消息")  # the small feature cache must not leak between messages
    assert [model.score(t) for t in [HAZARD, *CHATTER]] == first
    assert load_model(DEFAULT_MODEL).score(HAZARD) == first[0]
    assert model.category(HAZARD) == model.category(HAZARD)


def test_empty_text_gets_the_prior(model: TextModel) -> None:
    assert model.score("") < model.review_threshold
    assert model.category("")[0] in CATEGORIES


def test_missing_artifact_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json.gz"
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_model(path)


@pytest.mark.parametrize(
    "content",
    [
        b"not gzip at all",
        gzip.compress(b"{not json"),
        gzip.compress(json.dumps({"format": "something-else"}).encode()),
        gzip.compress(json.dumps({"format": "anquan-text-model/1", "vocabulary": ["a"]}).encode()),
    ],
)
def test_malformed_artifact_is_a_value_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.json.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        TextModel.load(path)


def test_weights_that_do_not_match_the_vocabulary_are_refused(tmp_path: Path) -> None:
    with gzip.open(DEFAULT_MODEL, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    data["heads"]["report"]["weights"] = data["heads"]["report"]["weights"][:-1]
    path = tmp_path / "short.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data, ensure_ascii=False).encode()))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_model(path)


def test_inference_needs_no_numeric_libraries() -> None:
    code = (
        "import sys; from handlers.model import load_model; m = load_model(None); m.score('收到'); "
        "m.category('收到'); m.major('收到'); "
        "print(sorted(k for k in ('numpy', 'scipy', 'sklearn', 'jieba') if k in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shipped_artifact_is_small() -> None:
    assert DEFAULT_MODEL.stat().st_size < 3 * 1024 * 1024


def test_anquan_model_setting_names_the_artifact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import Settings

    missing = tmp_path / "township-model.json.gz"
    monkeypatch.setenv("ANQUAN_MODEL", str(missing))
    settings = Settings()
    assert settings.model == missing
    with pytest.raises(ValueError, match=re.escape(str(missing))):
        load_model(settings.model)
    missing.write_bytes(DEFAULT_MODEL.read_bytes())
    assert load_model(settings.model).score(HAZARD) == load_model(None).score(HAZARD)
