"""``anquan purge``: erase closed tips past the retention period (text, thread, photos); statistics stay."""

from __future__ import annotations

import click

from bot.cli_common import load_settings, open_db


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="只数一数，不删除")
def purge_command(dry_run: bool) -> None:
    """删除超过保存期限（镇情档案 [rewards] retention_days，默认 2 年）的已办结举报的正文、追问记录和照片。

    编号、类别、日期和奖励记录保留作统计。机器人每天也会自动做一次。
    """
    from handlers.profile import ProfileError, load_profile
    from handlers.tip_followup import purge_closed
    from storage.models import utcnow

    settings = load_settings()
    try:
        profile = load_profile(settings.profile)
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
