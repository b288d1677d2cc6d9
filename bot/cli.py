"""The ``anquan`` command line: run the bot, parse messages, and manage the ledger, officials and groups."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli_common import DATA_FILE_OPTIONS, ConfigError, data_files, load_settings, open_db
from bot.cli_corrections import corrections
from bot.cli_eval import eval_command, load_classifier
from bot.cli_explain import explain
from bot.cli_export import export
from bot.cli_model import model
from bot.cli_officials import audit_command, groups, officials
from bot.cli_schedule import report, schedule
from bot.cli_tips import export_rewards, purge_command
from bot.cli_web import web
from bot.config import KNOWN_PLATFORMS
from bot.logs import setup_logging
from storage.constants import OPEN_STATUSES

if TYPE_CHECKING:
    from bot.app import Database
    from bot.config import Settings
    from storage.models import Report, Tip

PLATFORM_CHOICES = click.Choice(list(KNOWN_PLATFORMS))


def _data_file_option(name: str, what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        f"--{name}",
        type=click.Path(path_type=Path),
        default=None,
        metavar="FILE",
        help=f"本次用这个{what}（优先于 ANQUAN_{name.upper()}）",
    )


@click.group()
@_data_file_option("profile", "镇情档案")
@_data_file_option("texts", "用语文件")
@_data_file_option("calendar", "日程表")
@_data_file_option("rules", "识别规则文件")
@_data_file_option("userdict", "分词词典")
@_data_file_option("publicity", "宣传文案库")
@_data_file_option("model", "识别模型文件")
@click.pass_context
def main(ctx: click.Context, **files: Path | None) -> None:
    """anquan — 乡镇安全生产隐患随手报机器人。

    数据文件（镇情档案、用语、日程表、识别规则、分词词典、宣传文案库、识别模型）机器人和每个命令都按同一个顺序选用。
    顺序：命令行选项（如 anquan --calendar 草稿.toml schedule）> ANQUAN_* 设置 > 镇情档案 [town] calendar（只对日程表）> 自带的文件。
    """
    ctx.meta[DATA_FILE_OPTIONS] = {name: path for name, path in files.items() if path is not None}


@main.command()
def run() -> None:
    """运行机器人（平台由 ANQUAN_PLATFORMS 决定，默认终端试用模式）。"""
    from bot.app import run_bot
    from handlers.profile import ProfileError
    from handlers.rules_schema import RulesError
    from handlers.texts import TextsError
    from scheduler.calendar import CalendarError

    settings = load_settings()
    files = data_files(settings)
    default_level = "WARNING" if settings.platforms == ["console"] else "INFO"
    setup_logging(settings.log_level or default_level)
    db = open_db(settings)
    try:
        asyncio.run(run_bot(settings, db=db, files=files))
    except (ProfileError, TextsError, CalendarError, RulesError) as exc:
        raise ConfigError(str(exc)) from None
    except ValueError as exc:
        # An adapter's start-up check (Telegram without a token, wechaty without an endpoint ...): its text
        # names the setting and the fix.
        raise ConfigError(str(exc)) from None
    except KeyboardInterrupt:
        pass


def _stdin_lines() -> Iterator[tuple[int, str | None]]:
    """Standard input's lines, numbered from 1, decoded one by one; bytes that are not UTF-8 become U+FFFD.

    Such a line is still recognised (with a note on standard error), like the bot does with a chat message.
    """
    from handlers.texts import clean_text

    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:
        for lineno, line in enumerate(sys.stdin, 1):
            yield lineno, clean_text(line.rstrip("\r\n"))
        return
    for lineno, raw in enumerate(buffer, 1):
        encoding = "utf-8-sig" if lineno == 1 else "utf-8"
        try:
            yield lineno, raw.decode(encoding).rstrip("\r\n")
        except UnicodeDecodeError:
            click.echo(f"第 {lineno} 行：有不是 UTF-8 的字节，已替换为 \ufffd 后识别", err=True)
            yield lineno, raw.decode(encoding, errors="replace").rstrip("\r\n")


def _parse_line(lineno: int, line: str | None, jsonl: bool) -> tuple[str, str] | str:
    """One input line as (text, chat), or the Chinese error that replaces its output line."""
    from handlers.texts import clean_text

    if line is None:
        return f"第 {lineno} 行：不是 UTF-8 编码的文字"
    if not jsonl:
        return line, "group"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"第 {lineno} 行：不是合法的 JSON 对象（{exc.msg}）"
    if not isinstance(obj, dict):
        return f'第 {lineno} 行：不是 JSON 对象（应为 {{"text": ..., "chat": ...}}）'
    text = obj.get("text")
    if text is None:
        return f"第 {lineno} 行：缺少 text 字段"
    if not isinstance(text, str):
        return f"第 {lineno} 行：text 应是字符串"
    text = clean_text(text)  # a JSON escape can carry a lone surrogate, which no output can print
    chat = obj.get("chat", "group")
    if chat not in ("group", "private"):
        return f"第 {lineno} 行：chat 只能是 group 或 private，不能是 {json.dumps(chat, ensure_ascii=False)}"
    return text, chat


@main.command()
@click.option("--jsonl", is_flag=True, help='每行一个 JSON 对象 {"text": ..., "chat": "group"|"private"}')
def parse(jsonl: bool) -> None:
    """识别标准输入中每行消息，每行输出一个 JSON 结果（intent、category、severity、location、confidence、review、reason）。

    --jsonl 时空行跳过；有问题的行（不是 JSON 对象、缺 text、chat 不对）在标准错误上说明第几行，
    在输出里占一行 {"error": "..."}，其余照常识别，退出码仍为 0。
    """
    settings = load_settings()
    classifier = load_classifier(settings)
    out = sys.stdout
    encode = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), built once
    for lineno, line in _stdin_lines():
        if jsonl and line is not None and not line.strip():
            continue  # blank lines between JSON objects produce no output line (as before)
        parsed = _parse_line(lineno, line, jsonl)
        if isinstance(parsed, str):
            click.echo(parsed, err=True)
            out.write(json.dumps({"error": parsed}, ensure_ascii=False) + "\n")
            continue
        text, chat = parsed
        out.write(encode(classifier.classify(text, chat).to_json()) + "\n")
    out.flush()


def report_json(report: Report) -> dict[str, Any]:
    """The ledger's JSON form of a report: never anything about who reported it."""
    return {
        "id": report.id,
        "kind": report.kind,
        "category": report.category,
        "severity": report.severity,
        "status": report.status,
        "village": report.village,
        "location": report.location,
        "text": report.text,
        "created_at": report.created_at.isoformat(),
        "rectified_at": report.rectified_at.isoformat() if report.rectified_at else None,
        "deadline": report.deadline.isoformat() if report.deadline else None,
        "duplicate_of": report.duplicate_of,
        "anonymous": report.anonymous,
        "rectification_note": report.rectification_note,
    }


