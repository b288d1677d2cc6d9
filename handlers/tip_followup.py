"""Tips that lead somewhere: officials ask (``/追问``), the tipster reads and answers (``/进度``, ``/补充`` or a plain
message within ten minutes), and verified tips earn a reward (``/属实``, ``/奖励``, ``/已兑付``, ``/同一事项``,
``/领奖``). A closed tip's text, thread and photos are purged after the retention period.

The bot never knows who the tipster is: nothing is pushed to them, the ten-minute window lives in memory under a
keyed hash of the chat, and the officials' notice of a supplement waits for the next full hour and names only the
tip number.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from handlers import permissions
from handlers.arguments import format_amount, parse_amount
from handlers.context import Core, official_actor
from storage import audit, outbox
from storage import officials as official_repo
from storage import tip_threads as thread_repo
from storage import tips as tip_repo
from storage.models import Tip, TipReward

if TYPE_CHECKING:
    from handlers.chat_commands import CommandContext

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=10)
CATEGORY_WORDS = {
    "重大隐患": "major_hazard",
    "重大事故隐患": "major_hazard",
    "违法行为": "violation",
    "违法": "violation",
    "一般隐患": "general",
    "一般": "general",
}


@dataclass(frozen=True)
class _Open:
    tip_id: int
    expires_at: datetime


class FollowupWindows:
    """For ten minutes after ``/进度``, a private chat's plain messages supplement that tip; memory only."""

    def __init__(self, secret: bytes, window: timedelta = WINDOW) -> None:
        self._secret = secret
        self.window = window
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()

    def _key(self, platform: str, chat_id: str) -> str:
        return hmac.new(self._secret, f"followup:{platform}:{chat_id}".encode(), hashlib.sha256).hexdigest()

    def open(self, platform: str, chat_id: str, tip_id: int, now: datetime) -> None:
        """Open (or renew) the chat's window on ``tip_id``."""
        with self._lock:
            self._open[self._key(platform, chat_id)] = _Open(tip_id, now + self.window)

    def current(self, platform: str, chat_id: str, now: datetime) -> int | None:
        """The tip the chat's open window belongs to, or None (an expired window is forgotten)."""
        key = self._key(platform, chat_id)
        with self._lock:
            found = self._open.get(key)
            if found is not None and now > found.expires_at:
                del self._open[key]
                found = None
        return found.tip_id if found else None

    def purge(self, now: datetime) -> int:
        """Forget every expired window; returns how many."""
        with self._lock:
            old = [k for k, w in self._open.items() if now > w.expires_at]
            for k in old:
                del self._open[k]
        return len(old)


def _actor(ctx: CommandContext) -> str:
    assert ctx.official is not None  # the registry checked the permission
    return official_actor(ctx.official)


# --- the thread ---------------------------------------------------------------------------------------------


def ask_command(ctx: CommandContext) -> str:
    """Official with tip permission, in private: ``/追问 T482913 问题`` stores a question on the tip's thread."""
    from handlers.chat_commands import _tip_arg

    arg = _tip_arg(ctx)
    if arg is None:
        return ctx.t("tips.need_tip", command=ctx.command)
    tip, question, error = arg
    if error or tip is None:
        return error or ""
    if not question:
        return ctx.t("tips.need_question")
    assert ctx.official is not None
    row = thread_repo.ask(ctx.session, tip, question, _actor(ctx), now=ctx.core.clock())
    asked = sum(1 for m in thread_repo.thread(ctx.session, tip.id) if m.kind == "question")
    return ctx.t("tips.asked", id=tip_repo.tip_label(tip.id), number=asked, seq=row.seq)


def progress_extra(ctx: CommandContext, tip: Tip) -> str:
    """What ``/进度`` adds for the tipster: open questions (marked read), the reward, and the open window."""
    session, now = ctx.session, ctx.core.clock()
    parts = []
    questions = thread_repo.open_questions(session, tip.id)
    if questions:
        lines = [ctx.t("tips.questions_head", count=len(questions))]
        lines += [ctx.t("tips.question_line", number=i, text=q.text) for i, q in enumerate(questions, 1)]
        lines.append(ctx.t("tips.how_to_answer"))
        parts.append("\n".join(lines))
        thread_repo.mark_read(session, tip.id, now=now)
    reward = thread_repo.get_reward(session, tip.id)
    if reward is not None:
        parts.append(reward_line(ctx, reward))
    if ctx.followups is not None and tip.purged_at is None:
        ctx.followups.open(ctx.msg.platform, ctx.msg.chat_id, tip.id, now)
    return "\n".join(parts)


