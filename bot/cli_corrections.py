"""``anquan corrections [--json]``: the officials' decisions, exported for retraining the classifier.

Attached to the main command group in ``bot/cli.py`` with ``main.add_command(corrections)``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from bot.cli_common import data_files, load_settings, open_db

if TYPE_CHECKING:
    from storage.models import Correction


def correction_json(row: Correction) -> dict[str, Any]:
    """One correction in the labeled-corpus format (``location`` is not decided by officials, so null)."""
    return {
        "text": row.text,
        "chat": row.chat,
        "intent": row.intent,
        "category": row.category,
        "severity": row.severity,
        "location": None,
        "source": row.source,
    }


@click.command("corrections")
@click.option(
    "--json", "as_json", is_flag=True, help="每行输出一条 JSON（与标注语料格式相同，可直接用于重新训练）"
)
def corrections(as_json: bool) -> None:
    """干部对机器人判断的纠正（登记、忽略、不是隐患、私聊确认），可导出用于改进识别。"""
    from storage.corrections import list_corrections

    settings = load_settings()
    db = open_db(settings)
    with db.sessions() as session:
        rows = list_corrections(session)
        if as_json:
            for row in rows:
                click.echo(json.dumps(correction_json(row), ensure_ascii=False))
            return
        if not rows:
            click.echo("（还没有纠正记录）")
            return
        texts = data_files(settings).load_texts()
        for row in rows:
            label = texts.label("kinds", row.intent) if row.intent != "chatter" else "非隐患"
            category = texts.label("categories", row.category) or "-"
            chat = "私聊" if row.chat == "private" else "群"
            click.echo(f"{row.id}\t{row.source}\t{chat}\t{label}\t{category}\t{row.text[:40]}")
