"""The chat commands: what each does, who may use it, and the registry that ties names to handlers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from handlers import binding, broadcasts, ledger, permissions, photos, review, tip_followup, web_login
from handlers.arguments import parse_ids
from handlers.commands import Command, CommandRegistry
from handlers.context import Core, official_actor
from handlers.export import ledger_command
from handlers.intake import RECEIPT_LENGTH, format_receipt
from handlers.messages import IncomingMessage, Reply
from storage import attachments as attachment_repo
from storage import audit
from storage import broadcasts as broadcast_repo
from storage import groups as group_repo
from storage import ledger as ledger_repo
from storage import officials as official_repo
from storage import reports as report_repo
from storage import tips as tip_repo
from storage.constants import ATTACHMENT_ROLES
from storage.models import Group, Official, Report, Tip
from storage.officials import new_code

LIST_LIMIT = 20
# /清单 全部: the whole town, even typed in a village's group.
ALL_WORDS = ("全部", "全镇", "所有", "all")

# Which status changes each official command may make, from which states. Closing a group report (销号) is an
# acceptance (handlers.ledger); tips, which have no acceptance, close directly.
TRANSITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "整改完成": ("rectified", ("reported", "rectifying")),
    "整改中": ("rectifying", ("reported",)),
    "不属实": ("rejected", ("reported", "rectifying")),
}
TIP_TRANSITIONS = {**TRANSITIONS, "销号": ("closed", ("reported", "rectifying", "rectified"))}


@dataclass
class CommandContext:
    """One command invocation: the open session, the services, the message and who sent it."""

    session: Session
    core: Core
    msg: IncomingMessage
    group: Group | None
    official: Official | None
    command: str
    args: str
    # The tipsters' ten-minute follow-up windows (memory only); None where no router is around.
    followups: tip_followup.FollowupWindows | None = None

    def t(self, key: str, **values: object) -> str:
        """Shortcut for the wording lookup."""
        return self.core.texts(key, **values)

    def refuse(self, refusal: permissions.Refusal) -> str:
        """The Chinese answer for a permission refusal."""
        values = dict(refusal.values)
        if "kind" in values:
            values["kind"] = self.core.texts.label("group_kinds", str(values["kind"]))
        return self.t(refusal.key, **values)


def _report_arg(ctx: CommandContext) -> tuple[Report | None, str, str | None]:
    """The report named by the first argument, the rest of the arguments, and an error reply if any."""
    parsed = parse_ids(ctx.args, many=False)
    if parsed is None:
        return None, "", ctx.t("commands.need_report_id", command=ctx.command)
    report = report_repo.get_report(ctx.session, parsed.ids[0])
    if report is None:
        return None, "", ctx.t("commands.report_not_found", id=parsed.ids[0])
    return report, parsed.rest, None


def _tip_arg(ctx: CommandContext) -> tuple[Tip | None, str, str | None] | None:
    """For a tip number (``T482913``): the tip, the rest and an error reply; None if the argument is no tip number.

    Outside an official's private chat a tip number gets exactly the answer an unknown number gets, so a group
    can neither probe tip numbers nor see anything about a tip.
    """
    parsed = tip_repo.parse_tip_number(ctx.args)
    if parsed is None:
        return None
    number, rest = parsed
    label = tip_repo.tip_label(number)
    if ctx.official is None or ctx.msg.chat_type != "private":
        return None, "", ctx.t("commands.report_not_found", id=label)
    if not permissions.may_read_tips(ctx.official):
        return None, "", ctx.t("permissions.tips_only")
    tip = tip_repo.get_tip(ctx.session, number)
    if tip is None:
        return None, "", ctx.t("commands.report_not_found", id=label)
    return tip, rest, None


def _change_tip_status(ctx: CommandContext, tip: Tip, note: str) -> str:
    target, allowed = TIP_TRANSITIONS[ctx.command]
    texts = ctx.core.texts
    label = tip_repo.tip_label(tip.id)
    if tip.status not in allowed:
        return ctx.t(
            "commands.bad_status_change",
            id=label,
            status=texts.label("statuses", tip.status),
            target=texts.label("statuses", target),
        )
    assert ctx.official is not None
    tip_repo.set_status(
        ctx.session, tip, target, official_actor(ctx.official), note=note or None, now=ctx.core.clock()
    )
    if target == "rejected":
        tip_followup.void_reward(ctx.session, tip, official_actor(ctx.official), ctx.core.clock())
    note_text = ctx.t("commands.rectified_note", note=note) if note else ""
    if target == "rectified":
        return ctx.t("commands.rectified", id=label, note=note_text)
    return ctx.t("commands.status_changed", id=label, status=texts.label("statuses", target), note=note_text)


def change_status(ctx: CommandContext) -> str:
    """Official: move reports along their lifecycle; ``/整改完成 4，5 说明`` takes several numbers, each answered.

    ``/销号`` is an acceptance that passed (handlers.ledger). Tips (``T`` numbers) one at a time, in private only.
    """
    tip_arg = _tip_arg(ctx)
    if tip_arg is not None:
        tip, tip_note, tip_error = tip_arg
        if tip_error or tip is None:
            return tip_error or ""
        return _change_tip_status(ctx, tip, tip_note)
    if ctx.command == "销号":
        return ledger.close(ctx)
    parsed = parse_ids(ctx.args)
    if parsed is None:
        return ctx.t("commands.need_report_id", command=ctx.command)
    return "\n".join(_change_one(ctx, rid, parsed.rest) for rid in parsed.ids)


def _change_one(ctx: CommandContext, report_id: int, note: str) -> str:
    report = report_repo.get_report(ctx.session, report_id)
    if report is None:
        return ctx.t("commands.report_not_found", id=report_id)
    assert ctx.official is not None  # the registry checked the permission
    refusal = permissions.report_scope(ctx.official, report.village, report.id)
    if refusal is not None:
        return ctx.refuse(refusal)
    target, allowed = TRANSITIONS[ctx.command]
    texts = ctx.core.texts
    if report.status not in allowed:
        return ctx.t(
            "commands.bad_status_change",
            id=report.id,
            status=texts.label("statuses", report.status),
            target=texts.label("statuses", target),
        )
    report_repo.set_status(
        ctx.session, report, target, official_actor(ctx.official), note=note or None, now=ctx.core.clock()
    )
    note_text = ctx.t("commands.rectified_note", note=note) if note else ""
    if target == "rectified":
        return ctx.t("commands.rectified", id=report.id, note=note_text)
    return ctx.t(
        "commands.status_changed", id=report.id, status=texts.label("statuses", target), note=note_text
    )


def _place(ctx: CommandContext, report: Report) -> str:
    return report.location or report.village or ctx.t("replies.place_unknown")


def _tip_detail(ctx: CommandContext, tip: Tip) -> str:
    texts, core = ctx.core.texts, ctx.core
    rectified = (
        ctx.t(
            "commands.report_detail_rectified",
            at=core.local_date(tip.rectified_at),
            note=tip.rectification_note or "",
        )
        if tip.rectified_at
        else ""
    )
    detail = ctx.t(
        "commands.tip_detail",
        id=tip_repo.tip_label(tip.id),
        kind=texts.label("kinds", tip.kind),
        category=texts.label("categories", tip.category),
        severity=texts.label("severities", tip.severity),
        status=texts.label("statuses", tip.status),
        place=tip.location or tip.village or ctx.t("replies.place_unknown"),
        created=core.local_date(tip.created_at),
        deadline=core.local_date(tip.deadline),
        rectified=rectified,
        text=tip.text if tip.purged_at is None else ctx.t("tips.purged"),
    )
    return "\n".join([detail, *tip_followup.official_lines(ctx, tip)])


def query(ctx: CommandContext) -> str:
    """Anyone: one report's details; tips (``T`` numbers) only for officials in a private chat."""
    tip_arg = _tip_arg(ctx)
    if tip_arg is not None:
        tip, _, tip_error = tip_arg
        if tip_error or tip is None:
            return tip_error or ""
        return _tip_detail(ctx, tip) + photos.photo_counts_line(ctx.session, ctx.core, tip_id=tip.id)
    report, _, error = _report_arg(ctx)
    if error or report is None:
        return error or ""
    texts, core = ctx.core.texts, ctx.core
    status = texts.label("statuses", report.status)
    if report.anonymous and not (permissions.may_read_tips(ctx.official) and ctx.msg.chat_type == "private"):
        # Legacy guard (tips live in their own store now): never say that a number is anonymous.
        return ctx.t("commands.report_not_found", id=report.id)
    if not permissions.may_act_on_village(ctx.official, report.village):
        # Villagers, and village officials asking about another village, see the public card.
        note = ctx.t("commands.receipt_note", note=report.public_note) if report.public_note else ""
        card = ctx.t(
            "commands.report_detail_public",
            id=report.id,
            category=texts.label("categories", report.category),
            severity=texts.label("severities", report.severity),
            status=status,
            created=core.local_date(report.created_at),
            note=note,
        )
        return card + photos.photo_counts_line(ctx.session, ctx.core, report=report)
    return ledger.card(ctx, report)  # the official's card counts the photos itself


