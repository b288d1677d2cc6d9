"""Training the statistical second opinion (:mod:`handlers.model`) with scikit-learn, which is imported lazily.

Sources are labeled corpora (JSON Lines with ``text intent category severity``), the official major-hazard
criteria (all major reports), LCCC chit-chat (all chatter; every line whose data-row index % 5 == 0 is held out
as the LCCC test part and never trained on) and the township's corrections. Thresholds are calibrated on
out-of-fold predictions only; the held-out LCCC part is scored once, by the final model, and only reported.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.model import FORMAT, TextModel, ngrams
from handlers.rules import CATEGORIES

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_matrix

    from handlers.classifier import Classifier

__all__ = [
    "CRITERIA_CATEGORIES",
    "Example",
    "TrainingResult",
    "classifier_normalizer",
    "dedupe",
    "examples_from_corrections",
    "read_corpus",
    "read_criteria",
    "read_lccc",
    "rules_alone_mask",
    "train_model",
    "write_artifact",
]

# The criteria file's industries whose category is clear; the rest train the report and major heads only.
CRITERIA_CATEGORIES = {
    "煤矿": "mining",
    "金属非金属矿山": "mining",
    "化工和危险化学品": "chemical",
    "烟花爆竹": "chemical",
}
REPORT_INTENTS = frozenset({"hazard", "tip"})
LCCC = "lccc"
# Precision the model must reach on out-of-fold predictions before it may file on its own.
AUTO_PRECISION = 0.97
# Out-of-fold shares of chatter that may reach the review threshold (LCCC chit-chat, tricky corpus chatter).
REVIEW_LCCC_RATE = 0.006
REVIEW_CORPUS_RATE = 0.10


@dataclass(frozen=True)
class Example:
    """One training text with its labels; ``category``/``major`` are None when unknown or not a report."""

    text: str
    source: str
    report: bool
    category: str | None = None
    major: bool | None = None


@dataclass
class TrainingResult:
    """What a training run produced: the artifact's JSON, and the figures the CLI prints."""

    artifact: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    # every (deduplicated, normalised) training example with its out-of-fold report score
    oof: list[tuple[Example, float]] = field(default_factory=list)


# ---- reading the sources -----------------------------------------------------------------------------


def _labels(intent: str, category: Any, severity: Any) -> tuple[bool, str | None, bool | None]:
    report = intent in REPORT_INTENTS
    cat = category if report and category in CATEGORIES else None
    major = (severity == "major") if report and severity in ("major", "general") else None
    return report, cat, major


