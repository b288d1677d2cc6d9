"""``anquan schedule`` (upcoming calendar pushes) and ``anquan report monthly`` (the monthly progress report).

Attached to the main command group in ``bot/cli.py`` with ``main.add_command(schedule)`` and
``main.add_command(report)``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli_common import data_files, load_settings, open_db
from bot.cli_export import quarterly_command
from bot.config import Settings

if TYPE_CHECKING:
    from scheduler.calendar import Calendar


def _calendar(settings: Settings) -> Calendar:
    from scheduler.calendar import CalendarError

    try:
        return data_files(settings).load_calendar()
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from exc


def _date(value: str | None, settings: Settings) -> date:
    if not value:
        return datetime.now(settings.tz).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"日期应写成 YYYY-MM-DD，例如 2026-05-01，现在是 {value!r}") from exc


@click.command("schedule")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="从哪一天开始（默认今天）")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True, help="列出多少天")
@click.option("--json", "as_json", is_flag=True, help="每行输出一条 JSON（at、event、title、targets）")
def schedule(start: str | None, days: int, as_json: bool) -> None:
    """列出日程表在这段时间里的全部推送，按时间顺序。"""
    settings = load_settings()
    calendar = _calendar(settings)
    first = _date(start, settings)
    pushes = calendar.pushes(first, first + timedelta(days=days), settings.tz)
    if as_json:
        for push in pushes:
            click.echo(json.dumps(push.to_json(calendar), ensure_ascii=False))
        return
    if not pushes:
        click.echo("（这段时间没有推送）")
    for push in pushes:
        targets = "、".join(calendar.label("group_kinds", k) for k in push.entry.targets)
        click.echo(f"{push.at:%Y-%m-%d %H:%M}\t{push.entry.key}\t{push.entry.title}\t→ {targets}")


@click.group("report")
def report() -> None:
    """统计报表。"""


@report.command("monthly")
@click.option("--month", metavar="YYYY-MM", help="哪个月（默认上个月）")
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path), help="同时画一张统计图（PNG）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
def report_monthly(month: str | None, png: Path | None, as_json: bool) -> None:
    """每月治本攻坚推进情况：新登记、整改、未整改、逾期（分村、分类别），整改率，平均整改天数，举报。"""
    from scheduler.monthly_report import (
        MonthError,
        build_monthly_report,
        parse_month,
        previous_month,
        render_png,
        render_text,
    )

    settings = load_settings()
    calendar = _calendar(settings)
    tz = settings.tz
    now = datetime.now(tz)
    month = month or previous_month(now.date())
    try:
        parse_month(month)
    except MonthError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from exc
    db = open_db(settings)
    try:
        with db.sessions() as session:
            numbers = build_monthly_report(session, month, tz, now=now)
    finally:
        db.engine.dispose()
    if as_json:
        click.echo(json.dumps(numbers.to_json(), ensure_ascii=False))
    else:
        click.echo(render_text(numbers, calendar))
    if png:
        if not png.parent.is_dir():
            raise click.BadParameter(f"目录不存在：{png.parent}（不会自动创建）", param_hint="--png")
        try:
            from scheduler.monthly_report import cjk_font_available

            if not cjk_font_available():
                click.echo(
                    "注意：本机没有中文字体，统计图里的中文会显示成方框。请安装中文字体（Debian/Ubuntu："
                    "apt-get install fonts-noto-cjk），再删除 matplotlib 的字体缓存（rm -rf ~/.cache/matplotlib）后重试。",
                    err=True,
                )
            render_png(numbers, calendar, png)
        except ImportError as exc:
            raise click.ClickException("画图需要 matplotlib：pip install 'anquan-bot[chart]'") from exc
        click.echo(f"统计图已保存：{png}", err=as_json)


report.add_command(quarterly_command)
