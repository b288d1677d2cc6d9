"""``anquan officials``, ``anquan groups`` and ``anquan audit``: who holds which powers, and where the bot sits.

Every change is written to the audit trail with the actor ``cli``. ``--json`` prints JSON Lines for outside tools.
A WeCom group's chat id is its robot key, a credential: it is never printed, only a short fingerprint.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from bot.cli_common import data_files, load_settings, open_db
from bot.config import KNOWN_PLATFORMS
from storage.constants import GROUP_KINDS, ROLES

if TYPE_CHECKING:
    from bot.config import Settings
    from handlers.profile import Profile
    from storage.models import BindingCode, Group, Official

PLATFORM_CHOICES = click.Choice(list(KNOWN_PLATFORMS))
# ``official`` is the old catch-all role that outside scripts still pass; it means a station official now.
ROLE_CHOICES = click.Choice([*ROLES, "official"])
DEFAULT_ROLE = "station"


def _role(role: str | None) -> str | None:
    return DEFAULT_ROLE if role == "official" else role


CLI_ACTOR = "cli"


def _profile(settings: Settings) -> Profile:
    from handlers.profile import ProfileError

    try:
        return data_files(settings).load_profile()
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc


def _check_unit(profile: Profile, role: str | None, unit: str | None) -> str | None:
    """The unit's name as the profile spells it; a village official needs a village of this town."""
    if role == "village":
        found = profile.find_unit(unit, kinds=("village",)) if unit else None
        if found is None:
            choices = "、".join(v.name for v in profile.villages)
            raise click.ClickException(f"村干部要用 --unit 写明本村，可选：{choices}")
        return found.name
    if unit:
        found = profile.find_unit(unit)
        return found.name if found else unit
    return unit


def _role_name(role: str) -> str:
    """The role as the township's wording file names it (``texts.toml`` [roles])."""
    return data_files(load_settings()).load_texts().label("roles", role)


def _official_json(o: Official) -> dict[str, Any]:
    return {
        "id": o.id,
        "platform": o.platform,
        "user_id": o.user_id,
        "name": o.name,
        "role": o.role,
        "unit": o.unit,
        "tips": o.role == "admin" or o.tips,
        "active": o.active,
    }


def _describe(o: Official) -> str:
    tips = "，可看举报" if o.tips and o.role != "admin" else ""
    state = "" if o.active else "，已停用"
    return f"{o.name}（{o.platform}:{o.user_id}，{_role_name(o.role)}，{o.unit or '-'}{tips}{state}）"


@click.group()
def officials() -> None:
    """管理干部账号（按平台账号识别，不按昵称）及其权限。"""


@officials.command("add")
@click.option("--platform", type=PLATFORM_CHOICES, required=True)
@click.option("--user-id", required=True, help="平台上的用户 ID（不是昵称）")
@click.option("--name", default=None, help="姓名（新干部必填）")
@click.option(
    "--role",
    type=ROLE_CHOICES,
    default=None,
    help="admin 镇安全办 / station 站所（新干部不写时的默认；旧写法 official 同 station）/ village 村干部",
)
@click.option("--unit", default=None, help="所在单位，如 王家沟村、应急管理站（村干部必填）")
@click.option("--tips/--no-tips", default=None, help="是否可查看和处理匿名举报（管理员总是可以）")
def officials_add(
    platform: str, user_id: str, name: str | None, role: str | None, unit: str | None, tips: bool | None
) -> None:
    """登记一名干部；已登记的只改给出的项，并提示。"""
    from storage import audit
    from storage.officials import add_official, find_official

    settings = load_settings()
    db = open_db(settings)
    with db.sessions.begin() as session:
        existing = find_official(session, platform, user_id)
        role = _role(role) or (None if existing else DEFAULT_ROLE)
        if existing is None and not name:
            raise click.ClickException("新干部要写 --name")
        unit = _check_unit(_profile(settings), role or (existing.role if existing else None), unit)
        if existing is not None and existing.role != "village" and role == "village" and unit is None:
            raise click.ClickException("改为村干部要用 --unit 写明本村")
        change = add_official(session, platform, user_id, name, role, unit, tips=tips)
        official = change.official
        if change.created:
            audit.record(session, CLI_ACTOR, "official.added", f"official:{official.id}", _describe(official))
            click.echo(f"已登记干部 {_describe(official)}")
            return
        if change.changed:
            detail = "；".join(f"{k} {old}→{new}" for k, (old, new) in change.changed.items())
            audit.record(session, CLI_ACTOR, "official.updated", f"official:{official.id}", detail)
        else:
            detail = "没有变化"
        click.echo(f"注意：{platform}:{user_id} 已经是干部，只改了给出的项（{detail}）。", err=True)
        click.echo(f"已更新干部 {_describe(official)}")


