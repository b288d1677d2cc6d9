"""The officials' ledger commands (台账): assign, measures, funds, extend, supervise, 五落实, acceptance, and the
full report card with its timeline that ``/查询`` shows them.

A hazard is registered, assigned, fixed within its deadline, accepted by someone other than who fixed it, then
closed (销号). A major hazard needs its five 五落实 items done before it can be accepted. A failed acceptance sends
it back to rectifying and it stays on the books (继续挂账).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import TYPE_CHECKING

from handlers import permissions
from handlers.arguments import format_amount, parse_amount, parse_date, parse_ids
from handlers.context import official_actor
from storage import ledger as ledger_repo
from storage import reports as report_repo
from storage.constants import FIVE_ITEMS
from storage.models import Report

if TYPE_CHECKING:
    from handlers.chat_commands import CommandContext

# Words officials type for each 五落实 item (the local short forms 责任、措施、资金、时限、预案 included).
FIVE_WORDS: dict[str, str] = {
    "目标任务": "goal",
    "目标": "goal",
    "任务": "goal",
    "措施": "goal",
    "经费物资": "funds",
    "经费": "funds",
    "物资": "funds",
    "资金": "funds",
    "机构人员": "staff",
    "机构": "staff",
    "人员": "staff",
    "责任": "staff",
    "时间要求": "schedule",
    "时间": "schedule",
    "时限": "schedule",
    "安全措施和应急预案": "safety",
    "安全措施": "safety",
    "应急预案": "safety",
    "预案": "safety",
}
DONE_WORDS = {
    "已落实": True,
    "落实": True,
    "已完成": True,
    "是": True,
    "未落实": False,
    "没落实": False,
    "否": False,
}
PASS_WORDS = {"合格": True, "通过": True, "不合格": False, "不通过": False}
FINISHED = ("closed", "rejected", "duplicate")
TIMELINE_EVENTS = 8


def _report(ctx: CommandContext, *, town_only: str | None = None) -> tuple[Report | None, str, str | None]:
    """The one report named first in the arguments, the rest, or the Chinese reason why not.

    Checks the official's scope, and with ``town_only`` (the action's name) that they act town-wide.
    """
    parsed = parse_ids(ctx.args, many=False)
    if parsed is None:
        return None, "", _usage(ctx)
    report = report_repo.get_report(ctx.session, parsed.ids[0])
    if report is None:
        return None, "", ctx.t("commands.report_not_found", id=parsed.ids[0])
    assert ctx.official is not None  # the registry checked the permission
    if town_only and not permissions.town_wide(ctx.official):
        return None, "", ctx.t("ledger.town_only", action=town_only)
    refusal = permissions.report_scope(ctx.official, report.village, report.id)
    if refusal is not None:
        return None, "", ctx.refuse(refusal)
    if report.status in FINISHED:
        status = ctx.core.texts.label("statuses", report.status)
        return None, "", ctx.t("ledger.finished", id=report.id, status=status)
    return report, parsed.rest, None


def _usage(ctx: CommandContext) -> str:
    return ctx.t("ledger.usage", command=ctx.command, args=ctx.t(f"help_args.{ctx.command}"))


def _actor(ctx: CommandContext) -> str:
    assert ctx.official is not None
    return official_actor(ctx.official)


def assign(ctx: CommandContext) -> str:
    """Station or admin: ``/指派 23 单位 [责任人]`` names who must fix the hazard."""
    report, rest, error = _report(ctx, town_only=ctx.t("ledger.action_assign"))
    if report is None:
        return error or ""
    unit_word, _, person = rest.partition(" ")
    if not unit_word:
        return _usage(ctx)
    found = ctx.core.profile.find_unit(unit_word)
    unit = found.name if found else unit_word
    ledger_repo.assign(
        ctx.session, report, unit[:128], person.strip()[:64] or None, _actor(ctx), now=ctx.core.clock()
    )
    person_text = f"，责任人 {report.responsible_person}" if report.responsible_person else ""
    return ctx.t("ledger.assigned", id=report.id, unit=unit, person=person_text)


def measures(ctx: CommandContext) -> str:
    """Official in scope: ``/措施 23 内容`` records the rectification measures."""
    report, rest, error = _report(ctx)
    if report is None:
        return error or ""
    if not rest:
        return _usage(ctx)
    ledger_repo.set_measures(ctx.session, report, rest, _actor(ctx), now=ctx.core.clock())
    return ctx.t("ledger.measures_set", id=report.id, measures=rest)


def funds(ctx: CommandContext) -> str:
    """Official in scope: ``/资金 23 5000`` records the rectification funds (元, 万 accepted)."""
    report, rest, error = _report(ctx)
    if report is None:
        return error or ""
    if not rest:
        return _usage(ctx)
    fen = parse_amount(rest)
    if fen is None:
        return ctx.t("ledger.bad_amount", text=rest[:20])
    shown = format_amount(fen)
    ledger_repo.set_funds(ctx.session, report, fen, shown, _actor(ctx), now=ctx.core.clock())
    return ctx.t("ledger.funds_set", id=report.id, amount=shown)


def extend(ctx: CommandContext) -> str:
    """Station or admin: ``/延期 23 12月20日 理由`` moves the deadline to the end of that day, with a reason."""
    report, rest, error = _report(ctx, town_only=ctx.t("ledger.action_extend"))
    if report is None:
        return error or ""
    date_word, _, reason = rest.partition(" ")
    if not date_word:
        return _usage(ctx)
    today = ctx.core.clock().astimezone(ctx.core.tz).date()
    new_day = parse_date(date_word, today)
    if new_day is None:
        return ctx.t("ledger.bad_date", text=date_word[:20])
    if new_day < today:
        return ctx.t("ledger.date_past", date=new_day.isoformat())
    if not reason.strip():
        return ctx.t("ledger.need_reason")
    old = ctx.core.local_date(report.deadline) or "-"
    deadline = datetime.combine(new_day, time(23, 59), tzinfo=ctx.core.tz)
    shown = f"{old} → {new_day.isoformat()}"
    ledger_repo.extend_deadline(
        ctx.session, report, deadline, reason.strip(), shown, _actor(ctx), now=ctx.core.clock()
    )
    return ctx.t("ledger.extended", id=report.id, old=old, new=new_day.isoformat(), reason=reason.strip())


def supervise(ctx: CommandContext) -> str:
    """Station or admin: ``/督办 23 单位`` names the supervising unit."""
    report, rest, error = _report(ctx, town_only=ctx.t("ledger.action_supervise"))
    if report is None:
        return error or ""
    if not rest:
        return _usage(ctx)
    found = ctx.core.profile.find_unit(rest)
    unit = found.name if found else rest
    ledger_repo.supervise(ctx.session, report, unit[:128], _actor(ctx), now=ctx.core.clock())
    return ctx.t("ledger.supervised", id=report.id, unit=unit)


def _five_name(ctx: CommandContext, code: str) -> str:
    return ctx.core.texts.label("five_items", code)


def _missing_text(ctx: CommandContext, missing: list[str]) -> str:
    return "、".join(_five_name(ctx, code) for code in missing)


def five(ctx: CommandContext) -> str:
    """Official in scope: ``/五落实 23 经费 已落实 [说明]`` marks one of a major hazard's 五落实 items."""
    report, rest, error = _report(ctx)
    if report is None:
        return error or ""
    words = rest.split(maxsplit=2)
    if len(words) < 2:
        return _usage(ctx)
    code = FIVE_WORDS.get(words[0])
    if code is None:
        items = "、".join(_five_name(ctx, c) for c in FIVE_ITEMS)
        return ctx.t("ledger.five_unknown", item=words[0][:20], items=items)
    if words[1] not in DONE_WORDS:
        return ctx.t("ledger.five_state")
    if report.severity != "major":
        return ctx.t("ledger.five_not_major", id=report.id)
    done = DONE_WORDS[words[1]]
    note = words[2].strip() if len(words) > 2 else None
    name = _five_name(ctx, code)
    ledger_repo.set_five_item(ctx.session, report, code, done, note, _actor(ctx), name, now=ctx.core.clock())
    missing = ledger_repo.missing_five(ctx.session, report.id)
    tail = (
        ctx.t("ledger.five_missing", items=_missing_text(ctx, missing))
        if missing
        else ctx.t("ledger.five_all")
    )
    return ctx.t("ledger.five_set", id=report.id, item=name, state=words[1], tail=tail)