@main.command()
@click.option("--status", type=click.Choice(["open", "all"]), default="open", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="每行输出一条 JSON（JSON Lines，边读边输出）")
@click.option(
    "--tips", is_flag=True, help="改为列出匿名举报（单独编号 T+6 位随机数，时间只到小时，不含举报人信息）"
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="最多列出几条（默认全部）")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="跳过前面几条")
def reports(status: str, as_json: bool, tips: bool, limit: int | None, offset: int) -> None:
    """隐患台账：默认列出群里登记、未整改的隐患；--tips 列出匿名举报。按编号顺序分批读取、边读边输出。"""
    from storage.reports import iter_reports

    settings = load_settings()
    db = open_db(settings)
    if tips:
        _list_tips(settings, db, status, as_json, limit=limit, offset=offset)
        return
    with db.sessions() as session:
        rows = iter_reports(
            session, statuses=OPEN_STATUSES if status == "open" else None, offset=offset, limit=limit
        )
        _print_ledger(settings, rows, as_json, report_json, lambda r: f"#{r.id}")


def _print_ledger(
    settings: Settings,
    rows: Iterator[Any] | Sequence[Any],
    as_json: bool,
    to_json: Callable[[Any], dict[str, Any]],
    number: Callable[[Any], str],
) -> None:
    """Print ledger rows (reports or tips) as JSON Lines or as one tab-separated line each, as they come."""
    out = sys.stdout
    if as_json:
        for row in rows:
            out.write(json.dumps(to_json(row), ensure_ascii=False) + "\n")
        out.flush()
        return
    texts = data_files(settings).load_texts()
    printed = False
    for row in rows:
        printed = True
        created = row.created_at.astimezone(settings.tz).strftime("%Y-%m-%d")
        out.write(
            f"{number(row)}\t{texts.label('kinds', row.kind)}\t{texts.label('categories', row.category)}\t"
            f"{texts.label('severities', row.severity)}\t{texts.label('statuses', row.status)}\t"
            f"{row.village or row.location or '-'}\t{created}\t{row.text[:40]}\n"
        )
    if not printed:
        out.write("（没有记录）\n")
    out.flush()