def read_corpus(path: Path, source: str | None = None) -> list[Example]:
    """Read a labeled JSON Lines corpus (``text``, ``intent``, ``category``, ``severity``); commands are skipped.

    Raises ValueError naming the file and line when a line is not a labeled JSON object.
    """
    name = source or path.name
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text, intent = str(obj["text"]), str(obj["intent"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path} 第 {lineno} 行不是带 text 和 intent 的 JSON 对象：{exc}") from exc
            if intent == "command" or text.lstrip()[:1] in ("/", "／"):
                continue
            report, cat, major = _labels(intent, obj.get("category"), obj.get("severity"))
            out.append(Example(text, name, report, cat, major))
    return out


def _tsv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if rows and "text" not in rows[0]:
        raise ValueError(f"{path} 缺少 text 列")
    return rows


def read_criteria(path: Path) -> list[Example]:
    """Read the official major-hazard criteria (TSV with a ``text`` column): every line is a major report."""
    return [
        Example(r["text"], path.name, True, CRITERIA_CATEGORIES.get(r.get("industry") or ""), True)
        for r in _tsv_rows(path)
        if (r.get("text") or "").strip()
    ]


def read_lccc(path: Path) -> tuple[list[Example], list[str]]:
    """Read LCCC chit-chat (TSV with a ``text`` column): return the training part and the held-out texts.

    Data row ``i`` (0-based, after the header) is held out when ``i % 5 == 0``; those lines are never trained on.
    """
    train: list[Example] = []
    held: list[str] = []
    for i, row in enumerate(_tsv_rows(path)):
        text = row.get("text") or ""
        if i % 5 == 0:
            held.append(text)
        elif text.strip():
            train.append(Example(text, LCCC, False))
    return train, held


def examples_from_corrections(rows: Iterable[Any]) -> list[Example]:
    """Turn the township's corrections (objects with ``.text .intent .category .severity``) into examples."""
    out = []
    for row in rows:
        text = str(getattr(row, "text", "") or "")
        intent = str(getattr(row, "intent", "") or "")
        if not text.strip() or intent not in (*REPORT_INTENTS, "chatter"):
            continue
        report, cat, major = _labels(intent, getattr(row, "category", None), getattr(row, "severity", None))
        out.append(Example(text, "corrections", report, cat, major))
    return out


def classifier_normalizer() -> Callable[[str], str]:
    """The rule classifier's own normalisation (the form the model sees at run time), without loading jieba."""
    import jieba

    from handlers.classifier import Classifier
    from handlers.rules import DEFAULT_RULES, read_rules

    # A tokenizer is lazy until initialise(); normalize() never segments, so the dictionary is never read.
    return Classifier(read_rules(DEFAULT_RULES), jieba.Tokenizer(), ()).normalize


class _AlwaysAsked:
    """Stands in for the model while finding the messages it would decide alone: every score clears both
    thresholds, so the classifier files exactly the messages it leaves to the model."""

    auto_threshold = 0.0
    review_threshold = 0.0

    def score(self, text: str) -> float:
        return 0.5

    def category(self, text: str) -> tuple[str, float]:
        return "other", 1.0

    def major(self, text: str) -> float:
        return 0.0


def rules_alone_mask(classifier: Classifier) -> Callable[[Sequence[str]], list[bool]]:
    """A function telling, for normalised texts, whether ``classifier`` (loaded with ``use_model=False``; it is
    taken over) would leave the decision to the model alone: the rules call it chatter and no frame explains
    it away."""
    classifier.model = _AlwaysAsked()  # type: ignore[assignment]

    def mask(texts: Sequence[str]) -> list[bool]:
        verdicts = (classifier.classify(text, "group") for text in texts)
        return [v.model_score is not None and v.intent in REPORT_INTENTS for v in verdicts]

    return mask


def dedupe(examples: Iterable[Example], normalize: Callable[[str], str]) -> list[Example]:
    """Normalise every text and keep one example per text; a later source's labels win (corrections last)."""
    seen: dict[str, Example] = {}
    for ex in examples:
        text = normalize(ex.text)
        if text:
            seen.pop(text, None)
            seen[text] = Example(text, ex.source, ex.report, ex.category, ex.major)
    return list(seen.values())


# ---- features ----------------------------------------------------------------------------------------


def build_vocabulary(
    texts: Sequence[str],
    low: int,
    high: int,
    min_count: int,
    bulk: Sequence[str] = (),
    bulk_min_count: int = 0,
) -> list[str]:
    """The n-grams found in at least ``min_count`` of ``texts`` or ``bulk_min_count`` of the ``bulk`` texts
    (the large chit-chat set, pruned harder to keep the model small and fast), sorted for a stable artifact."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(ngrams(text, low, high))
    keep = {g for g, c in counts.items() if c >= min_count}
    counts.clear()
    for text in bulk:
        counts.update(ngrams(text, low, high))
    keep.update(g for g, c in counts.items() if c >= (bulk_min_count or min_count))
    return sorted(keep)


def feature_matrix(texts: Sequence[str], vocab: Sequence[str], low: int, high: int) -> csr_matrix:
    """Binary n-gram features, each row scaled to unit length: exactly what :class:`TextModel` computes."""
    from scipy.sparse import csr_matrix

    index = {g: i for i, g in enumerate(vocab)}
    indptr, indices, values = [0], [], []
    for text in texts:
        cols = sorted(index[g] for g in ngrams(text, low, high) if g in index)
        indices.extend(cols)
        values.extend([1.0 / math.sqrt(len(cols))] * len(cols) if cols else [])
        indptr.append(len(indices))
    return csr_matrix((values, indices, indptr), shape=(len(texts), len(vocab)))


# ---- fitting -----------------------------------------------------------------------------------------


def _weights(examples: Sequence[Example], lccc_share: float) -> np.ndarray:
    """Balance the classes: reports and chatter weigh the same in total, and LCCC gets ``lccc_share`` of the
    chatter's weight (it is 10x larger than the corpus chatter but far easier)."""
    import numpy as np

    pos = sum(ex.report for ex in examples)
    lccc = sum(ex.source == LCCC for ex in examples)
    other = len(examples) - pos - lccc
    neg_total = float(max(pos, 1))
    w_lccc = neg_total * (lccc_share if other else 1.0) / max(lccc, 1)
    w_other = neg_total * (1.0 - lccc_share if lccc else 1.0) / max(other, 1)
    return np.array([1.0 if ex.report else (w_lccc if ex.source == LCCC else w_other) for ex in examples])


def _fit_binary(x: Any, y: Any, weights: Any, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000, solver="liblinear")
    return model.fit(x, y, sample_weight=weights)


def _fit_category(x: Any, labels: Sequence[str], c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, labels)


def _folds(labels: Sequence[str], k: int, seed: int) -> list[tuple[Any, Any]]:
    from sklearn.model_selection import StratifiedKFold

    counts = Counter(labels)
    k = max(2, min(k, min(counts.values())))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(labels, labels))