def reward_line(ctx: CommandContext, reward: TipReward) -> str:
    """The reward as the tipster reads it: amount, status, deadline and where to claim."""
    key = {
        "pending": "tips.reward_pending",
        "paid": "tips.reward_paid",
        "expired": "tips.reward_expired",
    }.get(reward.status, "tips.reward_void")
    return ctx.t(
        key,
        amount=format_amount(reward.amount_fen),
        deadline=ctx.core.local_date(reward.claim_deadline),
        department=reward.department,
    )


def supplement_command(ctx: CommandContext) -> str:
    """Tipster, in private: ``/补充 回执码 内容`` adds to their tip. Elsewhere the code is refused and voided."""
    if ctx.msg.chat_type != "private":
        code = ctx.args.split(maxsplit=1)[0] if ctx.args else ""
        if code:
            tip_repo.void_receipt(ctx.session, code)
        return ctx.t("commands.progress_private_only")
    code, _, text = ctx.args.partition(" ")
    if not code or not text.strip():
        return ctx.t("tips.need_supplement")
    tip = tip_repo.find_by_receipt(ctx.session, code)
    if tip is None or tip.receipt_voided:
        return ctx.t("commands.receipt_not_found")
    return supplement(ctx.session, ctx.core, tip, text.strip())


def supplement(session: Session, core: Core, tip: Tip, text: str) -> str:
    """Add the tipster's text to the tip's thread and queue the notice for tip-permitted officials."""
    if tip.purged_at is not None or tip.status in ("closed", "rejected", "duplicate"):
        return core.texts("tips.closed_no_supplement", id=tip_repo.tip_label(tip.id))
    now = core.clock()
    thread_repo.supplement(session, tip, text, now=now)
    _notify_supplement(session, core, tip, now)
    return core.texts("tips.supplemented", id=tip_repo.tip_label(tip.id))


def _notify_supplement(session: Session, core: Core, tip: Tip, now: datetime) -> None:
    # Sent at the next full hour, one notice per tip and hour: the officials learn that, not when to the minute.
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    label = tip_repo.tip_label(tip.id)
    text = core.texts("tips.supplement_notice", id=label)
    for official in official_repo.list_officials(session, active_only=True):
        if not permissions.may_read_tips(official):
            continue
        outbox.enqueue(
            session,
            dedup_key=f"tip-supplement:{tip.id}:{next_hour:%Y%m%d%H}:{official.id}",
            event="tip-supplement",
            platform=official.platform,
            chat_id=official.user_id,
            text=text,
            not_before=next_hour,
        )


def _hour_label(ctx: CommandContext, when: datetime) -> str:
    """A thread entry's time as kept: the hour (``06-10 10时``)."""
    return when.astimezone(ctx.core.tz).strftime("%m-%d %H时")


def thread_lines(ctx: CommandContext, tip: Tip) -> list[str]:
    """The thread for tip-permitted officials, oldest first: who asked when, 举报人 for the tipster, read marks."""
    lines = []
    for m in thread_repo.thread(ctx.session, tip.id):
        if m.kind == "question":
            read = ctx.t("tips.read_mark") if m.read_at else ""
            who = (m.author or "").split("(", 1)[0]
            lines.append(
                ctx.t(
                    "tips.thread_question", who=who, at=_hour_label(ctx, m.created_at), text=m.text, read=read
                )
            )
        else:
            lines.append(ctx.t("tips.thread_answer", at=_hour_label(ctx, m.created_at), text=m.text))
    if lines:
        lines.insert(0, ctx.t("tips.thread_head"))
    return lines


def official_lines(ctx: CommandContext, tip: Tip) -> list[str]:
    """What tip-permitted officials see below a tip's detail: the thread and the reward record."""
    lines = thread_lines(ctx, tip)
    reward = thread_repo.get_reward(ctx.session, tip.id)
    if reward is not None:
        override = (
            ctx.t(
                "tips.override_note",
                computed=format_amount(reward.computed_fen),
                reason=reward.override_reason,
            )
            if reward.override_reason
            else ""
        )
        lines.append(
            ctx.t(
                "tips.reward_card",
                category=ctx.core.texts.label("reward_categories", reward.category),
                fine=format_amount(reward.fine_fen) or "-",
                amount=format_amount(reward.amount_fen),
                override=override,
                status=ctx.core.texts.label("reward_statuses", reward.status),
                deadline=ctx.core.local_date(reward.claim_deadline),
                department=reward.department,
            )
        )
    return lines