def _find(session: Any, platform: str, user_id: str) -> Official:
    from storage.officials import find_official

    official = find_official(session, platform, user_id)
    if official is None:
        raise click.ClickException(f"没有这名干部：{platform}:{user_id}（用 anquan officials list 查看）")
    return official


def _set_active(platform: str, user_id: str, active: bool) -> None:
    from storage import audit
    from storage.officials import set_active

    db = open_db(load_settings())
    with db.sessions.begin() as session:
        official = _find(session, platform, user_id)
        if set_active(session, official, active):
            action = "official.enabled" if active else "official.disabled"
            audit.record(session, CLI_ACTOR, action, f"official:{official.id}", official.name)
        click.echo(f"{'已启用' if active else '已停用'}干部 {_describe(official)}")


@officials.command("disable")
@click.option("--platform", type=PLATFORM_CHOICES, required=True)
@click.option("--user-id", required=True)
def officials_disable(platform: str, user_id: str) -> None:
    """停用一名干部：立即失去所有干部权限，记录保留，可再启用。"""
    _set_active(platform, user_id, False)


@officials.command("enable")
@click.option("--platform", type=PLATFORM_CHOICES, required=True)
@click.option("--user-id", required=True)
def officials_enable(platform: str, user_id: str) -> None:
    """重新启用一名停用的干部。"""
    _set_active(platform, user_id, True)


@officials.command("remove")
@click.option("--platform", type=PLATFORM_CHOICES, required=True)
@click.option("--user-id", required=True)
def officials_remove(platform: str, user_id: str) -> None:
    """删除一名干部（审计记录保留）。"""
    from storage import audit
    from storage.officials import remove_official

    db = open_db(load_settings())
    with db.sessions.begin() as session:
        official = _find(session, platform, user_id)
        described = _describe(official)
        audit.record(session, CLI_ACTOR, "official.removed", f"official:{official.id}", described)
        remove_official(session, official)
    click.echo(f"已删除干部 {described}")


@officials.command("invite")
@click.option("--name", required=True)
@click.option(
    "--role",
    type=ROLE_CHOICES,
    default=DEFAULT_ROLE,
    show_default=True,
    help="admin 镇安全办 / station 站所 / village 村干部（旧写法 official 同 station）",
)
@click.option("--unit", default=None, help="所在单位（村干部必填）")
@click.option("--tips/--no-tips", default=False, help="是否可查看和处理匿名举报（管理员总是可以）")
@click.option("--days", type=click.IntRange(1, 7), default=7, show_default=True, help="有效天数（最多 7 天）")
def officials_invite(name: str, role: str, unit: str | None, tips: bool, days: int) -> None:
    """生成一次性绑定码：干部私聊机器人发 /绑定 <码> 即完成绑定。码只显示这一次。"""
    from storage import audit
    from storage.officials import create_binding_code, format_binding_code

    settings = load_settings()
    role = _role(role) or DEFAULT_ROLE
    unit = _check_unit(_profile(settings), role, unit)
    db = open_db(settings)
    with db.sessions.begin() as session:
        code, row = create_binding_code(
            session, settings.secret(), name, role, unit, tips=tips, valid_for=timedelta(days=days)
        )
        audit.record(
            session, CLI_ACTOR, "code.issued", f"code:{row.id}", f"{name} {role} {unit or '-'} tips={tips}"
        )
    shown = format_binding_code(code)
    click.echo(f"绑定码：{shown}")
    click.echo(
        f"（第 {row.id} 号，{days} 天内有效，只能用一次；发给 {name}，{_role_name(role)}，{unit or '-'}）"
    )
    click.echo(f"请 {name} 私聊机器人发送：/绑定 {shown}。绑定码一旦出现在群里会立即作废。")


def _code_json(row: BindingCode, settings: Settings) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "unit": row.unit,
        "tips": row.tips,
        "expires_at": row.expires_at.astimezone(settings.tz).isoformat(timespec="minutes"),
    }


@officials.command("codes")
@click.option("--json", "as_json", is_flag=True, help="每行一个 JSON 对象")
def officials_codes(as_json: bool) -> None:
    """列出还能使用的绑定码（码本身不保存，无法再显示）。"""
    from storage.officials import pending_codes

    settings = load_settings()
    db = open_db(settings)
    with db.sessions() as session:
        rows = [_code_json(r, settings) for r in pending_codes(session)]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("（没有待使用的绑定码）")
    for r in rows:
        click.echo(f"{r['id']}\t{r['name']}\t{r['role']}\t{r['unit'] or '-'}\t有效至 {r['expires_at']}")