# ---- thresholds --------------------------------------------------------------------------------------


def auto_threshold(
    scores: Sequence[float], truth: Sequence[bool], precision: float, min_filed: int = 20
) -> float:
    """The lowest score at and above which precision is >= ``precision``, and stays so for every higher
    threshold that files at least ``min_filed`` messages; 1.0 (never) when no score qualifies."""
    ranked = sorted(zip(scores, truth, strict=True), key=lambda p: -p[0])
    best = 1.0
    tp = 0
    for n, (score, good) in enumerate(ranked, 1):
        tp += good
        if (n < len(ranked) and ranked[n][0] == score) or n < min_filed:
            continue  # decide once per distinct score, and only once enough messages are filed
        if tp / n < precision:
            break
        best = score
    return best


def quantile_threshold(scores: Sequence[float], rate: float) -> float:
    """The score above which at most ``rate`` of ``scores`` lie."""
    if not scores:
        return 1.0
    ranked = sorted(scores, reverse=True)
    allowed = int(rate * len(ranked))
    return ranked[allowed] if allowed < len(ranked) else 0.0


def _rate_above(scores: Iterable[float], threshold: float) -> float:
    scores = list(scores)
    return sum(s > threshold for s in scores) / len(scores) if scores else 0.0


def _precision_recall(
    scores: Sequence[float], truth: Sequence[bool], threshold: float
) -> tuple[float, float]:
    filed = [t for s, t in zip(scores, truth, strict=True) if s >= threshold]
    positives = sum(truth)
    precision = sum(filed) / len(filed) if filed else 1.0
    return precision, (sum(filed) / positives if positives else 0.0)


# ---- the whole run -----------------------------------------------------------------------------------