# --- rewards ------------------------------------------------------------------------------------------------


def _admin_tip(ctx: CommandContext) -> tuple[Tip | None, str, str | None]:
    """The tip named first, for an admin in private; else the answer explaining why not."""
    from handlers.chat_commands import _tip_arg

    if not permissions.is_admin(ctx.official) and ctx.msg.chat_type == "private":
        return None, "", ctx.t("tips.admin_only")
    arg = _tip_arg(ctx)
    if arg is None:
        return None, "", ctx.t("tips.need_tip", command=ctx.command)
    tip, rest, error = arg
    return tip, rest, error


def verify_command(ctx: CommandContext) -> str:
    """Admin: ``/属实 T482913 重大隐患|违法行为|一般隐患 [罚款金额]`` verifies the tip and creates its reward record."""
    tip, rest, error = _admin_tip(ctx)
    if tip is None:
        return error or ""
    words = rest.split()
    if not words or words[0] not in CATEGORY_WORDS:
        return ctx.t("tips.verify_usage")
    category = CATEGORY_WORDS[words[0]]
    fine = parse_amount(words[1]) if len(words) > 1 else None
    if len(words) > 1 and fine is None:
        return ctx.t("ledger.bad_amount", text=words[1][:20])
    if tip.status in ("rejected", "duplicate"):
        return ctx.t("tips.verify_rejected", id=tip_repo.tip_label(tip.id))
    tariff = ctx.core.profile.rewards
    now = ctx.core.clock()
    actor = _actor(ctx)
    if tip.status == "reported":
        tip_repo.set_status(ctx.session, tip, "rectifying", actor, now=now)
    reward = thread_repo.create_reward(
        ctx.session,
        tip,
        category=category,
        fine_fen=fine,
        computed_fen=tariff.reward(category, fine),
        verified_by=actor,
        department=tariff.department or ctx.core.profile.office,
        claim_days=tariff.claim_days,
        now=now,
    )
    return ctx.t(
        "tips.verified",
        id=tip_repo.tip_label(tip.id),
        category=ctx.core.texts.label("reward_categories", category),
        amount=format_amount(reward.amount_fen),
        deadline=ctx.core.local_date(reward.claim_deadline),
    )


def _reward_of(ctx: CommandContext) -> tuple[Tip | None, TipReward | None, str, str | None]:
    tip, rest, error = _admin_tip(ctx)
    if tip is None:
        return None, None, "", error
    reward = thread_repo.get_reward(ctx.session, tip.id)
    if reward is None:
        return None, None, "", ctx.t("tips.no_reward", id=tip_repo.tip_label(tip.id))
    return tip, reward, rest, None


def override_command(ctx: CommandContext) -> str:
    """Admin: ``/奖励 T482913 金额 理由`` sets the reward by hand; the computed amount and the reason are kept."""
    tip, reward, rest, error = _reward_of(ctx)
    if tip is None or reward is None:
        return error or ""
    amount_word, _, reason = rest.partition(" ")
    fen = parse_amount(amount_word) if amount_word else None
    if fen is None or not reason.strip():
        return ctx.t("tips.override_usage")
    thread_repo.override_amount(
        ctx.session,
        tip,
        reward,
        fen,
        reason.strip(),
        _actor(ctx),
        now=ctx.core.clock(),
    )
    return ctx.t(
        "tips.overridden",
        id=tip_repo.tip_label(tip.id),
        amount=format_amount(fen),
        computed=format_amount(reward.computed_fen),
        reason=reason.strip(),
    )


def paid_command(ctx: CommandContext) -> str:
    """Admin: ``/已兑付 T482913 [说明]`` records that the reward was paid out (off-line, at the office)."""
    tip, reward, note, error = _reward_of(ctx)
    if tip is None or reward is None:
        return error or ""
    if reward.status != "pending":
        status = ctx.core.texts.label("reward_statuses", reward.status)
        return ctx.t("tips.reward_not_pending", id=tip_repo.tip_label(tip.id), status=status)
    thread_repo.set_reward_status(
        ctx.session,
        tip,
        reward,
        "paid",
        _actor(ctx),
        note or None,
        now=ctx.core.clock(),
    )
    return ctx.t("tips.paid", id=tip_repo.tip_label(tip.id), amount=format_amount(reward.amount_fen))