def open_list(ctx: CommandContext) -> str:
    """Anyone: open hazards, optionally of one village; anonymous tips only for officials in private."""
    core = ctx.core
    village = None
    if ctx.args in ALL_WORDS:
        pass  # the whole town, even in a village's group
    elif ctx.args:
        # Only a village we know: whatever else was typed is never repeated back as the bot's own words.
        village = core.profile.village_of(ctx.args)
        if village is None:
            choices = "、".join(v.name for v in core.profile.villages)
            return ctx.t("commands.list_unknown_village", choices=choices)
    elif ctx.group is not None and ctx.group.kind == "village":
        village = ctx.group.unit
    elif ctx.official is not None and ctx.official.role == "village":
        village = ctx.official.unit  # a village official's own list by default
    tip_reader = permissions.may_read_tips(ctx.official) and ctx.msg.chat_type == "private"
    # Counted and paged in SQL: the first LIST_LIMIT (major ones first) and how many there are in all.
    count = report_repo.count_open(ctx.session, village=village, include_anonymous=tip_reader)
    rows = (
        report_repo.open_page(ctx.session, village=village, include_anonymous=tip_reader, limit=LIST_LIMIT)
        if count
        else []
    )
    tips = tip_repo.open_tips(ctx.session, village=village, limit=LIST_LIMIT) if tip_reader else []
    scope = village or ctx.t("commands.list_scope_all")
    waiting, awaiting = ledger_repo.awaiting_acceptance(ctx.session, village=village, limit=LIST_LIMIT)
    if not count and not tips and not waiting:
        return ctx.t("commands.list_empty", scope=scope)
    now = core.clock()
    lines = [ctx.t("commands.list_header", scope=scope, count=count)]
    for r in rows:
        lines.append(
            ctx.t(
                "commands.list_item",
                id=r.id,
                severity_short="【重大】" if r.severity == "major" else "",
                category=core.texts.label("categories", r.category),
                place=_place(ctx, r),
                status=core.texts.label("statuses", r.status),
                age=max(0, (now - r.created_at).days),
            )
        )
    if count > LIST_LIMIT:
        lines.append(ctx.t("commands.list_more", count=count - LIST_LIMIT))
    if waiting:
        lines.append(ctx.t("commands.list_awaiting_header", count=waiting))
        for r in awaiting:
            failed = ctx.t("commands.list_failed", count=r.failed_acceptances) if r.failed_acceptances else ""
            lines.append(
                ctx.t(
                    "commands.list_awaiting_item",
                    id=r.id,
                    category=core.texts.label("categories", r.category),
                    place=_place(ctx, r),
                    failed=failed,
                )
            )
        if waiting > LIST_LIMIT:
            lines.append(ctx.t("commands.list_more", count=waiting - LIST_LIMIT))
    for tip in tips:
        lines.append(
            ctx.t(
                "commands.tip_list_item",
                id=tip_repo.tip_label(tip.id),
                kind=core.texts.label("kinds", tip.kind),
                category=core.texts.label("categories", tip.category),
                place=tip.location or tip.village or ctx.t("replies.place_unknown"),
                status=core.texts.label("statuses", tip.status),
            )
        )
    return "\n".join(lines)