def train_model(
    examples: Sequence[Example],
    lccc_heldout: Sequence[str] = (),
    *,
    normalize: Callable[[str], str] | None = None,
    low: int = 1,
    high: int = 3,
    min_count: int = 2,
    lccc_min_count: int = 5,
    c_report: float = 1000.0,
    c_category: float = 100.0,
    c_major: float = 20.0,
    lccc_share: float = 0.5,
    folds: int = 5,
    seed: int = 0,
    alone_mask: Callable[[Sequence[str]], list[bool]] | None = None,
) -> TrainingResult:
    """Train the three heads, calibrate the thresholds on out-of-fold predictions, and return the artifact.

    ``lccc_heldout`` texts are never trained on (training LCCC lines equal to one of them are dropped too);
    they are only scored by the final model to report its rate on unseen chit-chat. ``alone_mask`` (see
    :func:`rules_alone_mask`) tells which texts the model would decide alone; the auto threshold must then also
    reach the target precision on those.
    """
    import numpy as np

    norm = normalize or classifier_normalizer()
    held = [t for t in (norm(t) for t in lccc_heldout) if t]
    held_set = set(held)
    data = [ex for ex in dedupe(examples, norm) if not (ex.source == LCCC and ex.text in held_set)]
    if sum(ex.report for ex in data) < 2 or sum(not ex.report for ex in data) < 2:
        raise ValueError("训练数据太少：至少要有两条隐患/举报和两条闲聊")
    texts = [ex.text for ex in data]
    is_lccc = [ex.source == LCCC for ex in data]
    y = np.array([ex.report for ex in data], dtype=int)
    weights = _weights(data, lccc_share)

    def vocabulary(rows: Iterable[int]) -> list[str]:
        rows = list(rows)
        own = [texts[i] for i in rows if not is_lccc[i]]
        bulk = [texts[i] for i in rows if is_lccc[i]]
        return build_vocabulary(own, low, high, min_count, bulk, lccc_min_count)

    # out-of-fold report scores, stratified by label and source family; each fold builds its vocabulary
    # from its own training part, as the final model does
    oof = np.zeros(len(data))
    for tr, te in _folds([f"{ex.report}:{ex.source == LCCC}" for ex in data], folds, seed):
        xf = feature_matrix(texts, vocabulary(tr), low, high)
        oof[te] = _fit_binary(xf[tr], y[tr], weights[tr], c_report).predict_proba(xf[te])[:, 1]
    scores = [float(s) for s in oof]
    vocab = vocabulary(range(len(data)))
    x = feature_matrix(texts, vocab, low, high)
    report = _fit_binary(x, y, weights, c_report)
    cal = _calibrate(data, scores, alone_mask(texts) if alone_mask else None)

    # category and major heads: reports only
    cat_rows = [i for i, ex in enumerate(data) if ex.category]
    cat_labels = [str(data[i].category) for i in cat_rows]
    classes = sorted(set(cat_labels), key=CATEGORIES.index)
    category_model = _fit_category(x[cat_rows], cat_labels, c_category) if len(classes) > 1 else None
    if category_model is not None:
        classes = [str(c) for c in category_model.classes_]  # the order of sklearn's coefficient rows
    major_rows = [i for i, ex in enumerate(data) if ex.major is not None]
    major_y = np.array([int(bool(data[i].major)) for i in major_rows])
    major_model = (
        _fit_binary(x[major_rows], major_y, _balanced(major_y), c_major) if len(set(major_y)) > 1 else None
    )
    major_labels = ["major" if v else "general" for v in major_y]
    head_oof = {
        "oof_category_accuracy": _head_oof_accuracy(
            texts, cat_rows, cat_labels, folds, seed, (low, high, min_count), c_category
        ),
        "oof_major_accuracy": _head_oof_accuracy(
            texts, major_rows, major_labels, folds, seed, (low, high, min_count), c_major
        ),
    }

    held_scores = _score_plain(report, vocab, held, low, high)
    metrics = {**cal.metrics(data, scores, held_scores), **head_oof}
    trained_on = dict(sorted(Counter(ex.source for ex in data).items()))
    artifact = _artifact(
        vocab,
        low,
        high,
        report,
        category_model,
        classes,
        major_model,
        cal.auto,
        cal.review,
        trained_on,
        metrics,
    )
    lines = [
        "训练数据（去重后）：" + "，".join(f"{k} {v}" for k, v in trained_on.items()),
        f"  隐患/举报 {int(y.sum())} 条，闲聊 {len(y) - int(y.sum())} 条；LCCC 留出测试 {len(held)} 条（未参与训练）",
        f"特征：{low}–{high} 字 n-gram，出现 ≥{min_count} 次（LCCC 里 ≥{lccc_min_count} 次），共 {len(vocab)} 个",
        *_summary(cal, metrics),
    ]
    return TrainingResult(artifact, lines, list(zip(data, scores, strict=True)))


@dataclass(frozen=True)
class _Calibration:
    """The two thresholds and the out-of-fold populations they were chosen on."""

    auto: float
    score_only_auto: float
    review: float
    alone: list[bool]

    def metrics(
        self, data: Sequence[Example], scores: Sequence[float], held_scores: Sequence[float]
    ) -> dict[str, Any]:
        """The figures the artifact records and the trainer prints."""
        truth = [ex.report for ex in data]
        alone_scores = [s for s, a in zip(scores, self.alone, strict=True) if a]
        alone_truth = [t for t, a in zip(truth, self.alone, strict=True) if a]
        corpus = [ex.source != LCCC for ex in data]
        corpus_scores = [s for s, c in zip(scores, corpus, strict=True) if c]
        corpus_truth = [t for t, c in zip(truth, corpus, strict=True) if c]
        lccc_oof = [s for s, c in zip(scores, corpus, strict=True) if not c]
        chatter = [s for s, ex in zip(scores, data, strict=True) if not ex.report and ex.source != LCCC]
        p_free, r_free = _precision_recall(scores, truth, self.score_only_auto)
        p_all, r_all = _precision_recall(scores, truth, self.auto)
        p_alone, r_alone = _precision_recall(alone_scores, alone_truth, self.auto)
        return {
            # the score-only calibration: every out-of-fold prediction, whatever the rules said
            "score_only_auto_threshold": round(self.score_only_auto, 4),
            "score_only_oof_precision": round(p_free, 4),
            "score_only_oof_recall": round(r_free, 4),
            "score_only_oof_recall_by_source": _recall_by_source(data, scores, self.score_only_auto),
            "score_only_alone_filed": sum(s >= self.score_only_auto for s in alone_scores),
            "score_only_alone_precision": round(
                _precision_recall(alone_scores, alone_truth, self.score_only_auto)[0], 4
            ),
            # at the shipped auto threshold
            "oof_precision_at_auto": round(p_all, 4),
            "oof_recall_at_auto": round(r_all, 4),
            "oof_alone_filed_at_auto": sum(s >= self.auto for s in alone_scores),
            "oof_alone_precision_at_auto": round(p_alone, 4),
            "oof_alone_recall_at_auto": round(r_alone, 4),
            # at the review threshold
            "oof_corpus_recall_at_review": round(
                _precision_recall(corpus_scores, corpus_truth, self.review)[1], 4
            ),
            "oof_lccc_rate_above_review": round(_rate_above(lccc_oof, self.review), 5),
            "oof_corpus_chatter_rate_above_review": round(_rate_above(chatter, self.review), 4),
            "heldout_lccc_rate_above_review": round(_rate_above(held_scores, self.review), 5),
            "heldout_lccc_rate_at_auto": round(
                sum(s >= self.auto for s in held_scores) / max(len(held_scores), 1), 5
            ),
        }


