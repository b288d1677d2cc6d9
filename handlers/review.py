"""The officials' review queue: uncertain group messages, their batched notices, the decisions, the corrections.

A group message the classifier is unsure about becomes a review item ``R<id>``; the village's officials (in
private) and the station groups get one batched notice, and ``/登记 R12`` or ``/忽略 R12`` decides it. Every
decision (and ``/不是隐患``, reply-``/登记``, a tipster's own confirmation) is stored as a correction that later
retrains the classifier. An uncertain *private* message is only held in memory, under a keyed hash, until the
sender confirms it with ``1``; nothing about it reaches the database unless it is confirmed, and then anonymously.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from handlers import permissions
from handlers.arguments import ascii_chars, parse_ids
from handlers.classifier import Classification
from handlers.commands import parse_command
from handlers.context import Core, official_actor
from handlers.intake import file_anonymous_report, file_group_report
from handlers.messages import IncomingMessage, Outcome
from storage import groups as group_repo
from storage import idempotency, outbox
from storage import officials as official_repo
from storage import reports as report_repo
from storage import review as review_repo
from storage.corrections import add_correction
from storage.models import Group, ReviewItem

if TYPE_CHECKING:
    from handlers.chat_commands import CommandContext

# The first uncertain message waits this long before its notice goes out, so the ones after it join the batch.
NOTICE_BATCH_DELAY = timedelta(minutes=3)
NOTICE_LIST_CAP = 8
EXCERPT_CHARS = 40
REVIEW_TTL = timedelta(days=7)
CONFIRM_WINDOW = timedelta(minutes=10)
FALSE_ALARM_FROM = ("reported", "rectifying")

_ITEM_RE = re.compile(r"^[#＃]?\s*[Rr]\s*(\d{1,9})\s*$")
_CONFIRM_WORDS = frozenset({"1", "确认"})


def group_message_key(platform: str, chat_id: str, message_id: str) -> str:
    """The idempotency key of a group message (the router's key, so a filed message is found again)."""
    return f"g:{platform}:{chat_id}:{message_id}"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The text on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- queueing and notices ---------------------------------------------------------------------------


def queue_group_message(
    session: Session, core: Core, msg: IncomingMessage, group: Group, c: Classification
) -> ReviewItem:
    """Put an uncertain group message in the review queue (once per message); the group is told nothing."""
    return review_repo.add_item(
        session,
        platform=msg.platform,
        chat_id=msg.chat_id,
        group_id=group.id,
        message_id=msg.message_id,
        sender_id=msg.sender_id,
        sender_name=msg.sender_name,
        text=msg.text,
        category=c.category,
        severity=c.severity,
        now=core.clock(),
    )


@dataclass(frozen=True)
class Target:
    """Where a notice goes: a chat on a platform (a group, or an official's private chat)."""

    platform: str
    chat_id: str
    group_id: int | None = None


def notice_targets(session: Session, group: Group, stations: list[Group]) -> list[Target]:
    """The village's officials (privately, by their platform user id) and every active station group."""
    targets: list[Target] = []
    if group.unit:
        targets += [
            Target(o.platform, o.user_id)
            for o in official_repo.list_officials(session, active_only=True)
            if o.unit == group.unit
        ]
    targets += [Target(s.platform, s.chat_id, s.id) for s in stations]
    return targets


def _where(core: Core, group: Group) -> str:
    if group.title:
        return group.title
    if group.unit:
        return core.texts("console.where_group", unit=group.unit)
    return core.texts("review.where_unknown")


def notice_text(core: Core, items: list[ReviewItem], groups: dict[int, Group]) -> str:
    """One notice listing ``items`` (at most ``NOTICE_LIST_CAP`` of them, then how many more)."""
    t = core.texts
    lines = [
        t(
            "review.notice_item",
            id=item.id,
            text=excerpt(item.text),
            where=_where(core, groups[item.group_id]),
            time=item.created_at.astimezone(core.tz).strftime("%H:%M"),
        )
        for item in items[:NOTICE_LIST_CAP]
    ]
    if len(items) > 1:
        lines.insert(0, t("review.notice_header", count=len(items)))
    if len(items) > NOTICE_LIST_CAP:
        rest = items[NOTICE_LIST_CAP:]
        lines.append(t("review.notice_more", count=len(rest), first=rest[0].id, last=rest[-1].id))
    return "\n".join(lines)


def send_notices(session: Session, core: Core, now: datetime) -> int:
    """Queue one notice per target listing every new item, once the oldest has waited the batch delay.

    Returns how many outbox rows were written; the items are marked notified in the same transaction.
    """
    items = review_repo.unnotified(session)
    if not items or now - items[0].created_at < NOTICE_BATCH_DELAY:
        return 0
    stations = group_repo.list_groups(session, kinds=["station"], active_only=True)
    groups: dict[int, Group] = {}
    targets: dict[int, list[Target]] = {}
    batches: dict[Target, list[ReviewItem]] = defaultdict(list)
    for item in items:
        if item.group_id not in groups:
            group = session.get(Group, item.group_id)
            assert group is not None  # a foreign key
            groups[item.group_id] = group
            targets[item.group_id] = notice_targets(session, group, stations)
        for target in targets[item.group_id]:
            batches[target].append(item)
    queued = 0
    for target, batch in batches.items():
        queued += outbox.enqueue(
            session,
            dedup_key=f"review:{target.platform}:{target.chat_id}:R{batch[0].id}-R{batch[-1].id}",
            event="review-notice",
            platform=target.platform,
            chat_id=target.chat_id,
            group_id=target.group_id,
            text=notice_text(core, batch, groups),
        )
    review_repo.mark_notified(session, items, now)
    return queued


def housekeeping(session: Session, core: Core, now: datetime) -> None:
    """Expire items nobody decided within ``REVIEW_TTL`` (no correction is stored) and send due notices."""
    review_repo.expire(session, now - REVIEW_TTL)
    send_notices(session, core, now)


# --- commands ---------------------------------------------------------------------------------------


def _item_arg(ctx: CommandContext) -> tuple[ReviewItem | None, str | None]:
    """The pending review item named by ``R<id>``, or the Chinese answer explaining why not."""
    match = _ITEM_RE.match(ascii_chars(ctx.args))
    if not match:
        return None, ctx.t("review.need_item", command=ctx.command)
    item = review_repo.get_item(ctx.session, int(match.group(1)))
    if item is None:
        return None, ctx.t("review.item_not_found", id=match.group(1))
    if item.status != "pending":
        return None, _decided(ctx, item)
    assert ctx.official is not None  # the registry checked the permission
    refusal = permissions.group_scope(ctx.official, ctx.session.get(Group, item.group_id))
    if refusal is not None:
        return None, ctx.refuse(refusal)
    return item, None


def _decided(ctx: CommandContext, item: ReviewItem) -> str:
    status = ctx.core.texts.label("review_statuses", item.status)
    return ctx.t("review.item_decided", id=item.id, status=status)


def _actor(ctx: CommandContext) -> str:
    assert ctx.official is not None  # the registry checked the permission
    return official_actor(ctx.official)


def _file_for_sender(
    ctx: CommandContext, group: Group, original: IncomingMessage, suspected: tuple[str | None, str | None]
) -> tuple[Outcome, Classification]:
    """File ``original`` as a hazard of its own sender, re-classified, falling back to the suspected labels."""
    c = ctx.core.classifier.classify(original.text, "group")
    decided = replace(
        c,
        intent="hazard",
        category=c.category or suspected[0] or "other",
        severity=c.severity or suspected[1] or "general",
        review=False,
    )
    return file_group_report(ctx.session, ctx.core, original, group, decided), decided


def _group_answer(ctx: CommandContext, result: Outcome, name: str | None, text: str) -> str:
    key = "review.filed_group_duplicate" if result.outcome == "duplicate" else "review.filed_group"
    return ctx.t(key, id=result.report_id, name=name or ctx.t("review.someone"), text=excerpt(text))


def _remember_filed(
    ctx: CommandContext, platform: str, chat_id: str, message_id: str, report_id: int
) -> None:
    key = group_message_key(platform, chat_id, message_id)
    if idempotency.seen(ctx.session, key) is None:
        idempotency.remember(ctx.session, key, private=False, report_id=report_id, at=ctx.core.clock())
    else:
        idempotency.set_report(ctx.session, key, report_id)


def file_command(ctx: CommandContext) -> str:
    """Official: ``/登记 R12`` files a review item for its sender; ``/登记`` as a reply files the quoted message."""
    if not ctx.args and ctx.msg.reply_to is not None:
        return file_reply(ctx)
    item, error = _item_arg(ctx)
    if item is None:
        return error or ""
    group = ctx.session.get(Group, item.group_id)
    assert group is not None
    original = IncomingMessage(
        platform=item.platform,
        chat_id=item.chat_id,
        chat_type="group",
        message_id=item.message_id,
        sender_id=item.sender_id,
        sender_name=item.sender_name or "",
        text=item.text,
    )
    now = ctx.core.clock()
    actor = _actor(ctx)
    if not review_repo.decide(ctx.session, item, "filed", actor, now=now):
        return _decided(ctx, item)
    result, decided = _file_for_sender(ctx, group, original, (item.category, item.severity))
    if result.report_id is None:
        review_repo.reopen(ctx.session, item)
        return ctx.t("review.not_filed", id=item.id, reason=result.reply or "")
    item.report_id = result.report_id
    _remember_filed(ctx, item.platform, item.chat_id, item.message_id, result.report_id)
    add_correction(
        ctx.session,
        text=item.text,
        chat="group",
        intent="hazard",
        category=decided.category,
        severity=decided.severity,
        source="review_file",
        decided_by=actor,
        now=now,
    )
    answer = _group_answer(ctx, result, item.sender_name, item.text)
    if (ctx.msg.platform, ctx.msg.chat_id) == (item.platform, item.chat_id):
        return answer  # typed in the original group: the answer is the group's reply
    outbox.enqueue_to_group(
        ctx.session, group, dedup_key=f"review-filed:R{item.id}", event="review-filed", text=answer
    )
    return ctx.t("review.filed_official", item=item.id, id=result.report_id, where=_where(ctx.core, group))


def file_reply(ctx: CommandContext) -> str:
    """Official, replying to a group message with ``/登记``: file that message for its original sender."""
    quoted = ctx.msg.reply_to
    assert quoted is not None
    if ctx.group is None or ctx.msg.chat_type != "group":
        return ctx.t("review.reply_group_only")
    assert ctx.official is not None  # the registry checked the permission
    refusal = permissions.group_scope(ctx.official, ctx.group)
    if refusal is not None:
        return ctx.refuse(refusal)
    if parse_command(quoted.text) is not None:
        return ctx.t("review.reply_is_command")
    platform, chat_id = ctx.msg.platform, ctx.msg.chat_id
    seen = idempotency.seen(ctx.session, group_message_key(platform, chat_id, quoted.message_id))
    if seen is not None and seen.report_id is not None:
        return ctx.t("review.reply_already", id=seen.report_id)
    item = review_repo.find_item(ctx.session, platform, chat_id, quoted.message_id)
    if item is not None and item.status == "filed" and item.report_id is not None:
        return ctx.t("review.reply_already", id=item.report_id)
    original = IncomingMessage(
        platform=platform,
        chat_id=chat_id,
        chat_type="group",
        message_id=quoted.message_id,
        sender_id=quoted.sender_id,
        sender_name=quoted.sender_name,
        text=quoted.text,
    )
    suspected = (item.category, item.severity) if item is not None else (None, None)
    result, decided = _file_for_sender(ctx, ctx.group, original, suspected)
    if result.report_id is None:
        return ctx.t("review.reply_not_filed", reason=result.reply or "")
    now = ctx.core.clock()
    actor = _actor(ctx)
    if item is not None and item.status == "pending":
        review_repo.decide(ctx.session, item, "filed", actor, now=now, report_id=result.report_id)
    _remember_filed(ctx, platform, chat_id, quoted.message_id, result.report_id)
    add_correction(
        ctx.session,
        text=quoted.text,
        chat="group",
        intent="hazard",
        category=decided.category,
        severity=decided.severity,
        source="reply_file",
        decided_by=actor,
        now=now,
    )
    return _group_answer(ctx, result, quoted.sender_name, quoted.text)


def ignore_command(ctx: CommandContext) -> str:
    """Official: ``/忽略 R12`` decides a review item is not a hazard; it is stored as chatter."""
    item, error = _item_arg(ctx)
    if item is None:
        return error or ""
    now = ctx.core.clock()
    actor = _actor(ctx)
    if not review_repo.decide(ctx.session, item, "ignored", actor, now=now):
        return _decided(ctx, item)
    add_correction(
        ctx.session,
        text=item.text,
        chat="group",
        intent="chatter",
        source="review_ignore",
        decided_by=actor,
        now=now,
    )
    return ctx.t("review.ignored", id=item.id)


def not_a_hazard_command(ctx: CommandContext) -> str:
    """Official: ``/不是隐患 23`` marks a filed report as a false alarm (rejected) and stores it as chatter."""
    parsed = parse_ids(ctx.args, many=False)
    if parsed is None:
        return ctx.t("commands.need_report_id", command=ctx.command)
    report = report_repo.get_report(ctx.session, parsed.ids[0])
    if report is None:
        return ctx.t("commands.report_not_found", id=parsed.ids[0])
    texts = ctx.core.texts
    assert ctx.official is not None  # the registry checked the permission
    refusal = permissions.report_scope(ctx.official, report.village, report.id)
    if refusal is not None:
        return ctx.refuse(refusal)
    if report.status not in FALSE_ALARM_FROM:
        return ctx.t(
            "commands.bad_status_change",
            id=report.id,
            status=texts.label("statuses", report.status),
            target=texts.label("statuses", "rejected"),
        )
    now = ctx.core.clock()
    actor = _actor(ctx)
    note = parsed.rest or ctx.t("review.false_alarm_note")
    report_repo.set_status(ctx.session, report, "rejected", actor, note=note, now=now)
    add_correction(
        ctx.session,
        text=report.text,
        chat="private" if report.anonymous else "group",
        intent="chatter",
        source="false_alarm",
        decided_by=actor,
        now=now,
    )
    return ctx.t("review.false_alarm", id=report.id)


# --- private messages: ask once, hold in memory, file anonymously on "1" -----------------------------


@dataclass(frozen=True)
class PendingPrivate:
    """An uncertain private message waiting for its sender's ``1``; lives in memory only."""

    text: str
    classification: Classification
    expires_at: datetime


class PendingConfirmations:
    """Uncertain private messages by a keyed hash of their chat, each valid for ``window``; never persisted."""

    def __init__(self, secret: bytes, window: timedelta = CONFIRM_WINDOW) -> None:
        self._secret = secret
        self.window = window
        self._items: dict[str, PendingPrivate] = {}
        self._lock = threading.Lock()  # the router runs in several worker threads

    def _key(self, platform: str, chat_id: str) -> str:
        raw = f"confirm:{platform}:{chat_id}".encode()
        return hmac.new(self._secret, raw, hashlib.sha256).hexdigest()

    def ask(self, platform: str, chat_id: str, text: str, c: Classification, now: datetime) -> None:
        """Hold ``text`` until the chat confirms it or the window passes (a newer message replaces it)."""
        with self._lock:
            self._items[self._key(platform, chat_id)] = PendingPrivate(text, c, now + self.window)

    def take(self, platform: str, chat_id: str, now: datetime) -> PendingPrivate | None:
        """The chat's pending message if still valid; it is forgotten either way."""
        with self._lock:
            pending = self._items.pop(self._key(platform, chat_id), None)
        return pending if pending is not None and now <= pending.expires_at else None

    def drop(self, platform: str, chat_id: str) -> None:
        """Forget the chat's pending message (the sender wrote something else)."""
        with self._lock:
            self._items.pop(self._key(platform, chat_id), None)

    def purge(self, now: datetime) -> int:
        """Forget every expired message; returns how many."""
        with self._lock:
            old = [k for k, p in self._items.items() if now > p.expires_at]
            for k in old:
                del self._items[k]
        return len(old)

    def __len__(self) -> int:
        return len(self._items)


def is_confirmation(text: str) -> bool:
    """Whether a private message is the ``1`` (or 确认) that confirms a pending question."""
    return unicodedata.normalize("NFKC", text).strip().rstrip("。.!！") in _CONFIRM_WORDS


def confirm_private(session: Session, core: Core, msg: IncomingMessage, pending: PendingPrivate) -> Outcome:
    """File a confirmed private message anonymously and store a correction with no identity and only the hour."""
    c = pending.classification
    decided = replace(
        c,
        intent="hazard",
        category=c.category or "other",
        severity=c.severity or "general",
        review=False,
    )
    result = file_anonymous_report(session, core, replace(msg, text=pending.text), decided)
    add_correction(
        session,
        text=pending.text,
        chat="private",
        intent="hazard",
        category=decided.category,
        severity=decided.severity,
        source="private_confirm",
        decided_by=None,
        now=core.clock(),
    )
    return result