def progress(ctx: CommandContext) -> str:
    """Anyone holding a receipt code, in a private chat: the status of their tip and the officials' public note.

    Outside a private chat the code is refused, nothing is said about the tip, and the code is voided; its next
    private use hands out a fresh code and kills the old one for good.
    """
    if ctx.msg.chat_type != "private":
        if ctx.args:
            tip_repo.void_receipt(ctx.session, ctx.args)
        return ctx.t("commands.progress_private_only")
    if not ctx.args:
        return ctx.t("commands.need_receipt")
    tip = tip_repo.find_by_receipt(ctx.session, ctx.args)
    if tip is None:
        return ctx.t("commands.receipt_not_found")
    texts = ctx.core.texts
    reissued = ""
    if tip.receipt_voided:
        code = new_code(RECEIPT_LENGTH)
        tip_repo.reissue_receipt(ctx.session, tip, code)
        reissued = ctx.t("commands.receipt_reissued", code=format_receipt(code)) + "\n"
    note = ctx.t("commands.receipt_note", note=tip.public_note) if tip.public_note else ""
    status = ctx.t(
        "commands.receipt_status",
        kind=texts.label("kinds", tip.kind),
        id=tip_repo.tip_label(tip.id),
        status=texts.label("statuses", tip.status),
        created=ctx.core.local_date(tip.created_at),
        note=note,
    )
    extra = tip_followup.progress_extra(ctx, tip)
    return reissued + status + (f"\n{extra}" if extra else "")


