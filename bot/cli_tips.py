"""``anquan purge`` (closed tips past the retention period lose text, thread and photos) and ``anquan export rewards``
(the reward ledger for the finance office)."""

from __future__ import annotations

import click

from bot.cli_common import data_files, load_settings, open_db


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="只数一数，不删除")
def purge_command(dry_run: bool) -> None:
    """删除超过保存期限（镇情档案 [rewards] retention_days，默认 2 年）的已办结举报的正文、追问记录和照片。

    编号、类别、日期和奖励记录保留作统计。机器人每天也会自动做一次。
    """
    from handlers.profile import ProfileError
    from handlers.tip_followup import purge_closed
    from storage.models import utcnow

    settings = load_settings()
    try:
        profile = data_files(settings).load_profile()
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    db = open_db(settings)
    days = profile.rewards.retention_days
    with db.sessions.begin() as session:
        counts = purge_closed(session, utcnow(), days, settings.data_dir, dry_run=dry_run)
    if dry_run:
        click.echo(f"有 {counts['tips']} 条已办结超过 {days} 天的举报可以清理（未删除）。")
    else:
        click.echo(
            f"已清理 {counts['tips']} 条已办结超过 {days} 天的举报：追问和补充 {counts['messages']} 条，照片 {counts['photos']} 张。"
        )


@click.command("rewards")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@click.option("--from", "since", metavar="YYYY-MM-DD", help="核实日期从这天起")
@click.option("--to", "until", metavar="YYYY-MM-DD", help="核实日期到这天为止（含）")
@click.option("--out", "out", metavar="FILE", help="输出文件（默认按日期命名；CSV 可写 - 输出到屏幕）")
def export_rewards(fmt: str, since: str | None, until: str | None, out: str | None) -> None:
    """导出举报奖励台账（给财务）：编号、类别、核实日期、罚款、奖励、状态、领取期限、兑付日期；不含任何举报人信息。"""
    from datetime import date, datetime, time, timedelta
    from pathlib import Path

    from handlers import reward_export
    from storage.tip_threads import list_rewards

    settings = load_settings()
    texts = data_files(settings).load_texts()
    tz = settings.tz

    def day(value: str | None, option: str) -> datetime | None:
        if not value:
            return None
        try:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=tz)
        except ValueError as exc:
            raise click.BadParameter(f"日期要写成 2026-12-01：{value}", param_hint=option) from exc

    start, end = day(since, "--from"), day(until, "--to")
    db = open_db(settings)
    with db.sessions() as session:
        rewards = list_rewards(session, since=start, until=end + timedelta(days=1) if end else None)
        table = reward_export.rows(rewards, texts, tz)
    if out == "-" and fmt == "csv":
        click.echo(reward_export.csv_text(table), nl=False)
        return
    path = Path(out or f"举报奖励台账_{datetime.now(tz):%Y%m%d}.{fmt}")
    if not path.parent.is_dir():
        raise click.BadParameter(f"目录不存在：{path.parent}（不会自动创建）", param_hint="--out")
    span = f"{since or '最早'} 至 {until or '今天'}"
    if fmt == "xlsx":
        path.write_bytes(reward_export.xlsx_bytes(table, f"举报奖励台账（核实日期 {span}）"))
    else:
        path.write_text(reward_export.csv_text(table), encoding="utf-8")
    click.echo(f"已导出 {len(table)} 条奖励记录：{path}")
