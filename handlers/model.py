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
from itertools import repeat
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
    # feature -> weight of the report head (every vocabulary feature, so it is the vocabulary too) / of the
    # major head (non-zero only); feature -> per-class weights of the category head (non-zero rows only)
    report_weights: dict[str, float] = field(repr=False)
    report_bias: float
    major_weights: dict[str, float] = field(repr=False)
    major_bias: float
    category_classes: tuple[str, ...]
    category_weights: dict[str, tuple[float, ...]] = field(repr=False)
    category_bias: tuple[float, ...]
    # the last message's active features, shared by category and major (a tuple swap is thread-safe)
    _last: list[tuple[str, list[str]] | None] = field(
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

        return cls(**cached("model", [raw], build))

    @staticmethod
    def _fields_from_json(data: Any) -> dict[str, Any]:
        """The constructor's fields from a decoded artifact, checked (raises on anything inconsistent)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        vocab = [str(f) for f in data["vocabulary"]]
        if len(set(vocab)) != len(vocab):
            raise ValueError("duplicate features in the vocabulary")
        heads = data["heads"]
        report, major, category = heads["report"], heads["major"], heads["category"]
        classes = tuple(str(c) for c in category["classes"])
        if set(classes) - set(CATEGORIES) or not classes:
            raise ValueError(f"unknown categories {sorted(set(classes) - set(CATEGORIES))}")

        def dense(head: dict[str, Any], keep_zeros: bool) -> dict[str, float]:
            weights = head["weights"]
            if len(weights) != len(vocab):
                raise ValueError("a head's weights do not match the vocabulary")
            return {f: float(w) for f, w in zip(vocab, weights, strict=True) if w or keep_zeros}

        rows = {str(f): tuple(float(w) for w in row) for f, row in category["weights"].items()}
        if any(len(r) != len(classes) for r in rows.values()) or not rows.keys() <= set(vocab):
            raise ValueError("the category weights do not match the vocabulary and classes")
        bias = tuple(float(b) for b in category["bias"])
        if len(bias) != len(classes):
            raise ValueError("the category bias does not match the classes")
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
            report_weights=dense(report, keep_zeros=True),
            report_bias=float(report["bias"]),
            major_weights=dense(major, keep_zeros=False),
            major_bias=float(major["bias"]),
            category_classes=classes,
            category_weights=rows,
            category_bias=bias,
        )

    def features(self, text: str) -> list[str]:
        """Return the text's n-grams that are in the model's vocabulary (the active binary features)."""
        cached = self._last[0]
        if cached is not None and cached[0] == text:
            return cached[1]
        weights = self.report_weights
        feats = [g for g in ngrams(text, self.low, self.high) if g in weights]
        self._last[0] = (text, feats)  # category and major usually ask about the same message in a row
        return feats

    @staticmethod
    def _linear(feats: list[str], weights: dict[str, float], bias: float) -> float:
        if not feats:
            return bias
        return bias + sum(map(weights.get, feats, repeat(0.0, len(feats)))) / math.sqrt(len(feats))

    def score(self, text: str) -> float:
        """Probability that the (already normalised) message is a report: a hazard or a tip."""
        # the hot path (asked of most messages): one dictionary lookup per n-gram, no feature list kept
        found = [w for w in map(self.report_weights.get, ngrams(text, self.low, self.high)) if w is not None]
        if not found:
            return _sigmoid(self.report_bias)
        return _sigmoid(self.report_bias + sum(found) / math.sqrt(len(found)))

    def major(self, text: str) -> float:
        """Probability that a report with this (already normalised) text is a major hazard."""
        return _sigmoid(self._linear(self.features(text), self.major_weights, self.major_bias))

    def category(self, text: str) -> tuple[str, float]:
        """The most likely category of a report with this (already normalised) text, and its probability."""
        feats = self.features(text)
        sums = list(self.category_bias)
        rows = [row for row in map(self.category_weights.get, feats) if row is not None]
        if rows:
            scale = 1.0 / math.sqrt(len(feats))
            sums = [
                b + total * scale for b, total in zip(sums, map(sum, zip(*rows, strict=True)), strict=True)
            ]
        top = max(sums)
        exps = [math.exp(s - top) for s in sums]
        best = max(range(len(sums)), key=sums.__getitem__)
        return self.category_classes[best], exps[best] / sum(exps)


def load_model(path: Path | None = None) -> TextModel:
    """Load a township's retrained artifact, or the shipped one when ``path`` is None.

    Raises ValueError with a Chinese message naming the file when it is missing or malformed.
    """
    return TextModel.load(path if path is not None else DEFAULT_MODEL)