def bind(ctx: CommandContext) -> str:
    """Anyone with a binding code, in a private chat: become the official the code was issued for.

    A code typed anywhere else is voided on the spot and the admins are told, so nobody else can take it.
    """
    if ctx.msg.chat_type != "private":
        codes = [ctx.args, *binding.candidates(ctx.args)] if ctx.args else []
        if binding.void_leaked(ctx.session, ctx.core, codes, ctx.group):
            return ctx.t("commands.bind_voided_in_group")
        return ctx.t("commands.bind_private_only")
    if not ctx.args:
        return ctx.t("commands.need_bind_code")
    now = ctx.core.clock()
    official = official_repo.redeem_binding_code(
        ctx.session, ctx.core.secret, ctx.args, ctx.msg.platform, ctx.msg.sender_id, now=now
    )
    if official is None:
        return ctx.t("commands.bind_failed")
    audit.record(
        ctx.session,
        official_actor(official),
        "code.redeemed",
        f"official:{official.id}",
        f"role={official.role} unit={official.unit or '-'} tips={official.tips}",
        now=now,
    )
    return ctx.t(
        "commands.bind_ok",
        name=official.name,
        unit=official.unit or ctx.core.profile.town,
        role=ctx.core.texts.label("roles", official.role),
    )


def register_group(ctx: CommandContext) -> str:
    """Official: tag the current group with the village, station or enterprise it belongs to."""
    if ctx.group is None:
        return ctx.t("commands.register_group_only")
    if not ctx.args:
        return ctx.t("commands.need_unit")
    unit = ctx.core.profile.find_unit(ctx.args)
    if unit is None:
        choices = "、".join(u.name for u in ctx.core.profile.units[:12])
        return ctx.t("commands.unknown_unit", unit=ctx.args, choices=choices)
    assert ctx.official is not None  # the registry checked the permission
    refusal = permissions.tag_scope(ctx.official, unit.kind, unit.name, ctx.group)
    if refusal is not None:
        return ctx.refuse(refusal)
    old = f"{ctx.group.kind or '-'}/{ctx.group.unit or '-'}"
    group_repo.upsert_group(ctx.session, ctx.msg.platform, ctx.msg.chat_id, kind=unit.kind, unit=unit.name)
    audit.record(
        ctx.session,
        official_actor(ctx.official),
        "group.tagged",
        f"group:{ctx.group.id}",
        f"{old} -> {unit.kind}/{unit.name}",
        now=ctx.core.clock(),
    )
    return ctx.t(
        "commands.group_registered", unit=unit.name, kind=ctx.core.texts.label("group_kinds", unit.kind)
    )


