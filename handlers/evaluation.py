"""Scoring the classifier against gold-labelled lines: the metrics of the project's evaluation script plus
review-aware ones, per-rule error counts, and reading corpora (JSONL, TSV) from lines of text without any I/O.

A line is *filed* when its intent is hazard or tip; a line is *reached* when it is filed or sent to the
officials' review queue (``review`` true). Lines without gold labels count as chatter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

__all__ = [
    "METRIC_KEYS",
    "POSITIVE",
    "CorpusError",
    "Error",
    "GoldRow",
    "Prediction",
    "RuleStats",
    "Tally",
    "errors_of",
    "prediction_from_json",
    "rows_from_jsonl",
    "rows_from_tsv",
    "rule_stats",
    "tally",
]

POSITIVE = frozenset({"hazard", "tip"})
CHATS = ("group", "private")
LABELS = ("category", "severity", "location")

# The metrics in report order; the first eleven are those of ../shared/tools/eval_parse.py.
METRIC_KEYS = (
    "n",
    "detect_precision",
    "detect_recall",
    "detect_f1",
    "false_positive_rate",
    "tip_precision",
    "tip_recall",
    "category_accuracy",
    "severity_accuracy",
    "major_recall",
    "location_accuracy",
    "reach",
    "review_rate",
    "chatter_reach",
    "major_reach",
    "emergency_recall",
)


class CorpusError(ValueError):
    """A corpus line that cannot be read; the message is Chinese and names the line."""


class Prediction(Protocol):
    """What the scoring reads from a verdict (``handlers.classifier.Classification`` has it all)."""

    @property
    def intent(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def location(self) -> str | None: ...
    @property
    def review(self) -> bool: ...


@dataclass(frozen=True)
class GoldRow:
    """One corpus line with its gold labels; ``known`` names the labels the corpus gives (a label that is
    absent is not scored, which is different from a label that is given as null)."""

    text: str
    chat: str = "group"
    intent: str = "chatter"
    category: str | None = None
    severity: str | None = None
    location: str | None = None
    known: frozenset[str] = frozenset()
    register: str | None = (
        None  # the corpus's kind of message, e.g. "emergency" (fire spreading, people trapped)
    )

    @property
    def positive(self) -> bool:
        """True when the line should be filed (hazard or tip)."""
        return self.intent in POSITIVE

    def gold_json(self) -> dict[str, Any]:
        """The gold labels as shown next to a wrong verdict."""
        return {"intent": self.intent, "category": self.category, "severity": self.severity}


@dataclass(frozen=True)
class _Verdict:
    """A verdict rebuilt from its JSON form (the ``classification`` of an explanation)."""

    intent: str
    category: str | None
    severity: str | None
    location: str | None
    review: bool


def prediction_from_json(data: Mapping[str, Any]) -> Prediction:
    """Rebuild the scored part of a verdict from its ``to_json()`` dict."""
    return _Verdict(
        str(data.get("intent", "chatter")),
        data.get("category"),
        data.get("severity"),
        data.get("location"),
        bool(data.get("review", False)),
    )


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


@dataclass
class Tally:
    """The counts behind the metrics; tallies of several corpora add up to the tally of their union."""

    n: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    tip_tp: int = 0
    tip_fp: int = 0
    tip_fn: int = 0
    cat_ok: int = 0
    cat_n: int = 0
    sev_ok: int = 0
    sev_n: int = 0
    major_tp: int = 0
    major_fn: int = 0
    loc_ok: int = 0
    loc_n: int = 0
    positives: int = 0
    positives_reached: int = 0
    chatter: int = 0
    chatter_reached: int = 0
    reviewed: int = 0
    majors: int = 0
    majors_reached: int = 0
    emergencies: int = 0
    emergencies_filed: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def add(self, row: GoldRow, pred: Prediction) -> None:
        """Count one line (the same rules as ``eval_parse.py`` plus the review-aware counts)."""
        self.n += 1
        g_pos, p_pos = row.positive, pred.intent in POSITIVE
        reached = p_pos or pred.review
        if g_pos and p_pos:
            self.tp += 1
        elif p_pos:
            self.fp += 1
        elif g_pos:
            self.fn += 1
        else:
            self.tn += 1
        if row.intent == "tip" and pred.intent == "tip":
            self.tip_tp += 1
        elif pred.intent == "tip":
            self.tip_fp += 1
        elif row.intent == "tip":
            self.tip_fn += 1
        if g_pos and p_pos:
            if "category" in row.known:
                self.cat_n += 1
                self.cat_ok += pred.category == row.category
            if "severity" in row.known:
                self.sev_n += 1
                self.sev_ok += pred.severity == row.severity
                if row.severity == "major":
                    self.major_tp += pred.severity == "major"
                    self.major_fn += pred.severity != "major"
        if g_pos and "location" in row.known and (row.location or pred.location):
            self.loc_n += 1
            self.loc_ok += (pred.location or None) == (row.location or None)
        self.reviewed += pred.review
        if g_pos:
            self.positives += 1
            self.positives_reached += reached
            if "severity" in row.known and row.severity == "major":
                # a major hazard must reach an official as major, filed or in review; misses count too
                self.majors += 1
                self.majors_reached += reached and pred.severity == "major"
            if row.register == "emergency":
                # an emergency cannot wait in the review queue: it must be filed at once, as major
                self.emergencies += 1
                self.emergencies_filed += p_pos and pred.severity == "major"
        else:
            self.chatter += 1
            self.chatter_reached += reached

    def fractions(self) -> dict[str, tuple[int, int]]:
        """Return each ratio metric as (numerator, denominator), for showing how many lines it rests on."""
        return {
            "detect_precision": (self.tp, self.tp + self.fp),
            "detect_recall": (self.tp, self.tp + self.fn),
            "false_positive_rate": (self.fp, self.fp + self.tn),
            "tip_precision": (self.tip_tp, self.tip_tp + self.tip_fp),
            "tip_recall": (self.tip_tp, self.tip_tp + self.tip_fn),
            "category_accuracy": (self.cat_ok, self.cat_n),
            "severity_accuracy": (self.sev_ok, self.sev_n),
            "major_recall": (self.major_tp, self.major_tp + self.major_fn),
            "location_accuracy": (self.loc_ok, self.loc_n),
            "reach": (self.positives_reached, self.positives),
            "review_rate": (self.reviewed, self.n),
            "chatter_reach": (self.chatter_reached, self.chatter),
            "major_reach": (self.majors_reached, self.majors),
            "emergency_recall": (self.emergencies_filed, self.emergencies),
        }

    def metrics(self) -> dict[str, float | int]:
        """Return the metrics in :data:`METRIC_KEYS` order (NaN where the denominator is zero)."""
        m: dict[str, float | int] = {"n": self.n}
        for key, (num, den) in self.fractions().items():
            m[key] = _ratio(num, den)
        p, r = m["detect_precision"], m["detect_recall"]
        m["detect_f1"] = 2 * p * r / (p + r) if p + r else 0.0  # NaN stays NaN, as in eval_parse.py
        return {k: m[k] for k in METRIC_KEYS}


def tally(rows: Sequence[GoldRow], preds: Sequence[Prediction]) -> Tally:
    """Count a corpus and the verdicts on it (same order, same length)."""
    if len(rows) != len(preds):
        raise ValueError(f"{len(rows)} gold rows but {len(preds)} verdicts")
    t = Tally()
    for row, pred in zip(rows, preds, strict=True):
        t.add(row, pred)
    return t


@dataclass(frozen=True)
class Error:
    """A wrong verdict: ``kind`` is false_positive (filed chatter), miss (a report not filed) or category."""

    row: GoldRow
    pred: Prediction
    kind: str

    def to_json(self) -> dict[str, Any]:
        """The error as one JSON-ready line: the text, the gold labels and what the classifier said."""
        p = self.pred
        return {
            "text": self.row.text,
            "error": self.kind,
            "gold": self.row.gold_json(),
            "got": {"intent": p.intent, "category": p.category, "severity": p.severity, "review": p.review},
        }


def _error_kind(row: GoldRow, pred: Prediction) -> str | None:
    g_pos, p_pos = row.positive, pred.intent in POSITIVE
    if p_pos and not g_pos:
        return "false_positive"
    if g_pos and not p_pos:
        return "miss"
    if g_pos and "category" in row.known and pred.category != row.category:
        return "category"
    return None


def errors_of(rows: Sequence[GoldRow], preds: Sequence[Prediction]) -> list[Error]:
    """Return the wrong verdicts in corpus order (the lines eval_parse.py shows with ``--show-errors``)."""
    out: list[Error] = []
    for row, pred in zip(rows, preds, strict=True):
        kind = _error_kind(row, pred)
        if kind:
            out.append(Error(row, pred, kind))
    return out


@dataclass
class RuleStats:
    """How one rule fared: the lines it fired on and, of those, the wrong ones by kind."""

    rule: str
    fired: int = 0
    false_positives: int = 0
    misses: int = 0
    wrong_category: int = 0
    reviewed: int = 0  # lines sent to the review queue: not errors, but work for the officials
    examples: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Lines the rule fired on whose verdict was wrong."""
        return self.false_positives + self.misses + self.wrong_category

    def to_json(self) -> dict[str, Any]:
        """The rule's counts as a JSON-ready dict."""
        return {
            "rule": self.rule,
            "fired": self.fired,
            "errors": self.errors,
            "false_positives": self.false_positives,
            "misses": self.misses,
            "wrong_category": self.wrong_category,
            "reviewed": self.reviewed,
        }


