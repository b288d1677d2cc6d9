"""Tests for handlers.evaluation: metric arithmetic on small hand-made corpora, review-aware reach, per-rule
error counts, and reading JSONL and TSV corpora."""

from __future__ import annotations

import math

import pytest

from handlers.classifier import Classification
from handlers.evaluation import (
    CorpusError,
    GoldRow,
    errors_of,
    prediction_from_json,
    rows_from_jsonl,
    rows_from_tsv,
    rule_stats,
    tally,
)

LABELLED = frozenset({"category", "severity", "location"})


def gold(
    intent: str = "chatter", category: str | None = None, severity: str | None = None, **kw: object
) -> GoldRow:
    known = kw.pop("known", LABELLED if intent != "chatter" else frozenset())
    return GoldRow(
        text=str(kw.pop("text", "某条消息")),
        intent=intent,
        category=category,
        severity=severity,
        location=kw.pop("location", None),  # type: ignore[arg-type]
        known=known,  # type: ignore[arg-type]
    )


def got(
    intent: str = "chatter",
    category: str | None = None,
    severity: str | None = None,
    location: str | None = None,
    review: bool = False,
) -> Classification:
    return Classification(intent, category, severity, location, 0.8, (), review=review)


def test_detection_tip_category_severity_and_location_follow_eval_parse() -> None:
    rows = [
        gold("hazard", "fire", "major", location="王家沟村"),  # filed, right category and place
        gold("hazard", "building", "general"),  # filed as the wrong category
        gold("tip", "mining", "major"),  # missed
        gold("tip", "mining", "major"),  # filed as a tip, severity general
        gold(),  # chatter, quiet
        gold(),  # chatter, filed: a false positive
    ]
    preds = [
        got("hazard", "fire", "major", "王家沟村"),
        got("hazard", "electric", "general"),
        got(),
        got("tip", "mining", "general"),
        got(),
        got("hazard", "traffic", "general"),
    ]
    m = tally(rows, preds).metrics()
    assert m["n"] == 6
    assert m["detect_precision"] == pytest.approx(3 / 4)
    assert m["detect_recall"] == pytest.approx(3 / 4)
    assert m["detect_f1"] == pytest.approx(3 / 4)
    assert m["false_positive_rate"] == pytest.approx(1 / 2)
    assert m["tip_precision"] == 1.0 and m["tip_recall"] == pytest.approx(1 / 2)
    assert m["category_accuracy"] == pytest.approx(2 / 3)
    assert m["severity_accuracy"] == pytest.approx(2 / 3)
    assert m["major_recall"] == pytest.approx(1 / 2)  # among detected majors, as eval_parse.py counts
    assert m["location_accuracy"] == 1.0  # only lines where gold or verdict names a place count
    assert [e.kind for e in errors_of(rows, preds)] == ["category", "miss", "false_positive"]


def test_review_counts_as_reaching_an_official_but_not_as_filed() -> None:
    rows = [gold("hazard", "fire", "major"), gold("hazard", "gas", "general"), gold(), gold()]
    preds = [
        got("chatter", "fire", "major", review=True),  # in review, suspected major
        got(),  # missed outright
        got("chatter", "other", "general", review=True),  # chatter sent to review
        got(),
    ]
    m = tally(rows, preds).metrics()
    assert m["detect_recall"] == 0.0  # a review is not a filing
    assert m["reach"] == pytest.approx(1 / 2)
    assert m["review_rate"] == pytest.approx(2 / 4)
    assert m["chatter_reach"] == pytest.approx(1 / 2)
    assert m["false_positive_rate"] == 0.0  # reviewed chatter is not filed
    assert m["major_reach"] == 1.0  # the one major reached an official as major
    assert math.isnan(m["major_recall"])  # no major was filed at all


def test_major_reach_needs_the_major_severity_and_counts_misses() -> None:
    rows = [gold("hazard", "fire", "major") for _ in range(4)]
    preds = [
        got("hazard", "fire", "major"),
        got("hazard", "fire", "general"),  # filed, but not as major
        got("chatter", "fire", "major", review=True),
        got(),  # missed
    ]
    m = tally(rows, preds).metrics()
    assert m["major_reach"] == pytest.approx(2 / 4)
    assert m["major_recall"] == pytest.approx(1 / 2)


def test_emergency_recall_counts_emergencies_filed_at_once_as_major() -> None:
    rows = rows_from_jsonl(
        [
            '{"text": "着火了快来人", "intent": "hazard", "category": "fire", "severity": "major", "register": "emergency"}',
            '{"text": "有人掉井里了", "intent": "hazard", "category": "water", "severity": "major", "register": "emergency"}',
            '{"text": "塌了有人埋着", "intent": "hazard", "category": "building", "severity": "major", "register": "emergency"}',
            '{"text": "窑洞裂了", "intent": "hazard", "category": "building", "severity": "major", "register": "village"}',
        ]
    )
    assert rows[0].register == "emergency" and rows[3].register == "village"
    preds = [
        got("hazard", "fire", "major"),
        got("chatter", "water", "major", review=True),  # an emergency in the review queue waits too long
        got("hazard", "building", "general"),
        got(),  # not an emergency: does not count
    ]
    m = tally(rows, preds).metrics()
    assert m["emergency_recall"] == pytest.approx(1 / 3)
    assert m["major_reach"] == pytest.approx(2 / 4)


