"""A small linear text model, the classifier's statistical second opinion, evaluated in plain Python.

The artifact (gzip-compressed JSON written by ``handlers.model_training``) holds a vocabulary of character
n-grams and three logistic heads over the same binary, L2-normalised features: *report* (hazard or tip
versus chatter), *category* (one of :data:`CATEGORIES`, softmax) and *major* (severity of a report).
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from handlers.rules import CATEGORIES
from handlers.startup_cache import cached

__all__ = ["DEFAULT_MODEL", "FORMAT", "TextModel", "load_model", "ngrams"]

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "model.json.gz"
FORMAT = "anquan-text-model/1"


def ngrams(text: str, low: int = 1, high: int = 3) -> set[str]:
    """Return the distinct character n-grams (``low``..``high`` characters) of an already-normalised text."""
    size = len(text)
    return {text[i : i + n] for n in range(low, high + 1) for i in range(size - n + 1)}


# a weight row's report and major weights (its category weights follow them)
_REPORT, _MAJOR = itemgetter(0), itemgetter(1)


def _sigmoid(z: float) -> float:
    # clamped, so a probability never reaches exactly 1.0: an auto threshold of 1.0 means "never"
    z = max(-30.0, min(30.0, z))
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class TextModel:
    """A loaded artifact: three linear heads over character n-grams, plus the thresholds calibrated for them."""

    version: str
    low: int
    high: int
    auto_threshold: float
    review_threshold: float
    trained_on: dict[str, int]
    metrics: dict[str, Any]
    # feature -> its weights in every head, for every vocabulary feature (so the keys are the vocabulary):
    # (report, major, category class 0, class 1, …); one dictionary lookup per n-gram serves all three heads
    weights: dict[str, tuple[float, ...]] = field(repr=False)
    report_bias: float
    major_bias: float
    category_classes: tuple[str, ...]
    category_bias: tuple[float, ...]
    # the last message's weight rows, shared by score, category and major (a tuple swap is thread-safe)
    _last: list[tuple[str, list[tuple[float, ...]]] | None] = field(
        default_factory=lambda: [None], init=False, repr=False, compare=False
    )

    @classmethod
    def load(cls, path: Path | str) -> TextModel:
        """Read a gzip-compressed JSON artifact; raise ValueError (Chinese, naming the file) when it is unusable.

        The built weights are kept in the start-up cache (:mod:`handlers.startup_cache`), keyed by the file's
        bytes, so later runs skip decompressing and decoding it."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise ValueError(f"找不到识别模型文件：{path}") from exc
        except OSError as exc:
            raise ValueError(f"识别模型文件 {path} 不是有效的 gzip 压缩 JSON：{exc}") from exc

        def build() -> dict[str, Any]:
            try:
                data = json.loads(gzip.decompress(raw).decode("utf-8"))
            except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"识别模型文件 {path} 不是有效的 gzip 压缩 JSON：{exc}") from exc
            try:
                return cls._fields_from_json(data)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise ValueError(f"识别模型文件 {path} 内容不完整或格式不对：{exc!r}") from exc

        return cls(**cached("model-rows", [raw], build))

    @staticmethod
    def _fields_from_json(data: Any) -> dict[str, Any]:
        """The constructor's fields from a decoded artifact, checked (raises on anything inconsistent)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        vocab = [str(f) for f in data["vocabulary"]]
        if len(set(vocab)) != len(vocab):
            raise ValueError("duplicate features in the vocabulary")

        def head_weights(head: dict[str, Any]) -> list[float]:
            weights = [float(w) for w in head["weights"]]
            if len(weights) != len(vocab):
                raise ValueError("a head's weights do not match the vocabulary")
            return weights

        heads = data["heads"]
        report, major, category = heads["report"], heads["major"], heads["category"]
        classes = tuple(str(c) for c in category["classes"])
        if set(classes) - set(CATEGORIES) or not classes:
            raise ValueError(f"unknown categories {sorted(set(classes) - set(CATEGORIES))}")

        report_w, major_w = head_weights(report), head_weights(major)
        rows = {str(f): tuple(float(w) for w in row) for f, row in category["weights"].items()}
        if any(len(r) != len(classes) for r in rows.values()) or not rows.keys() <= set(vocab):
            raise ValueError("the category weights do not match the vocabulary and classes")
        bias = tuple(float(b) for b in category["bias"])
        if len(bias) != len(classes):
            raise ValueError("the category bias does not match the classes")
        zero = 0.0  # one float object for every absent weight, so the start-up cache stores it once
        no_category = (zero,) * len(classes)
        weights = {
            f: (r if r else zero, m if m else zero, *rows.get(f, no_category))
            for f, r, m in zip(vocab, report_w, major_w, strict=True)
        }
        low, high = int(data["ngram"][0]), int(data["ngram"][1])
        if not 1 <= low <= high <= 6:
            raise ValueError(f"bad n-gram range {low}..{high}")
        return dict(
            version=str(data["version"]),
            low=low,
            high=high,
            auto_threshold=float(data["thresholds"]["auto"]),
            review_threshold=float(data["thresholds"]["review"]),
            trained_on={str(k): int(v) for k, v in data["trained_on"].items()},
            metrics=dict(data.get("metrics", {})),
            weights=weights,
            report_bias=float(report["bias"]),
            major_bias=float(major["bias"]),
            category_classes=classes,
            category_bias=bias,
        )

    def features(self, text: str) -> list[str]:
        """Return the text's n-grams that are in the model's vocabulary (the active binary features)."""
        weights = self.weights
        return [g for g in ngrams(text, self.low, self.high) if g in weights]

    def _rows(self, text: str) -> list[tuple[float, ...]]:
        """The weight rows of the text's active features, remembered for the last text: the classifier asks
        score, category and major about the same message in a row."""
        last = self._last[0]
        if last is not None and last[0] == text:
            return last[1]
        rows = [row for row in map(self.weights.get, ngrams(text, self.low, self.high)) if row is not None]
        self._last[0] = (text, rows)
        return rows

    def score(self, text: str) -> float:
        """Probability that the (already normalised) message is a report: a hazard or a tip."""
        rows = self._rows(text)
        if not rows:
            return _sigmoid(self.report_bias)
        return _sigmoid(self.report_bias + sum(map(_REPORT, rows)) / math.sqrt(len(rows)))

    def major(self, text: str) -> float:
        """Probability that a report with this (already normalised) text is a major hazard."""
        rows = self._rows(text)
        if not rows:
            return _sigmoid(self.major_bias)
        return _sigmoid(self.major_bias + sum(map(_MAJOR, rows)) / math.sqrt(len(rows)))

    def category(self, text: str) -> tuple[str, float]:
        """The most likely category of a report with this (already normalised) text, and its probability."""
        rows = self._rows(text)
        sums = list(self.category_bias)
        if rows:
            scale = 1.0 / math.sqrt(len(rows))
            columns = list(zip(*rows, strict=True))[2:]
            sums = [b + total * scale for b, total in zip(sums, map(sum, columns), strict=True)]
        top = max(sums)
        exps = [math.exp(s - top) for s in sums]
        best = max(range(len(sums)), key=sums.__getitem__)
        return self.category_classes[best], exps[best] / sum(exps)


def load_model(path: Path | None = None) -> TextModel:
    """Load a township's retrained artifact, or the shipped one when ``path`` is None.

    Raises ValueError with a Chinese message naming the file when it is missing or malformed.
    """
    return TextModel.load(path if path is not None else DEFAULT_MODEL)