def broadcast(ctx: CommandContext) -> str:
    """Official: preview a broadcast to many groups; nothing is sent until it is confirmed."""
    library = "、".join(f"@{name}" for name in ctx.core.publicity)
    target, _, content = ctx.args.partition(" ")
    if not target or not content.strip():
        return ctx.t("broadcast.usage", library=library)
    assert ctx.official is not None
    try:
        refusal = permissions.broadcast_scope(
            ctx.official, broadcasts.resolve_targets(ctx.session, ctx.core.profile, [target])
        )
        if refusal is not None:
            return ctx.refuse(refusal)
        preview = broadcasts.create_preview(
            ctx.session,
            ctx.core.profile,
            ctx.core.publicity,
            actor=official_actor(ctx.official),
            target=target,
            content=content,
            reply_platform=ctx.msg.platform,
            reply_chat_id=ctx.msg.chat_id,
            now=ctx.core.clock(),
        )
    except broadcasts.BroadcastError as exc:
        word = str(exc)
        if content.strip().lstrip("@＠").startswith(word):
            return ctx.t("broadcast.unknown_library", name=word, library=library)
        return ctx.t("broadcast.unknown_target", target=word)
    if not preview.groups:
        return ctx.t("broadcast.no_groups", target=target)
    return broadcasts.preview_text(ctx.core.texts, preview)


def confirm_broadcast(ctx: CommandContext) -> str:
    """Official: confirm one's own previewed broadcast within the time limit; it is then queued once."""
    parsed = parse_ids(ctx.args, many=False)
    if parsed is None:
        return ctx.t("broadcast.need_id")
    bid = parsed.ids[0]
    item = broadcast_repo.get_broadcast(ctx.session, bid)
    if item is None:
        return ctx.t("broadcast.not_found", id=bid)
    assert ctx.official is not None
    if item.actor != official_actor(ctx.official):
        return ctx.t("broadcast.not_yours", id=bid)
    if item.status != "pending":
        return ctx.t("broadcast.already", id=bid)
    now = ctx.core.clock()
    if now > item.expires_at:
        return ctx.t("broadcast.expired", id=bid, minutes=broadcasts.CONFIRM_MINUTES)
    count = broadcasts.queue(ctx.session, ctx.core.texts, ctx.core.profile, item, now)
    return ctx.t("broadcast.confirmed", id=bid, count=count)


def photos_command(ctx: CommandContext) -> str | list[Reply]:
    """Official, in private: a report's photos, before then after; a tip's only for admins and granted officials."""
    if ctx.msg.chat_type != "private":
        tip_number = tip_repo.parse_tip_number(ctx.args)
        parsed = parse_ids(ctx.args, many=False) if tip_number is None else None
        # Only a number is repeated back, never what else was typed.
        label = tip_repo.tip_label(tip_number[0]) if tip_number else str(parsed.ids[0]) if parsed else "编号"
        return ctx.t("photos.private_only", id=label)
    tip_arg = _tip_arg(ctx)
    if tip_arg is not None:
        tip, _, tip_error = tip_arg
        if tip_error or tip is None:
            return tip_error or ""
        label = tip_repo.tip_label(tip.id)
        rows = attachment_repo.list_attachments(ctx.session, tip_id=tip.id)
        header = ctx.t("photos.tip_header", id=label, count=len(rows))
    else:
        report, _, error = _report_arg(ctx)
        if error or report is None:
            return error or ""
        if report.anonymous and not permissions.may_read_tips(ctx.official):
            return ctx.t("commands.report_not_found", id=report.id)
        assert ctx.official is not None  # the registry checked the permission
        refusal = permissions.report_scope(ctx.official, report.village, report.id)
        if refusal is not None:
            return ctx.refuse(refusal)
        label = f"#{report.id}"
        rows = attachment_repo.list_attachments(ctx.session, report_id=report.id)
        counts = {role: len([r for r in rows if r.role == role]) for role in ATTACHMENT_ROLES}
        header = ctx.t("photos.header", id=label, **counts)
    if not rows:
        return ctx.t("photos.none", id=label)
    store = photos.store_for(ctx.core)
    chat = ctx.msg.chat_id
    replies = [Reply(chat, header)]
    missing = 0
    for role in ATTACHMENT_ROLES:
        side = [r for r in rows if r.role == role]
        if not side:
            continue
        if tip_arg is None:
            count = len(side)
            replies.append(
                Reply(chat, ctx.t("photos.side_header", side=photos.side_label(ctx.core, role), count=count))
            )
        for row in side:
            data = store.read(row.sha256) if store is not None else None
            if data is None:
                missing += 1
            else:
                replies.append(Reply(chat, "", image=data))
    if missing:
        replies.append(Reply(chat, ctx.t("photos.missing", count=missing)))
    return replies