def test_tallies_of_two_corpora_add_up_to_the_tally_of_both() -> None:
    a_rows, a_preds = [gold("hazard", "fire", "major")], [got("hazard", "fire", "major")]
    b_rows, b_preds = [gold(), gold()], [got("hazard", "fire", "general"), got()]
    summed = tally(a_rows, a_preds) + tally(b_rows, b_preds)
    assert summed == tally(a_rows + b_rows, a_preds + b_preds)
    total = summed.metrics()
    assert total["n"] == 3 and total["detect_precision"] == pytest.approx(1 / 2)


def test_unlabelled_lines_are_chatter_and_only_the_false_positive_rate_is_defined() -> None:
    rows = rows_from_jsonl(['{"text": "收到"}', "", '{"text": "热炸了"}'])
    assert [r.intent for r in rows] == ["chatter", "chatter"]
    m = tally(rows, [got(), got("hazard", "fire", "general")]).metrics()
    assert m["false_positive_rate"] == pytest.approx(1 / 2)
    assert math.isnan(m["detect_recall"]) and math.isnan(m["reach"])


def test_a_label_absent_from_the_corpus_is_not_scored_but_a_null_one_is() -> None:
    rows = rows_from_jsonl(
        ['{"text": "a", "intent": "hazard"}', '{"text": "b", "intent": "hazard", "location": null}']
    )
    assert rows[0].known == frozenset() and rows[1].known == {"location"}
    m = tally(rows, [got("hazard", "fire", "general", "王家沟村")] * 2).metrics()
    assert math.isnan(m["category_accuracy"])
    assert m["location_accuracy"] == 0.0  # gold says no place, the verdict named one


def test_jsonl_errors_name_the_line() -> None:
    with pytest.raises(CorpusError, match="第 2 行"):
        rows_from_jsonl(['{"text": "a"}', "{oops"])
    with pytest.raises(CorpusError, match="第 1 行：缺少文字字段"):
        rows_from_jsonl(['{"intent": "hazard"}'])
    with pytest.raises(CorpusError, match="第 1 行：intent"):
        rows_from_jsonl(['{"text": "a", "intent": "danger"}'])


def test_tsv_with_a_text_column_is_all_chatter() -> None:
    rows = rows_from_tsv(["text\n", "遭淋安逸了？\n", "\n", "是哈，你没遭撒？\n"])
    assert [(r.text, r.intent, r.chat) for r in rows] == [
        ("遭淋安逸了？", "chatter", "group"),
        ("是哈，你没遭撒？", "chatter", "group"),
    ]


def test_tsv_of_the_major_hazard_criteria_is_all_major_hazards_with_unknown_category() -> None:
    rows = rows_from_tsv(
        [
            "industry\tgroup\ttext\n",
            "煤矿\t煤矿\t超能力、超强度或者超定员组织生产\n",
            "烟花爆竹\t烟花\t工厂未设置防雷设施\n",
        ]
    )
    assert all(r.intent == "hazard" and r.severity == "major" and r.chat == "group" for r in rows)
    assert rows[0].text == "超能力、超强度或者超定员组织生产"
    m = tally(rows, [got("hazard", "mining", "major"), got()]).metrics()
    assert m["detect_recall"] == pytest.approx(1 / 2) and m["severity_accuracy"] == 1.0
    assert math.isnan(m["category_accuracy"]) and math.isnan(m["location_accuracy"])


def test_tsv_with_label_columns_and_without_text() -> None:
    rows = rows_from_tsv(["text\tintent\tcategory\n", "电线断了\thazard\telectric\n"])
    assert rows[0].intent == "hazard" and rows[0].category == "electric" and "category" in rows[0].known
    with pytest.raises(CorpusError, match="text"):
        rows_from_tsv(["content\n", "x\n"])


def _explanation(rules: list[str], **verdict: object) -> dict[str, object]:
    classification = {"intent": "chatter", "category": None, "severity": None, "review": False} | verdict
    return {
        "hits": [{"word": "w", "roles": [], "category": None, "rule": r} for r in rules],
        "classification": classification,
    }


def test_rule_stats_count_lines_fired_and_their_errors_once_per_line() -> None:
    rows = [
        gold("hazard", "fire", "general", text="着火"),
        gold(text="热炸了"),
        gold("hazard", "fire", "general", text="冒烟"),
    ]
    explanations = [
        _explanation(
            ["things.fire", "states", "states"], intent="hazard", category="fire", severity="general"
        ),
        _explanation(
            ["states", "frames"], intent="hazard", category="other", severity="general"
        ),  # false positive
        _explanation(["things.fire"], review=True),  # miss, sent to review
    ]
    stats = {s.rule: s for s in rule_stats(rows, explanations, examples=1)}
    assert (stats["states"].fired, stats["states"].false_positives, stats["states"].errors) == (2, 1, 1)
    assert (stats["things.fire"].fired, stats["things.fire"].misses) == (2, 1)
    assert stats["things.fire"].examples == ["冒烟"]
    assert (stats["things.fire"].reviewed, stats["states"].reviewed) == (1, 0)
    assert stats["frames"].to_json() == {
        "rule": "frames",
        "fired": 1,
        "errors": 1,
        "false_positives": 1,
        "misses": 0,
        "wrong_category": 0,
        "reviewed": 0,
    }
    # most errors first, then most lines fired, then by name
    assert [s.rule for s in rule_stats(rows, explanations)] == ["states", "things.fire", "frames"]


def test_prediction_from_json_reads_a_parse_output_line() -> None:
    line = got("chatter", "fire", "major", review=True).to_json()
    p = prediction_from_json(line)
    assert (p.intent, p.category, p.severity, p.review) == ("chatter", "fire", "major", True)