def _calibrate(data: Sequence[Example], scores: Sequence[float], alone: list[bool] | None) -> _Calibration:
    """Choose the thresholds on out-of-fold scores: auto at the target precision on every message, on the
    corpora alone and (given ``alone``) on the messages the model decides alone; review at the chatter rates."""
    truth = [ex.report for ex in data]
    corpus = [ex.source != LCCC for ex in data]
    score_only = max(
        auto_threshold(scores, truth, AUTO_PRECISION),
        auto_threshold(
            [s for s, c in zip(scores, corpus, strict=True) if c],
            [t for t, c in zip(truth, corpus, strict=True) if c],
            AUTO_PRECISION,
        ),
    )
    auto = score_only
    if alone is not None:
        # Where the model really files alone (the rules say chatter and no frame explains the message away),
        # the easy reports are gone. No qualifying score there means it never files alone.
        auto = max(
            auto,
            auto_threshold(
                [s for s, a in zip(scores, alone, strict=True) if a],
                [t for t, a in zip(truth, alone, strict=True) if a],
                AUTO_PRECISION,
            ),
        )
    review = max(
        quantile_threshold([s for s, c in zip(scores, corpus, strict=True) if not c], REVIEW_LCCC_RATE),
        quantile_threshold(
            [s for s, ex in zip(scores, data, strict=True) if not ex.report and ex.source != LCCC],
            REVIEW_CORPUS_RATE,
        ),
    )
    return _Calibration(
        auto, score_only, min(review, auto), alone if alone is not None else [True] * len(data)
    )


def _summary(cal: _Calibration, m: dict[str, Any]) -> list[str]:
    """The trainer's report on the thresholds, in Chinese for the person retraining."""
    if cal.auto >= 1.0:
        auto = f"自动登记阈值 1.000：模型单独登记达不到精确率 {AUTO_PRECISION}，不单独登记，只送复核"
    else:
        auto = (
            f"自动登记阈值 {cal.auto:.3f}：袋外精确率 {m['oof_precision_at_auto']:.3f}、召回率 "
            f"{m['oof_recall_at_auto']:.3f}；模型单独登记 {m['oof_alone_filed_at_auto']} 条，精确率 "
            f"{m['oof_alone_precision_at_auto']:.3f}"
        )
    return [
        f"只看分数：阈值 {cal.score_only_auto:.3f} 处交叉验证（袋外）精确率 {m['score_only_oof_precision']:.3f}、"
        f"召回率 {m['score_only_oof_recall']:.3f}",
        "  各来源召回率："
        + "，".join(f"{k} {v:.3f}" for k, v in m["score_only_oof_recall_by_source"].items()),
        f"  其中模型单独登记（规则判闲聊、没有框架排除、由模型单独决定的消息）{m['score_only_alone_filed']} 条，"
        f"精确率 {m['score_only_alone_precision']:.3f}",
        auto,
        f"复核阈值 {cal.review:.3f}：LCCC 留出部分超过 {m['heldout_lccc_rate_above_review']:.2%}"
        f"（袋外 {m['oof_lccc_rate_above_review']:.2%}），语料闲聊（袋外）超过 "
        f"{m['oof_corpus_chatter_rate_above_review']:.1%}，语料隐患召回 {m['oof_corpus_recall_at_review']:.3f}",
        f"类别（袋外）准确率 {m['oof_category_accuracy']}，重大/一般（袋外）准确率 {m['oof_major_accuracy']}",
    ]


