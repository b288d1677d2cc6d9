"""Floors on the corpora in ``tests/corpora/``: the training split the rules and the model were tuned on, and the
frozen split nobody tunes on (its floors only stop regressions; see tests/corpora/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.classifier import Classifier
from handlers.evaluation import GoldRow, rows_from_jsonl, tally

CORPORA = Path(__file__).resolve().parent / "corpora"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    """The shipped classifier with the shipped model, loaded once."""
    return Classifier.load()


def _rows(split: str, *names: str) -> list[GoldRow]:
    rows: list[GoldRow] = []
    for path in sorted((CORPORA / split).glob("*.jsonl")):
        if not names or path.stem in names:
            rows += rows_from_jsonl(path.read_text(encoding="utf-8").splitlines())
    assert rows, f"no corpus under {CORPORA / split}"
    return rows


def _metrics(clf: Classifier, rows: list[GoldRow]) -> dict[str, float | int]:
    return tally(rows, [clf.classify(r.text, r.chat) for r in rows]).metrics()


def test_both_splits_are_there_and_apart() -> None:
    train = {r.text for r in _rows("train")}
    frozen = {r.text for r in _rows("frozen")}
    assert len(train) >= 600 and len(frozen) >= 600
    assert not train & frozen


def test_frozen_split_floors(clf: Classifier) -> None:
    m = _metrics(clf, _rows("frozen"))
    assert m["detect_precision"] >= 0.94, m
    assert m["detect_recall"] >= 0.87, m
    assert m["reach"] >= 0.91, m
    assert m["chatter_reach"] <= 0.12, m
    # 0.84 since the blind frozen round 5 joined the split: its writers name categories their own way
    assert m["category_accuracy"] >= 0.84, m


def test_frozen_real_citizen_and_inspector_texts(clf: Classifier) -> None:
    m = _metrics(clf, _rows("frozen", "board_titles", "hotline", "inspection"))
    assert m["detect_f1"] >= 0.90, m
    assert m["reach"] >= 0.90, m
    assert m["chatter_reach"] <= 0.15, m


def test_frozen_emergencies(clf: Classifier) -> None:
    m = _metrics(clf, _rows("frozen", "emergencies"))
    assert m["detect_recall"] >= 0.95, m
    assert m["reach"] >= 0.95, m
    assert m["emergency_recall"] >= 0.88, m


def test_frozen_village_chat(clf: Classifier) -> None:
    m = _metrics(clf, _rows("frozen", "village_mixed", "voice", "elderly"))
    assert m["detect_precision"] >= 0.95, m
    # 0.903 last round, 0.871 this one (about three messages: the advice frame and the model retrained on the
    # round-3 corpora, see README 识别效果); the floor sits just under what is shipped, so any further loss fails
    assert m["detect_recall"] >= 0.86, m
    assert m["reach"] >= 0.92, m


def test_training_split_floors(clf: Classifier) -> None:
    m = _metrics(clf, _rows("train"))
    assert m["detect_precision"] >= 0.97, m
    assert m["detect_recall"] >= 0.96, m
    # 0.95 since round 24: rounds 18-24's writers label up to a fifth of their emergencies general (round 23: 8 of
    # 120, a lid on a pan fire, a stuck goods lift with nobody in it; round 24: 6 of 100), this counts every
    # emergency, and round 24 is not in the shipped model yet (retraining with it put "孩子们都在吐槽作业多" at
    # 0.936, above its own model-alone threshold of 0.935)
    assert m["emergency_recall"] >= 0.95, m


# The blind frozen rounds, each with floors just under what was shipped when it was read (village; emergencies):
# round 4 scored before the tuning of its session (village recall 0.910, reach 0.970; emergencies filed at once as
# major 0.911) and after it (0.930, 0.990; 0.911); round 6 read before any tuning of its session (village recall
# 0.948; emergencies detected 0.984, filed at once as major 0.938) and round 7 for the first time after it (0.958;
# 0.984, 0.906); round 8 written at the start of round 22's session and read for the first time after all of its
# tuning (village precision 0.949, recall 0.959, reach 0.979; emergencies detected 0.964, at once as major 0.893);
# round 9 likewise for round 23's session (village precision 0.981, recall 0.962, reach 0.990; emergencies detected
# 0.943, reach 1.000, at once as major 0.900).
BLIND_ROUND_FLOORS = {
    "round4": (
        {"detect_precision": 0.95, "detect_recall": 0.91, "reach": 0.97},
        {"reach": 0.97, "emergency_recall": 0.88},
    ),
    "round6": (
        {"detect_precision": 0.95, "detect_recall": 0.94, "reach": 0.98},
        {"detect_recall": 0.97, "emergency_recall": 0.89},
    ),
    "round7": (
        {"detect_precision": 0.95, "detect_recall": 0.94, "reach": 0.98},
        {"detect_recall": 0.97, "emergency_recall": 0.89},
    ),
    "round8": (
        # recall 0.94: the model retrained with round 23 files one of its 97 reports fewer (92; reach stays above its floor)
        {"detect_precision": 0.94, "detect_recall": 0.94, "reach": 0.97},
        {"detect_recall": 0.96, "emergency_recall": 0.88},
    ),
    "round9": (
        {"detect_precision": 0.97, "detect_recall": 0.95, "reach": 0.98},
        {"detect_recall": 0.94, "reach": 0.99, "emergency_recall": 0.89},
    ),
}


@pytest.mark.parametrize("round_", sorted(BLIND_ROUND_FLOORS))
def test_frozen_blind_rounds(clf: Classifier, round_: str) -> None:
    # written blind by authors who had seen no rule and no corpus
    village_floors, emergency_floors = BLIND_ROUND_FLOORS[round_]
    for name, floors in ((f"village_{round_}", village_floors), (f"emergencies_{round_}", emergency_floors)):
        m = _metrics(clf, _rows("frozen", name))
        below = {k: m[k] for k, floor in floors.items() if m[k] < floor}
        assert not below, (name, below, m)