def tip_json(tip: Tip) -> dict[str, Any]:
    """The JSON form of an anonymous tip: its random number, times to the hour, never anything about the sender."""
    from storage.tips import tip_label

    return {
        "id": tip_label(tip.id),
        "kind": tip.kind,
        "category": tip.category,
        "severity": tip.severity,
        "status": tip.status,
        "village": tip.village,
        "location": tip.location,
        "text": tip.text,
        "created_at": tip.created_at.isoformat(),
        "rectified_at": tip.rectified_at.isoformat() if tip.rectified_at else None,
        "deadline": tip.deadline.isoformat() if tip.deadline else None,
        "anonymous": True,
        "rectification_note": tip.rectification_note,
    }


def _list_tips(
    settings: Settings, db: Database, status: str, as_json: bool, *, limit: int | None = None, offset: int = 0
) -> None:
    from storage.tips import iter_tips, tip_label

    with db.sessions() as session:
        rows = iter_tips(
            session, statuses=OPEN_STATUSES if status == "open" else None, offset=offset, limit=limit
        )
        _print_ledger(settings, rows, as_json, tip_json, lambda t: tip_label(t.id))


@main.command()
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    help="all | villages | stations | enterprises | leadership | 单位名（可多次使用）",
)
@click.argument("text")
def broadcast(targets: tuple[str, ...], text: str) -> None:
    """群发：写入发件箱，由运行中的机器人按各平台限速送达（命令行不需要确认）。TEXT 可写 @文案名。"""
    from datetime import UTC, datetime

    from handlers import broadcasts

    settings = load_settings()
    files = data_files(settings)
    db = open_db(settings)
    profile = files.load_profile()
    texts = files.load_texts()
    now = datetime.now(UTC)
    try:
        with db.sessions.begin() as session:
            preview = broadcasts.create_preview(
                session,
                profile,
                files.load_publicity(),
                actor="cli",
                target="、".join(targets),
                content=text,
                reply_platform=None,
                reply_chat_id=None,
                now=now,
            )
            if not preview.groups:
                raise click.ClickException(texts("broadcast.no_groups", target="、".join(targets)))
            count = broadcasts.queue(session, texts, profile, preview.broadcast, now)
    except broadcasts.BroadcastError as exc:
        raise click.ClickException(texts("broadcast.unknown_target", target=str(exc))) from exc
    click.echo(
        f"广播 #{preview.broadcast.id} 已排队，共 {count} 个群；运行中的机器人会逐个送达（anquan outbox 查看进度）。"
    )


@main.command()
@click.option("--status", type=click.Choice(["queued", "sent", "failed", "blocked"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def outbox(status: str | None, limit: int, as_json: bool) -> None:
    """发件箱：推送（广播、提醒、通知）的送达状态，最新的在前。"""
    from storage.groups import shown_chat_id
    from storage.outbox import list_outbox

    settings = load_settings()
    db = open_db(settings)
    with db.sessions() as session:
        rows = list_outbox(session, status=status, limit=limit)
        for r in rows:
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "id": r.id,
                            "event": r.event,
                            "platform": r.platform,
                            "chat_id": shown_chat_id(r.platform, r.chat_id),
                            "status": r.status,
                            "attempts": r.attempts,
                            "last_error": r.last_error,
                            "created_at": r.created_at.isoformat(),
                            "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                        },
                        ensure_ascii=False,
                    )
                )
            else:
                sent = r.sent_at.astimezone(settings.tz).strftime("%m-%d %H:%M") if r.sent_at else "-"
                click.echo(
                    f"{r.id}\t{r.event}\t{r.platform}:{shown_chat_id(r.platform, r.chat_id)}\t{r.status}\t{r.attempts}\t{sent}\t{r.last_error or ''}"
                )
        if not rows and not as_json:
            click.echo("（发件箱是空的）")


@main.group()
def db() -> None:
    """数据库维护。"""


@db.command("upgrade")
def db_upgrade() -> None:
    """把数据库结构升级到最新版本。"""
    settings = load_settings()
    open_db(settings)
    click.echo(f"数据库已是最新结构：{settings.db_url_display}")


main.add_command(schedule)
main.add_command(report)
main.add_command(export)
main.add_command(eval_command)
main.add_command(explain)
main.add_command(model)
main.add_command(corrections)
main.add_command(officials)
main.add_command(groups)
main.add_command(audit_command)
main.add_command(purge_command)
main.add_command(web)
export.add_command(export_rewards)