def help_text(ctx: CommandContext, registry: CommandRegistry) -> str:
    """Anyone: how to use the bot; officials also see their commands."""
    lines = [ctx.t("commands.help_header", bot=ctx.core.profile.bot_name), ctx.t("commands.help_general")]

    def line(cmd: Command) -> str:
        name, aliases = cmd.name, cmd.aliases
        text = ctx.t(
            "commands.help_line", name=name, args=ctx.t(f"help_args.{name}"), help=ctx.t(f"help.{name}")
        )
        if aliases:
            text += ctx.t("commands.help_aliases", aliases=" ".join(f"/{a}" for a in aliases))
        return text

    lines += [line(c) for c in registry if not c.official_only]
    if ctx.official is not None:
        lines.append(ctx.t("commands.help_official_header"))
        lines += [line(c) for c in registry if c.official_only]
    platform_help = ctx.core.texts.get("help_platform", ctx.msg.platform)
    if platform_help:
        lines.append(platform_help)
    return "\n".join(lines)


def build_registry() -> CommandRegistry:
    """The bot's commands, in help order, with the ASCII aliases Telegram's menu can show."""
    reg = CommandRegistry()
    reg.add("查询", query, aliases=("status", "query"))
    reg.add("清单", open_list, aliases=("list",))
    reg.add("进度", progress, aliases=("progress",))
    reg.add("绑定", bind, aliases=("bind",))
    reg.add("帮助", lambda ctx: help_text(ctx, reg), aliases=("help", "start"))
    reg.add("整改完成", change_status, aliases=("done",), official_only=True)
    reg.add("整改中", change_status, aliases=("fixing",), official_only=True)
    reg.add("销号", change_status, aliases=("close",), official_only=True)
    reg.add("不属实", change_status, aliases=("reject",), official_only=True)
    reg.add("登记群", register_group, aliases=("register",), official_only=True)
    reg.add("广播", broadcast, aliases=("broadcast",), official_only=True)
    reg.add("确认广播", confirm_broadcast, aliases=("confirm",), official_only=True)
    reg.add("登记", review.file_command, aliases=("file",), official_only=True)
    reg.add("忽略", review.ignore_command, aliases=("ignore",), official_only=True)
    reg.add("不是隐患", review.not_a_hazard_command, aliases=("notahazard",), official_only=True)
    reg.add("指派", ledger.assign, aliases=("assign",), official_only=True)
    reg.add("措施", ledger.measures, aliases=("measures",), official_only=True)
    reg.add("资金", ledger.funds, aliases=("funds",), official_only=True)
    reg.add("延期", ledger.extend, aliases=("extend",), official_only=True)
    reg.add("督办", ledger.supervise, aliases=("supervise",), official_only=True)
    reg.add("五落实", ledger.five, aliases=("five",), official_only=True)
    reg.add("验收", ledger.accept, aliases=("accept",), official_only=True)
    reg.add("补充", tip_followup.supplement_command, aliases=("supplement",))
    reg.add("领奖", tip_followup.claim_command, aliases=("claim",))
    reg.add("追问", tip_followup.ask_command, aliases=("ask",), official_only=True)
    reg.add("属实", tip_followup.verify_command, aliases=("verify",), official_only=True)
    reg.add("奖励", tip_followup.override_command, aliases=("reward",), official_only=True)
    reg.add("已兑付", tip_followup.paid_command, aliases=("paid",), official_only=True)
    reg.add("同一事项", tip_followup.same_matter_command, aliases=("samematter",), official_only=True)
    reg.add("台账", ledger_command, aliases=("ledger",), official_only=True)
    reg.add("照片", photos_command, aliases=("photos",), official_only=True)
    reg.add("后台", web_login.login_command, aliases=("web",), official_only=True)
    reg.add("退出后台", web_login.logout_command, aliases=("weblogout",), official_only=True)
    return reg