def rule_stats(
    rows: Sequence[GoldRow], explanations: Sequence[Mapping[str, Any]], examples: int = 0
) -> list[RuleStats]:
    """Count, per rule named in the explanations' hits, the lines it fired on and the errors among them
    (a rule counts once per line however often it hit); keep up to ``examples`` wrong texts per rule.
    Sorted by errors, then lines fired, most first."""
    stats: dict[str, RuleStats] = {}
    for row, exp in zip(rows, explanations, strict=True):
        pred = prediction_from_json(exp.get("classification", {}))
        kind = _error_kind(row, pred)
        for rule in dict.fromkeys(str(h.get("rule") or "?") for h in exp.get("hits", ())):
            s = stats.setdefault(rule, RuleStats(rule))
            s.fired += 1
            s.reviewed += pred.review
            if kind == "false_positive":
                s.false_positives += 1
            elif kind == "miss":
                s.misses += 1
            elif kind == "category":
                s.wrong_category += 1
            if kind and len(s.examples) < examples:
                s.examples.append(row.text)
    return sorted(stats.values(), key=lambda s: (-s.errors, -s.fired, s.rule))


# ---- reading corpora -------------------------------------------------------------------------------------


def _check_choice(value: Any, choices: Iterable[str | None], what: str, lineno: int) -> None:
    allowed = tuple(choices)
    if value not in allowed:
        shown = "、".join("null" if c is None else c for c in allowed)
        raise CorpusError(f"第 {lineno} 行：{what} 应是 {shown} 之一，实际是 {value!r}")