def acceptance_refusal(ctx: CommandContext, report: Report) -> str | None:
    """Why this official may not accept this report now (None: they may)."""
    assert ctx.official is not None
    if not permissions.town_wide(ctx.official):
        return ctx.t("ledger.town_only", action=ctx.t("ledger.action_accept"))
    if report.status != "rectified":
        status = ctx.core.texts.label("statuses", report.status)
        return ctx.t("ledger.accept_not_rectified", id=report.id, status=status)
    if report.rectified_by == official_actor(ctx.official):
        return ctx.t("ledger.accept_own", id=report.id)
    return None


def accept(ctx: CommandContext) -> str:
    """Station or admin, not who rectified it: ``/验收 23 合格 [说明]`` closes; ``不合格 原因`` sends it back."""
    report, rest, error = _report(ctx)
    if report is None:
        return error or ""
    verdict_word, _, note = rest.partition(" ")
    if verdict_word not in PASS_WORDS:
        return ctx.t("ledger.accept_usage")
    return _accept(ctx, report, PASS_WORDS[verdict_word], note.strip())


def close(ctx: CommandContext) -> str:
    """``/销号 23 [说明]``: the same as an acceptance that passed."""
    report, rest, error = _report(ctx)
    if report is None:
        return error or ""
    return _accept(ctx, report, True, rest)