def same_matter_command(ctx: CommandContext) -> str:
    """Admin: ``/同一事项 T1 T2``: two tips about one matter; only the earlier-accepted keeps its reward."""
    tip, rest, error = _admin_tip(ctx)
    if tip is None:
        return error or ""
    other_number = tip_repo.parse_tip_number(rest)
    other = tip_repo.get_tip(ctx.session, other_number[0]) if other_number else None
    if other is None or other.id == tip.id:
        return ctx.t("tips.same_usage")
    first, later = sorted((tip, other), key=lambda t: (t.created_at, t.id))
    later_reward = thread_repo.get_reward(ctx.session, later.id)
    if later_reward is not None:
        thread_repo.link_same_matter(ctx.session, later_reward, first.id)
    tip_repo.add_event(
        ctx.session,
        later,
        _actor(ctx),
        "same-matter",
        note=tip_repo.tip_label(first.id),
        at=ctx.core.clock(),
    )
    return ctx.t("tips.same_matter", first=tip_repo.tip_label(first.id), later=tip_repo.tip_label(later.id))


def void_reward(session: Session, tip: Tip, actor: str, now: datetime) -> None:
    """A tip found untrue (``/不属实``) ends its reward."""
    reward = thread_repo.get_reward(session, tip.id)
    if reward is not None and reward.status == "pending":
        thread_repo.set_reward_status(session, tip, reward, "void", actor, "不属实", now=now)


def claim_command(ctx: CommandContext) -> str:
    """Tipster, in private: ``/领奖 回执码``: the amount, the deadline and how to claim it at the office."""
    if ctx.msg.chat_type != "private":
        if ctx.args:
            tip_repo.void_receipt(ctx.session, ctx.args)
        return ctx.t("commands.progress_private_only")
    if not ctx.args:
        return ctx.t("commands.need_receipt")
    tip = tip_repo.find_by_receipt(ctx.session, ctx.args)
    if tip is None or tip.receipt_voided:
        return ctx.t("commands.receipt_not_found")
    reward = thread_repo.get_reward(ctx.session, tip.id)
    if reward is None:
        return ctx.t("tips.claim_none")
    line = reward_line(ctx, reward)
    if reward.status != "pending":
        return line
    instructions = ctx.core.profile.rewards.claim_instructions or ctx.t(
        "tips.claim_default", department=reward.department
    )
    return f"{line}\n{instructions}"


# --- housekeeping -------------------------------------------------------------------------------------------


def expire(session: Session, now: datetime) -> int:
    """Rewards past their claim deadline expire."""
    return thread_repo.expire_rewards(session, now)


def purge_closed(
    session: Session, now: datetime, retention_days: int, data_dir: Path | None, *, dry_run: bool = False
) -> dict[str, int]:
    """Purge closed tips past the retention period: text, thread and photos go; the statistics stay.

    Writes one audit event with the counts. Photo files no other row uses are deleted from ``data_dir``.
    """
    from sqlalchemy import select

    from storage.models import Attachment

    before = now - timedelta(days=retention_days)
    tips = thread_repo.purgeable(session, before)
    if dry_run:
        return {"tips": len(tips), "messages": 0, "photos": 0}
    ids = [t.id for t in tips]
    hashes = (
        set(session.scalars(select(Attachment.sha256).where(Attachment.tip_id.in_(ids)))) if ids else set()
    )
    counts = thread_repo.purge(session, tips, now=now)
    if counts["tips"]:
        still_used = (
            set(session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(hashes))))
            if hashes
            else set()
        )
        if data_dir is not None:
            for sha in hashes - still_used:
                for path in (data_dir / "photos" / sha[:2]).glob(f"{sha}.*"):
                    path.unlink(missing_ok=True)
        detail = f"tips={counts['tips']} messages={counts['messages']} photos={counts['photos']}"
        audit.record(session, "retention", "tips.purged", "tips", detail, now=now)
        log.info("closed tips purged", extra=counts)
    return counts
