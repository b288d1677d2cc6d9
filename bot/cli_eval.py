"""``anquan eval``: score the classifier in-process against labelled corpora (JSONL or TSV) or the township's
own corrections, with per-rule error counts for the people who keep ``rules.toml``.

Attached to the main command group in ``bot/cli.py`` with ``main.add_command(eval_command)``.
"""

from __future__ import annotations

import json
import math
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli_common import data_files, load_settings, open_db
from bot.config import Settings
from handlers.evaluation import (
    METRIC_KEYS,
    CorpusError,
    Error,
    GoldRow,
    Prediction,
    RuleStats,
    Tally,
    errors_of,
    prediction_from_json,
    rows_from_jsonl,
    rows_from_tsv,
    rule_stats,
    tally,
)

if TYPE_CHECKING:
    from handlers.classifier import Classifier

METRIC_LABELS = {
    "n": "条数",
    "detect_precision": "检出精确率",
    "detect_recall": "检出召回率",
    "detect_f1": "检出 F1",
    "false_positive_rate": "闲聊误报率",
    "tip_precision": "举报精确率",
    "tip_recall": "举报召回率",
    "category_accuracy": "类别准确率",
    "severity_accuracy": "等级准确率",
    "major_recall": "重大召回率（已检出的）",
    "location_accuracy": "地点准确率",
    "reach": "送达率（登记或复核）",
    "review_rate": "送复核比例",
    "chatter_reach": "闲聊打扰率（登记或复核）",
    "major_reach": "重大送达率（登记或复核为重大）",
    "emergency_recall": "紧急情况立即登记为重大的比例",
}
ERROR_LABELS = {"false_positive": "误报", "miss": "漏报", "category": "类别错"}
CORRECTIONS_NAME = "纠正记录"
TOTAL_NAME = "合计"


def load_classifier(settings: Settings) -> Classifier:
    """Load the classifier in force (bot.datafiles) once with the town profile's place names, or a Chinese error."""
    from handlers.profile import ProfileError

    files = data_files(settings)
    try:
        return files.load_classifier(files.load_profile().place_names())
    except (ProfileError, ValueError) as exc:
        raise click.ClickException(f"识别器加载失败：{exc}") from exc