@officials.command("revoke")
@click.argument("code_id", type=int)
def officials_revoke(code_id: int) -> None:
    """作废一个还没用的绑定码（编号见 anquan officials codes）。"""
    from storage import audit
    from storage.officials import revoke_code

    db = open_db(load_settings())
    with db.sessions.begin() as session:
        row = revoke_code(session, code_id)
        if row is None:
            raise click.ClickException(f"没有可作废的第 {code_id} 号绑定码（可能已用过、已过期或已作废）")
        audit.record(session, CLI_ACTOR, "code.revoked", f"code:{row.id}", row.name)
    click.echo(f"已作废第 {code_id} 号绑定码（发给 {row.name}）")


@officials.command("list")
@click.option("--json", "as_json", is_flag=True, help="每行一个 JSON 对象")
def officials_list(as_json: bool) -> None:
    """列出所有干部及其权限。"""
    from storage.officials import list_officials

    db = open_db(load_settings())
    with db.sessions() as session:
        rows = [_official_json(o) for o in list_officials(session)]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("（还没有登记干部）")
    for o in rows:
        flags = ("可看举报" if o["tips"] else "-") + ("" if o["active"] else "，已停用")
        click.echo(
            f"{o['id']}\t{o['platform']}\t{o['user_id']}\t{o['name']}\t{o['role']}\t{o['unit'] or '-'}\t{flags}"
        )


def _group_json(g: Group) -> dict[str, Any]:
    from storage.groups import shown_chat_id

    return {
        "id": g.id,
        "platform": g.platform,
        "chat_id": shown_chat_id(g.platform, g.chat_id),
        "kind": g.kind,
        "unit": g.unit,
        "title": g.title,
        "active": g.active,
    }


@click.group()
def groups() -> None:
    """管理机器人所在的群。领导群、站所群、企业群只能由这里或管理员在群里用 /登记群 登记。"""


@groups.command("add")
@click.option("--platform", type=PLATFORM_CHOICES, required=True)
@click.option("--chat-id", required=True, help="群 ID；企业微信群机器人填 webhook key（不会再显示）")
@click.option("--kind", type=click.Choice(GROUP_KINDS), required=True)
@click.option("--unit", default=None, help="所属单位，如 王家沟村（企业微信群必填）")
@click.option("--title", default=None)
def groups_add(platform: str, chat_id: str, kind: str, unit: str | None, title: str | None) -> None:
    """登记（或更新）一个群。"""
    from storage import audit
    from storage.groups import get_group, shown_chat_id, upsert_group

    settings = load_settings()
    if platform == "wecom" and not unit:
        raise click.ClickException(
            "企业微信群要用 --unit 写明所属单位（群机器人的 key 不会显示出来，只能靠单位认群）"
        )
    if unit:
        found = _profile(settings).find_unit(unit)
        if found is None:
            click.echo(
                f"注意：镇情档案里没有“{unit}”，群里的消息不会按它认村，村干部也管不到这个群。", err=True
            )
        else:
            unit = found.name
    db = open_db(settings)
    with db.sessions.begin() as session:
        before = get_group(session, platform, chat_id)
        old = f"{before.kind or '-'}/{before.unit or '-'}" if before else "-/-"
        g = upsert_group(session, platform, chat_id, title=title, kind=kind, unit=unit, active=True)
        audit.record(session, CLI_ACTOR, "group.tagged", f"group:{g.id}", f"{old} -> {kind}/{unit or '-'}")
        click.echo(
            f"已登记群 {g.platform}:{shown_chat_id(g.platform, g.chat_id)}（{g.kind}，{g.unit or '-'}）"
        )


@groups.command("list")
@click.option("--json", "as_json", is_flag=True, help="每行一个 JSON 对象")
def groups_list(as_json: bool) -> None:
    """列出所有群。"""
    from storage.groups import list_groups

    db = open_db(load_settings())
    with db.sessions() as session:
        rows = [_group_json(g) for g in list_groups(session)]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("（还没有群）")
    for g in rows:
        state = "在用" if g["active"] else "已停用"
        click.echo(
            f"{g['id']}\t{g['platform']}\t{g['chat_id']}\t{g['kind'] or '未登记'}\t{g['unit'] or '-'}\t{g['title'] or '-'}\t{state}"
        )


@click.command("audit")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="每行一个 JSON 对象")
def audit_command(limit: int, as_json: bool) -> None:
    """权限变动记录：干部的增删改停、绑定码的发放/使用/作废、群的登记。"""
    from storage.audit import list_events

    settings = load_settings()
    db = open_db(settings)
    with db.sessions() as session:
        rows = [
            {
                "at": e.at.astimezone(settings.tz).isoformat(timespec="seconds"),
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "detail": e.detail,
            }
            for e in list_events(session, limit=limit)
        ]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("（还没有记录）")
    for r in rows:
        click.echo(f"{r['at']}\t{r['actor']}\t{r['action']}\t{r['subject']}\t{r['detail'] or ''}")