def _accept(ctx: CommandContext, report: Report, passed: bool, note: str) -> str:
    refusal = acceptance_refusal(ctx, report)
    if refusal is not None:
        return refusal
    if passed and report.severity == "major":
        missing = ledger_repo.missing_five(ctx.session, report.id)
        if missing:
            return ctx.t("ledger.accept_five_missing", id=report.id, items=_missing_text(ctx, missing))
    if not passed and not note:
        return ctx.t("ledger.accept_need_reason")
    ledger_repo.accept(ctx.session, report, passed, note or None, _actor(ctx), now=ctx.core.clock())
    if passed:
        return ctx.t("ledger.accepted", id=report.id)
    return ctx.t("ledger.failed", id=report.id, count=report.failed_acceptances, reason=note)


# --- the card -------------------------------------------------------------------------------------------


def _local(ctx: CommandContext, when: datetime | None, fmt: str = "%Y-%m-%d") -> str:
    return when.astimezone(ctx.core.tz).strftime(fmt) if when else ""


def card(ctx: CommandContext, report: Report) -> str:
    """The official's card: everything the ledger holds about one report, then its recent timeline."""
    texts, t = ctx.core.texts, ctx.t
    session = ctx.session
    lines = [
        t(
            "ledger.card_head",
            id=report.id,
            kind=texts.label("kinds", report.kind),
            category=texts.label("categories", report.category),
            severity=texts.label("severities", report.severity),
        ),
        t(
            "ledger.card_status",
            status=texts.label("statuses", report.status),
            place=report.location or report.village or t("replies.place_unknown"),
            created=_local(ctx, report.created_at),
        ),
    ]
    extended = ledger_repo.extensions(session, report.id)
    overdue = (
        report.deadline is not None
        and report.status in ("reported", "rectifying")
        and report.deadline < ctx.core.clock()
    )
    lines.append(
        t(
            "ledger.card_deadline",
            deadline=_local(ctx, report.deadline) or "-",
            extended=t("ledger.card_extended", count=extended) if extended else "",
            overdue=t("ledger.card_overdue") if overdue else "",
        )
    )
    if report.responsible_unit or report.supervising_unit:
        lines.append(
            t(
                "ledger.card_assignment",
                unit=report.responsible_unit or "-",
                person=report.responsible_person or "",
                supervisor=report.supervising_unit or "-",
            )
        )
    if report.measures or report.funds_fen is not None:
        lines.append(
            t(
                "ledger.card_measures",
                measures=report.measures or "-",
                funds=format_amount(report.funds_fen) or "-",
            )
        )
    if report.severity == "major":
        items = ledger_repo.five_items(session, report.id)
        marks = " ".join(
            _five_name(ctx, code) + ("✓" if code in items and items[code].done else "✗")
            for code in FIVE_ITEMS
        )
        lines.append(t("ledger.card_five", items=marks))
    if report.rectified_at:
        lines.append(
            t(
                "ledger.card_rectified",
                at=_local(ctx, report.rectified_at),
                note=report.rectification_note or "",
                by=_name(report.rectified_by),
            )
        )
    if report.accepted_at:
        verdict = (
            t("ledger.verdict_passed")
            if report.acceptance_verdict == "passed"
            else t("ledger.verdict_failed")
        )
        lines.append(
            t(
                "ledger.card_acceptance",
                verdict=verdict,
                at=_local(ctx, report.accepted_at),
                by=_name(report.accepted_by),
                note=report.acceptance_note or "",
                failed=t("ledger.card_failed", count=report.failed_acceptances)
                if report.failed_acceptances
                else "",
            )
        )
    photos = ledger_repo.photo_counts(session, report.id)
    if photos:
        lines.append(t("ledger.card_photos", before=photos.get("before", 0), after=photos.get("after", 0)))
    lines.append(t("ledger.card_text", text=report.text))
    events = ledger_repo.recent_events(session, report.id, TIMELINE_EVENTS)
    if events:
        lines.append(t("ledger.card_timeline"))
        lines += [_event_line(ctx, e.at, e.action, e.to_status, e.note, e.actor) for e in events]
    return "\n".join(line for line in lines if line)


def _name(actor: str | None) -> str:
    """An actor as people read it: the name without the platform account (``李秀英(telegram:1)`` → 李秀英)."""
    return (actor or "").split("(", 1)[0]


def _event_line(
    ctx: CommandContext, at: datetime, action: str, to_status: str | None, note: str | None, actor: str
) -> str:
    label = ctx.core.texts.label
    what = (
        label("statuses", to_status)
        if action in ("status", "filed") and to_status
        else label("event_actions", action)
    )
    return ctx.t(
        "ledger.card_event",
        at=_local(ctx, at, "%m-%d %H:%M"),
        what=what,
        note=f" {note}" if note else "",
        by=_name(actor),
    )