@dataclass
class Block:
    """One scored corpus: its rows, the verdicts, the explanations (with ``--by-rule``) and the time taken."""

    name: str
    rows: list[GoldRow]
    preds: list[Prediction] = field(default_factory=list)
    explanations: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def read_corpus(path: Path) -> list[GoldRow]:
    """Read a corpus file: ``.tsv`` files by their header, everything else as JSONL."""
    try:
        with path.open(encoding="utf-8") as f:
            return rows_from_tsv(f) if path.suffix.lower() == ".tsv" else rows_from_jsonl(f)
    except CorpusError as exc:
        raise click.ClickException(f"{path}：{exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"无法读取 {path}：{exc}") from exc


def read_corrections(settings: Settings) -> list[GoldRow]:
    """The township's corrections in the configured database as gold rows."""
    try:
        from storage.corrections import list_corrections
    except ImportError as exc:
        raise click.ClickException("这个版本还没有纠正记录（storage.corrections）") from exc
    db = open_db(settings)
    try:
        with db.sessions() as session:
            return [
                GoldRow(
                    text=c.text,
                    chat=c.chat if c.chat in ("group", "private") else "group",
                    intent=c.intent,
                    category=c.category,
                    severity=c.severity,
                    known=frozenset({"category", "severity"}),
                )
                for c in list_corrections(session)
            ]
    finally:
        db.engine.dispose()


def _run(classifier: Classifier, block: Block, by_rule: bool) -> None:
    """Classify (or explain) every row of the block, timing the whole pass."""
    t0 = time.perf_counter()
    if by_rule:
        for row in block.rows:
            exp = classifier.explain(row.text, chat=row.chat)
            block.explanations.append(exp)
            block.preds.append(prediction_from_json(exp["classification"]))
    else:
        block.preds = [classifier.classify(row.text, row.chat) for row in block.rows]
    block.seconds = time.perf_counter() - t0


def _number(value: float | int) -> float | int | None:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def _fmt(value: float | int) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _error_line(err: Error) -> str:
    row, p = err.row, err.pred
    got = f"{p.intent}/{p.category or '-'}/{p.severity or '-'}" + ("（送复核）" if p.review else "")
    gold = f"{row.intent}/{row.category or '-'}/{row.severity or '-'}"
    return f"  ✗ {ERROR_LABELS[err.kind]}：{row.text}\n      标准 {gold} → 结果 {got}"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cells(first: str, numbers: Sequence[object]) -> str:
    """One table row: the rule padded to 32 columns, then right-aligned 8-column cells (CJK counts double)."""
    row = "  " + first + " " * max(1, 32 - _width(first))
    return row + "".join(" " * max(1, 8 - _width(str(n))) + str(n) for n in numbers)


def _rule_lines(stats: Sequence[RuleStats]) -> list[str]:
    lines = [_cells("规则", ["命中条数", "错误", "误报", "漏报", "类别错", "送复核"])]
    for s in stats:
        lines.append(
            _cells(s.rule, [s.fired, s.errors, s.false_positives, s.misses, s.wrong_category, s.reviewed])
        )
        lines.extend(f"      例：{text}" for text in s.examples)
    return lines


def _report(
    name: str,
    counts: Tally,
    seconds: float,
    errors: list[Error],
    stats: list[RuleStats] | None,
    as_json: bool,
) -> None:
    metrics = counts.metrics()
    rate = counts.n / seconds if seconds > 0 else math.nan
    if as_json:
        out: dict[str, Any] = {"corpus": name}
        out |= {k: _number(metrics[k]) for k in METRIC_KEYS}
        out |= {"seconds": round(seconds, 3), "messages_per_second": _number(rate)}
        if errors:
            out["errors"] = [e.to_json() for e in errors]
        if stats is not None:
            out["by_rule"] = [s.to_json() for s in stats]
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    shown_rate = "—" if math.isnan(rate) else f"{rate:,.0f}"
    click.echo(f"== {name}（{counts.n} 条，{seconds:.2f} 秒，每秒 {shown_rate} 条）==")
    fractions = counts.fractions()
    for key in METRIC_KEYS[1:]:
        num, den = fractions.get(key, (None, None))
        share = f"{num}/{den}" if den is not None else ""
        click.echo(f"  {key:20s} {_fmt(metrics[key]):>6}  {share:>13}  {METRIC_LABELS[key]}")
    if errors:
        click.echo(f"  前 {len(errors)} 条错误：")
        for err in errors:
            click.echo(_error_line(err))
    if stats is not None:
        click.echo("  按规则（命中该规则的条数、其中识别错的条数、送复核的条数）：")
        for line in _rule_lines(stats):
            click.echo(line)


@click.command("eval")
@click.argument("corpora", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="每个语料输出一行 JSON（多个语料另加一行合计）")
@click.option("--show-errors", type=click.IntRange(0), default=0, metavar="N", help="列出前 N 条识别错的消息")
@click.option("--by-rule", is_flag=True, help="按规则统计命中条数和其中的错误（误报、漏报、类别错）")
@click.option("--corrections", is_flag=True, help="另用数据库里干部的纠正记录作标准答案打分")
def eval_command(
    corpora: tuple[Path, ...], as_json: bool, show_errors: int, by_rule: bool, corrections: bool
) -> None:
    """给识别器打分：CORPUS 是带标准答案的 JSONL 语料，或表头含 text 列的 TSV（没有标注的行算闲聊）。

    指标与 eval_parse.py 相同（检出精确率、召回率、F1、误报率、举报、类别、等级、重大召回、地点），
    另加复核相关指标：reach（该报的被登记或送复核的比例）、review_rate、chatter_reach、major_reach，
    以及 register 为 emergency 的行立即登记为重大的比例 emergency_recall。
    """
    if not corpora and not corrections:
        raise click.UsageError("请给出至少一个语料文件，或加 --corrections")
    settings = load_settings()
    blocks = [Block(str(path), read_corpus(path)) for path in corpora]
    if corrections:
        blocks.append(Block(CORRECTIONS_NAME, read_corrections(settings)))
    classifier = load_classifier(settings)
    if by_rule and not hasattr(classifier, "explain"):
        raise click.ClickException("这个版本的识别器还不能逐条解释（Classifier.explain），无法按规则统计")
    total = Tally()
    for block in blocks:
        _run(classifier, block, by_rule)
        counts = tally(block.rows, block.preds)
        errors = errors_of(block.rows, block.preds)
        stats = rule_stats(block.rows, block.explanations, examples=2) if by_rule else None
        _report(block.name, counts, block.seconds, errors[:show_errors], stats, as_json)
        total += counts
    if len(blocks) > 1:
        stats = None
        if by_rule:
            stats = rule_stats(
                [r for b in blocks for r in b.rows], [e for b in blocks for e in b.explanations]
            )
        _report(TOTAL_NAME, total, sum(b.seconds for b in blocks), [], stats, as_json)