def _recall_by_source(data: Sequence[Example], scores: Sequence[float], threshold: float) -> dict[str, float]:
    """Out-of-fold recall at ``threshold`` of each source's reports."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for ex, score in zip(data, scores, strict=True):
        if ex.report:
            total[ex.source] += 1
            found[ex.source] += score >= threshold
    return {src: round(found[src] / n, 4) for src, n in sorted(total.items())}


def _balanced(y: Any) -> Any:
    import numpy as np

    counts = np.bincount(y, minlength=2).astype(float)
    return np.where(y == 1, len(y) / (2 * counts[1]), len(y) / (2 * counts[0]))


def _head_oof_accuracy(
    texts: Sequence[str],
    rows: Sequence[int],
    labels: Sequence[str],
    folds: int,
    seed: int,
    features: tuple[int, int, int],
    c: float,
) -> float | None:
    """Out-of-fold accuracy of a head over reports (category, or major/general), or None when there are too
    few labeled reports. ``features`` is (low, high, min_count)."""
    low, high, min_count = features
    counts = Counter(labels)
    usable = [k for k, label in enumerate(labels) if counts[label] >= 2]
    if len({labels[k] for k in usable}) < 2:
        return None
    sub_texts = [texts[rows[k]] for k in usable]
    sub_labels = [labels[k] for k in usable]
    right = 0
    for tr, te in _folds(sub_labels, folds, seed):
        vocab = build_vocabulary([sub_texts[i] for i in tr], low, high, min_count)
        x = feature_matrix(sub_texts, vocab, low, high)
        tr_labels = [sub_labels[i] for i in tr]
        if len(set(tr_labels)) < 2:
            continue
        pred = _fit_category(x[tr], tr_labels, c).predict(x[te])
        right += sum(p == sub_labels[i] for p, i in zip(pred, te, strict=True))
    return round(right / len(sub_labels), 4)


def _score_plain(model: Any, vocab: Sequence[str], texts: Sequence[str], low: int, high: int) -> list[float]:
    if not texts:
        return []
    return [float(p) for p in model.predict_proba(feature_matrix(texts, vocab, low, high))[:, 1]]


def _round(values: Iterable[float]) -> list[float]:
    return [round(float(v), 4) + 0.0 for v in values]


def _artifact(
    vocab: list[str],
    low: int,
    high: int,
    report: Any,
    category: Any,
    classes: list[str],
    major: Any,
    auto: float,
    review: float,
    trained_on: dict[str, int],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """Assemble the JSON artifact: the whole vocabulary (every in-vocabulary n-gram counts in a row's norm),
    dense report and major weights, and sparse category weights."""
    import numpy as np

    n = len(vocab)
    report_w = np.round(report.coef_[0], 4)
    if category is not None:
        cat_w = np.round(category.coef_.T, 4)  # (features, classes); binary sklearn gives one column
        cat_b = category.intercept_
        if len(classes) == 2:
            cat_w = np.hstack([-cat_w / 2, cat_w / 2])
            cat_b = np.array([-cat_b[0] / 2, cat_b[0] / 2])
    else:
        cat_w, cat_b = np.zeros((n, len(classes))), np.zeros(len(classes))
    major_w = np.round(major.coef_[0], 4) if major is not None else np.zeros(n)
    major_b = float(major.intercept_[0]) if major is not None else 0.0
    digest = hashlib.sha256("\n".join(vocab).encode()).hexdigest()[:8]
    return {
        "format": FORMAT,
        "version": f"{datetime.now(UTC):%Y%m%d}-{digest}",
        "ngram": [low, high],
        "thresholds": {"auto": round(auto, 4), "review": round(review, 4)},
        "trained_on": trained_on,
        "metrics": metrics,
        "vocabulary": vocab,
        "heads": {
            "report": {"bias": round(float(report.intercept_[0]), 4), "weights": _round(report_w)},
            "major": {"bias": round(major_b, 4), "weights": _round(major_w)},
            "category": {
                "classes": classes,
                "bias": _round(cat_b),
                # sparse: only features seen in labeled reports carry category weights
                "weights": {f: _round(row) for f, row in zip(vocab, cat_w, strict=True) if row.any()},
            },
        },
    }


def write_artifact(artifact: dict[str, Any], path: Path) -> TextModel:
    """Write the artifact as gzip-compressed JSON (byte-stable for the same content) and load it back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(artifact, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with path.open("wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    return TextModel.load(path)
