"""``anquan explain "<text>"``: show, line by line in Chinese, how the classifier decides one message (the
normalised text, jieba tokens, each keyword or pattern hit with its roles and rule, the frames, the model
score and the verdict with its reason).

Attached to the main command group in ``bot/cli.py`` with ``main.add_command(explain)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from bot.cli_common import data_files, load_settings
from bot.cli_eval import load_classifier

INTENT_LABELS = {"hazard": "隐患", "tip": "举报", "chatter": "不登记", "command": "命令"}


def _or_none(values: list[str], sep: str = "、") -> str:
    return sep.join(values) if values else "（无）"


def render(explanation: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> list[str]:
    """Return the explanation as readable Chinese-labelled lines; ``labels`` maps category and severity codes
    to their Chinese names."""
    labels = labels or {}
    verdict = explanation.get("classification", {})
    lines = [
        f"原文：{explanation.get('text', '')}",
        f"规范化：{explanation.get('normalized', '')}",
        f"分词：{_or_none(list(explanation.get('tokens', [])), ' / ')}",
    ]
    hits = explanation.get("hits", [])
    lines.append(f"命中：{'' if hits else '（无）'}")
    for h in hits:
        category = h.get("category")
        shown = f"　类别 {labels.get(category, category)}" if category else ""
        lines.append(
            f"  · {h.get('word')}　角色 {_or_none(list(h.get('roles', [])))}{shown}　规则 {h.get('rule')}"
        )
    lines.append(f"框架：{_or_none(list(explanation.get('frames', [])))}")
    score = explanation.get("model_score")
    lines.append(f"模型分：{'（未调用）' if score is None else f'{score:.3f}'}")
    intent = str(verdict.get("intent", "chatter"))
    parts = [f"{INTENT_LABELS.get(intent, intent)}（{intent}）"]
    if verdict.get("review"):
        parts.append("送干部复核")
    if verdict.get("category"):
        parts.append(f"类别 {labels.get(verdict['category'], verdict['category'])}（{verdict['category']}）")
    if verdict.get("severity"):
        parts.append(f"等级 {labels.get(verdict['severity'], verdict['severity'])}（{verdict['severity']}）")
    if verdict.get("location"):
        parts.append(f"地点 {verdict['location']}")
    if verdict.get("confidence") is not None:
        parts.append(f"置信度 {verdict['confidence']}")
    lines.append(f"结论：{'，'.join(parts)}")
    evidence = list(verdict.get("evidence", []))
    if evidence:
        lines.append(f"证据：{_or_none(evidence)}")
    lines.append(f"理由：{verdict.get('reason') or '（无）'}")
    return lines


@click.command("explain")
@click.argument("text")
@click.option("--chat", type=click.Choice(["group", "private"]), default="group", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="输出完整的解释 JSON")
def explain(text: str, chat: str, as_json: bool) -> None:
    """解释识别器怎样判断一条消息：规范化文字、分词、每个命中的词（角色和规则）、框架、模型分和结论。"""
    from handlers.texts import TextsError

    settings = load_settings()
    classifier = load_classifier(settings)
    if not hasattr(classifier, "explain"):
        raise click.ClickException("这个版本的识别器还不能逐条解释（Classifier.explain）")
    explanation = classifier.explain(text, chat=chat)
    if as_json:
        click.echo(json.dumps(explanation, ensure_ascii=False))
        return
    try:
        texts = data_files(settings).load_texts()
        labels = {c: texts.label("categories", c) for c in _categories()}
        labels |= {s: texts.label("severities", s) for s in ("major", "general")}
    except TextsError:
        labels = {}
    for line in render(explanation, labels):
        click.echo(line)


def _categories() -> tuple[str, ...]:
    from handlers.classifier import CATEGORIES

    return tuple(CATEGORIES)