def row_from_mapping(obj: Mapping[str, Any], lineno: int = 0) -> GoldRow:
    """Build a gold row from a corpus object (``text`` required; ``chat``, ``intent``, ``category``,
    ``severity``, ``location`` optional; an absent ``intent`` means chatter)."""
    text = obj.get("text")
    if not isinstance(text, str):
        raise CorpusError(f"第 {lineno} 行：缺少文字字段 text")
    chat = obj.get("chat") or "group"
    _check_choice(chat, CHATS, "chat", lineno)
    intent = obj.get("intent") or "chatter"
    _check_choice(intent, ("hazard", "tip", "chatter", "command"), "intent", lineno)
    severity = obj.get("severity")
    _check_choice(severity, ("major", "general", None), "severity", lineno)
    return GoldRow(
        text=text,
        chat=chat,
        intent=intent,
        category=obj.get("category"),
        severity=severity,
        location=obj.get("location"),
        known=frozenset(k for k in LABELS if k in obj),
        register=obj.get("register") or None,
    )


def rows_from_jsonl(lines: Iterable[str]) -> list[GoldRow]:
    """Read a JSONL corpus (one object per line, blank lines skipped); raise :class:`CorpusError` naming
    the first bad line."""
    rows: list[GoldRow] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"第 {lineno} 行：不是合法的 JSON（{exc.msg}）") from exc
        if not isinstance(obj, dict):
            raise CorpusError(f"第 {lineno} 行：不是 JSON 对象")
        rows.append(row_from_mapping(obj, lineno))
    return rows


def rows_from_tsv(lines: Iterable[str]) -> list[GoldRow]:
    """Read a TSV corpus whose header has a ``text`` column; other columns named like the JSONL keys are
    gold labels. A header with ``industry`` marks the official major-hazard criteria: every line is a
    major hazard in a group chat with its category unknown (only detection and severity are scored)."""
    it = iter(lines)
    header_line = next(it, "")
    header = [h.strip() for h in header_line.rstrip("\r\n").split("\t")]
    if "text" not in header:
        raise CorpusError("第 1 行：TSV 的表头里没有 text 列")
    criteria = "industry" in header
    labelled = [k for k in ("chat", "intent", "register", *LABELS) if k in header and not criteria]
    rows: list[GoldRow] = []
    for lineno, line in enumerate(it, 2):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        cells = dict(zip(header, line.split("\t"), strict=False))
        if criteria:
            rows.append(
                GoldRow(
                    cells.get("text", ""), "group", "hazard", None, "major", None, frozenset({"severity"})
                )
            )
            continue
        obj: dict[str, Any] = {"text": cells.get("text", "")}
        obj |= {k: (cells.get(k) or None) for k in labelled}
        rows.append(row_from_mapping(obj, lineno))
    return rows
