"""``anquan export ledger|open311`` (the 台账 as Excel, CSV or Open311 JSON) and ``anquan report quarterly``.

``export`` is attached to the main group in ``bot/cli.py``; ``quarterly`` to the ``report`` group in
``bot/cli_schedule.py``. Both exports take the same filters and honour every one of them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli_common import data_files, load_settings, open_db
from storage.constants import OPEN_STATUSES, REPORT_STATUSES

if TYPE_CHECKING:
    from bot.config import Settings
    from handlers.export import LedgerFilter
    from handlers.profile import Profile
    from handlers.texts import Texts

CATEGORIES = [
    "fire",
    "gas",
    "electric",
    "building",
    "construction",
    "traffic",
    "mining",
    "chemical",
    "geological",
    "water",
    "special_equipment",
    "other",
]


def _date(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"日期应写成 YYYY-MM-DD，例如 2026-10-01，现在是 {value!r}", param_hint=option
        ) from exc


def _code(value: str, codes: tuple[str, ...] | list[str], section: str, texts: Texts) -> str | None:
    """A code given as itself or as its Chinese label (``整改中`` → ``rectifying``)."""
    if value in codes:
        return value
    for code in codes:
        if texts.label(section, code) == value:
            return code
    return None


def _statuses(value: str | None, texts: Texts) -> tuple[str, ...]:
    if not value or value == "all":
        return ()
    if value in ("open", texts("export.filter_status_open")):
        return OPEN_STATUSES
    code = _code(value, REPORT_STATUSES, "statuses", texts)
    if code is None:
        raise click.BadParameter(
            f"不认识的状态 {value!r}；可写 open、all 或 {'、'.join(REPORT_STATUSES)}", param_hint="--status"
        )
    return (code,)


def build_filter(
    profile: Profile,
    texts: Texts,
    *,
    start: str | None,
    end: str | None,
    village: str | None,
    status: str | None,
    severity: str | None,
    category: str | None,
    overdue: bool,
    tips: bool,
) -> LedgerFilter:
    """The command line's filter options as a ``LedgerFilter``, with Chinese errors for values that can't match."""
    from handlers.export import FilterError, LedgerFilter

    village_name = None
    if village:
        village_name = profile.village_of(village)
        if village_name is None:
            choices = "、".join(v.name for v in profile.villages)
            raise click.BadParameter(f"镇情档案里没有 {village!r}；可选：{choices}", param_hint="--village")
    category_code = None
    if category:
        category_code = _code(category, CATEGORIES, "categories", texts)
        if category_code is None:
            raise click.BadParameter(
                f"不认识的类别 {category!r}；可选：{' '.join(CATEGORIES)}", param_hint="--category"
            )
    try:
        return LedgerFilter(
            date_from=_date(start, "--from"),
            date_to=_date(end, "--to"),
            village=village_name,
            statuses=_statuses(status, texts),
            severity=severity,
            category=category_code,
            overdue_only=overdue,
            include_tips=tips,
        )
    except FilterError as exc:
        raise click.BadParameter(str(exc)) from exc


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The filters both exports share."""
    options = [
        click.option("--from", "start", metavar="YYYY-MM-DD", help="发现时间从这一天起（含）"),
        click.option("--to", "end", metavar="YYYY-MM-DD", help="发现时间到这一天止（含）"),
        click.option("--village", metavar="村名", help="只导出这个村（镇情档案里的村名，可写简称）"),
        click.option(
            "--status",
            metavar="状态",
            help="open（未整改）、all，或 reported rectifying rectified closed rejected duplicate",
        ),
        click.option("--severity", type=click.Choice(["major", "general"]), help="只导出重大或一般隐患"),
        click.option("--category", metavar="类别", help="只导出这一类（fire gas electric …，或中文类别名）"),
        click.option("--overdue", is_flag=True, help="只导出已超过整改期限、还没整改完的"),
        click.option(
            "--tips", is_flag=True, help="同时导出匿名举报（编号 T+6 位，来源“举报”，不含任何举报人信息）"
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _out_path(out: str) -> Path:
    """The file to write; its folder must already exist (it is never created)."""
    path = Path(out)
    if path.exists() and path.is_dir():
        raise click.BadParameter(f"{out} 是一个目录，请写文件名", param_hint="--out")
    if not path.parent.is_dir():
        raise click.BadParameter(f"目录不存在：{path.parent}（不会自动创建）", param_hint="--out")
    return path


def _setup(settings: Settings) -> tuple[Profile, Texts]:
    from handlers.profile import ProfileError
    from handlers.texts import TextsError

    files = data_files(settings)
    try:
        return files.load_profile(), files.load_texts()
    except (ProfileError, TextsError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("export")
def export() -> None:
    """导出隐患台账（Excel、CSV、Open311 JSON）。"""


@export.command("ledger")
@click.option(
    "--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True, help="文件格式"
)
@filter_options
@click.option(
    "--out", "out", metavar="FILE", help="输出文件（默认当前目录下带日期的文件名；CSV 可写 - 输出到屏幕）"
)
def export_ledger(fmt: str, out: str | None, **filters: Any) -> None:
    """隐患台账：第 1 页“隐患台账”按镇安全办的列顺序，第 2 页“重大隐患”另加五落实；CSV 只有第 1 页的列。"""
    from handlers.export import export_xlsx_bytes, file_stem, iter_rows, write_csv

    settings = load_settings()
    profile, texts = _setup(settings)
    flt = build_filter(profile, texts, **filters)
    tz = settings.tz
    now = datetime.now(tz)
    if out == "-" and fmt == "xlsx":
        raise click.BadParameter(
            "Excel 文件不能输出到屏幕，请写文件名，或用 --format csv", param_hint="--out"
        )
    path = (
        None
        if out == "-"
        else _out_path(out or f"{file_stem(texts, profile.town, flt.village, now, tz)}.{fmt}")
    )
    db = open_db(settings)
    try:
        with db.sessions() as session:
            if fmt == "xlsx":
                assert path is not None
                data, stats = export_xlsx_bytes(session, flt, texts=texts, town=profile.town, tz=tz, now=now)
                path.write_bytes(data)
            elif path is None:
                stats = write_csv(
                    iter_rows(session, flt, now=now, tz=tz),
                    sys.stdout.buffer,
                    texts=texts,
                    tz=tz,
                    now=now,
                )
            else:
                with path.open("wb") as fh:
                    stats = write_csv(
                        iter_rows(session, flt, now=now, tz=tz), fh, texts=texts, tz=tz, now=now
                    )
    finally:
        db.engine.dispose()
    where = "标准输出" if path is None else str(path)
    tips = f"，含匿名举报 {stats.tips} 条" if flt.include_tips else ""
    click.echo(f"已导出 {stats.rows} 条（重大隐患 {stats.major} 条{tips}）：{where}", err=path is None)


@export.command("open311")
@filter_options
@click.option("--out", "out", metavar="FILE", help="输出文件（默认输出到屏幕）")
def export_open311(out: str | None, **filters: Any) -> None:
    """Open311 GeoReport v2 格式的 JSON（服务请求数组，时间带 +08:00）。"""
    from handlers.export import iter_rows, open311_requests

    settings = load_settings()
    profile, texts = _setup(settings)
    flt = build_filter(profile, texts, **filters)
    tz = settings.tz
    path = None if out is None or out == "-" else _out_path(out)
    db = open_db(settings)
    try:
        with db.sessions() as session:
            requests = list(open311_requests(iter_rows(session, flt, now=datetime.now(tz), tz=tz), texts, tz))
    finally:
        db.engine.dispose()
    body = json.dumps(requests, ensure_ascii=False, indent=2)
    if path is None:
        click.echo(body)
    else:
        path.write_text(body + "\n", encoding="utf-8")
        click.echo(f"已导出 {len(requests)} 条：{path}")


@click.command("quarterly")
@click.option("--quarter", metavar="2026Q4", help="哪个季度（默认上个季度）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.option("--xlsx", "xlsx", metavar="FILE", help="同时存一份 Excel 统计表")
def quarterly_command(quarter: str | None, as_json: bool, xlsx: str | None) -> None:
    """季度统计分析（16号令第十四条，下一季度15日前报送）：发现、整改、整改率、重大未整改、逾期，分村、分类别。"""
    from handlers.export import render_quarterly_text, write_quarterly_xlsx
    from scheduler.quarterly_report import (
        QuarterError,
        build_quarterly_report,
        parse_quarter,
        previous_quarter,
    )

    settings = load_settings()
    profile, texts = _setup(settings)
    tz = settings.tz
    now = datetime.now(tz)
    quarter = quarter or previous_quarter(now.date())
    try:
        parse_quarter(quarter)
    except QuarterError as exc:
        raise click.BadParameter(str(exc), param_hint="--quarter") from exc
    path = _out_path(xlsx) if xlsx else None
    db = open_db(settings)
    try:
        with db.sessions() as session:
            numbers = build_quarterly_report(session, quarter, tz, now=now)
    finally:
        db.engine.dispose()
    if as_json:
        click.echo(json.dumps(numbers.to_json(), ensure_ascii=False))
    else:
        click.echo(render_quarterly_text(numbers, texts, profile.town))
    if path is not None:
        write_quarterly_xlsx(numbers, path, texts=texts, town=profile.town)
        click.echo(f"统计表已保存：{path}", err=as_json)


__all__ = ["export", "quarterly_command"]
