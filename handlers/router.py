"""The core's entry point: one incoming message in, one transaction, the replies out.

``Router.dispatch`` is synchronous (the adapters run it in a worker thread); it never raises for bad input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from handlers import binding, broadcasts, review, tip_followup
from handlers.chat_commands import CommandContext, build_registry
from handlers.commands import ParsedCommand, parse_command
from handlers.context import Core
from handlers.intake import file_anonymous_report, file_group_report
from handlers.limits import PrivateLimiter, Verdict
from handlers.messages import DispatchResult, IncomingMessage, MembershipChange, Reply
from handlers.photos import PhotoDesk
from handlers.receipts import HeldReceipts, PrivateCounter
from handlers.texts import clean_text
from storage import audit, idempotency, outbox
from storage import groups as group_repo
from storage import officials as official_repo
from storage import tips as tip_repo
from storage.db import DatabaseUnavailable, unavailable_reason
from storage.models import SELF_TAG_KINDS, Group

log = logging.getLogger(__name__)

# Private-chat dedup keys only need to outlive a platform's redelivery window.
PRIVATE_KEY_TTL = timedelta(days=2)
# Private replies that carry a receipt code: held in memory for another try if the platform refused them.
RECEIPT_OUTCOMES = frozenset({"anonymous-filed", "command:进度"})
# Group keys outlive every platform's redelivery window (Telegram keeps updates for 24 hours) with room to spare.
GROUP_KEY_TTL = timedelta(days=7)
# A message that hit a passing database conflict (a deadlock, a lock timeout) is tried again this often.
DISPATCH_ATTEMPTS = 4
DISPATCH_BACKOFF = 0.05  # seconds, times the attempt number


def _storable(msg: IncomingMessage) -> IncomingMessage:
    """``msg`` with every free-text field fit for UTF-8 and the database (see ``handlers.texts.clean_text``)."""
    quoted = msg.reply_to
    if quoted is not None and (
        quoted.text != clean_text(quoted.text) or quoted.sender_name != clean_text(quoted.sender_name)
    ):
        quoted = dataclasses.replace(
            quoted, text=clean_text(quoted.text), sender_name=clean_text(quoted.sender_name)
        )
    fields: dict[str, Any] = {
        "text": clean_text(msg.text) if msg.text else msg.text,
        "sender_name": clean_text(msg.sender_name),
        "chat_title": clean_text(msg.chat_title) if msg.chat_title else msg.chat_title,
        "reply_to": quoted,
    }
    if all(getattr(msg, k) is v for k, v in fields.items()):
        return msg
    return dataclasses.replace(msg, **fields)


class Router:
    """Decides what a message means and does it: classify and file, or run a command."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.registry = build_registry()
        # Uncertain private messages waiting for their sender's "1": in memory only, never in the database.
        self.pending = review.PendingConfirmations(core.secret)
        # Private flood limit per sender (an HMAC of the sender, in memory only).
        self.private_limiter = PrivateLimiter(
            core.secret, burst=core.profile.private_burst, per_minute=core.profile.private_per_minute
        )
        # Receipts the platform refused to deliver, shown again on the sender's next private message.
        self.held_receipts = HeldReceipts(core.secret)
        self.private_counter = PrivateCounter()
        # Ten minutes after /进度, a tipster's plain messages supplement their tip (memory only).
        self.followups = tip_followup.FollowupWindows(core.secret)
        self._purged_on: date | None = None  # the local day closed tips were last purged
        # Photos: where each goes; private ones wait in memory for their tip.
        self.photos = PhotoDesk(
            core, current_tip=lambda platform, chat: self.followups.current(platform, chat, core.clock())
        )

    def idempotency_key(self, msg: IncomingMessage) -> str:
        """A per-message key; for private chats a keyed hash that cannot be matched to a sender without the secret."""
        if msg.chat_type == "private":
            raw = f"{msg.platform}:{msg.chat_id}:{msg.message_id}"
            return "p:" + hmac.new(self.core.secret, raw.encode(), hashlib.sha256).hexdigest()
        return review.group_message_key(msg.platform, msg.chat_id, msg.message_id)

    def dispatch(self, msg: IncomingMessage, *, retried: bool = False) -> DispatchResult:
        """Handle one message exactly once; a redelivered message returns no replies and changes nothing.

        ``retried`` says this message met an unavailable database before (the caller held it): if it turns out
        to be stored already (the connection broke between COMMIT and its answer), a group hazard is answered
        with its number instead of silence.

        A private message that fails is logged with the exception's type only, never raised: a database error's
        text and traceback can carry the tip's text or the sender's id (PostgreSQL's DETAIL quotes the row).
        When the database stays unreachable or unwritable through every attempt, ``DatabaseUnavailable`` is
        raised (without the driver's text), so the caller can hold the message and try it again later.
        Text that cannot be stored (undecodable bytes as lone surrogates, NUL) is replaced first.
        """
        msg = _storable(msg)
        if msg.chat_type != "private":
            try:
                return self._dispatch(msg, retried)
            except (OperationalError, InterfaceError, DBAPIError) as exc:
                reason = unavailable_reason(exc)
                if reason is None:
                    raise
                raise DatabaseUnavailable(reason) from exc
        try:
            return self._dispatch(msg, retried)
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason is not None:
                raise DatabaseUnavailable(reason) from None  # no chained driver text for a private message
            log.error("private message failed", extra={"platform": msg.platform, "error": type(exc).__name__})
            return DispatchResult(outcome="failed")

    def _dispatch(self, msg: IncomingMessage, retried: bool = False) -> DispatchResult:
        if (not msg.text or not msg.text.strip()) and not msg.has_photo:
            return DispatchResult(outcome="empty")
        if msg.chat_type == "private" and not msg.unlimited:
            limited = self._private_limit(msg)
            if limited is not None:
                return limited
        key = self.idempotency_key(msg)
        failed_before = retried
        for attempt in range(1, DISPATCH_ATTEMPTS + 1):
            try:
                handled = self._dispatch_once(msg, key)
                break
            except (OperationalError, IntegrityError) as exc:
                # Never the text, never a private sender: the exception type and where it happened only.
                # A database that is away (down, full, read-only) is logged once by the caller, not per try.
                away = unavailable_reason(exc) in ("disconnected", "read-only", "disk-full")
                failed_before = failed_before or unavailable_reason(exc) is not None
                log.log(
                    logging.DEBUG if away else logging.WARNING,
                    "message handling failed, retrying"
                    if attempt < DISPATCH_ATTEMPTS
                    else "message handling failed",
                    extra={
                        "platform": msg.platform,
                        "chat": msg.chat_id if msg.chat_type == "group" else "private",
                        "error": type(exc).__name__,
                        "attempt": attempt,
                    },
                )
                if attempt == DISPATCH_ATTEMPTS:
                    raise
                time.sleep(DISPATCH_BACKOFF * attempt)
        if handled is None:
            return self._stored_before(msg, key) if failed_before else DispatchResult(outcome="redelivered")
        outcome, reply, report_id = handled
        self._log(msg, outcome, report_id)
        private = msg.chat_type == "private"
        receipt = private and outcome in RECEIPT_OUTCOMES
        if isinstance(reply, list):  # a command that answers with several messages (/照片's photos)
            replies = list(reply)
        else:
            replies = (
                [
                    Reply(
                        msg.chat_id,
                        reply,
                        msg.message_id if msg.chat_type == "group" else None,
                        receipt=receipt,
                    )
                ]
                if reply
                else []
            )
        if private:
            held = self.held_receipts.take(msg.platform, msg.chat_id, self.core.clock())
            if held is not None:
                again = f"{self.core.texts('replies.receipt_again')}\n{held}"
                replies.insert(0, Reply(msg.chat_id, again, receipt=True))
        return DispatchResult(replies=replies, outcome=outcome, report_id=report_id)

    def _stored_before(self, msg: IncomingMessage, key: str) -> DispatchResult:
        """A message whose failed try had in fact committed: answer a filed group hazard with its number.

        A private reply cannot be rebuilt (a receipt code is stored only as a hash); it is counted, not logged.
        """
        if msg.chat_type == "private":
            self.private_counter.add("reply-lost-at-disconnect", self.core.clock())
            return DispatchResult(outcome="stored-before-disconnect")
        with self.core.sessions() as session:
            row = idempotency.seen(session, key)
            report_id = row.report_id if row is not None else None
        log.warning(
            "message was stored before the connection broke",
            extra={"platform": msg.platform, "chat": msg.chat_id, "report": report_id},
        )
        if report_id is None:
            return DispatchResult(outcome="stored-before-disconnect")
        text = self.core.texts("review.reply_already", id=report_id)
        return DispatchResult(
            replies=[Reply(msg.chat_id, text, msg.message_id)],
            outcome="stored-before-disconnect",
            report_id=report_id,
        )

    def undelivered(self, platform: str, reply: Reply) -> None:
        """The platform refused a private reply: count it, and keep it in memory if it carries a receipt code."""
        now = self.core.clock()
        self.private_counter.add("reply-undelivered", now)
        if reply.receipt:
            self.held_receipts.hold(platform, reply.chat_id, reply.text, now)

    def _private_limit(self, msg: IncomingMessage) -> DispatchResult | None:
        """None when the sender may go on; else the one notice per window, or nothing at all (no log either)."""
        verdict = self.private_limiter.check(msg.platform, msg.sender_id, self.core.clock())
        if verdict is Verdict.ALLOW:
            return None
        if verdict is Verdict.DROP:
            return DispatchResult(outcome="rate-limited")
        text = self.core.texts(
            "replies.private_rate_limited",
            minutes=self.private_limiter.wait_minutes(),
            hotline=self.core.profile.hotline,
        )
        return DispatchResult(replies=[Reply(msg.chat_id, text)], outcome="rate-limited")

    def _dispatch_once(self, msg: IncomingMessage, key: str) -> tuple[str, str | None, int | None] | None:
        """One transaction for one message; None when the key is already held (a redelivery)."""
        private = msg.chat_type == "private"
        with self.core.sessions.begin() as session:
            # A private key keeps only the hour, like the anonymous report, so the two can't be lined up.
            at = self.core.clock()
            # Only a conflict on this message's own key means "redelivered"; any other error is retried.
            if not idempotency.claim(
                session,
                key,
                private=private,
                at=at.replace(minute=0, second=0, microsecond=0) if private else at,
            ):
                return None
            outcome, reply, report_id = self._handle(session, msg)
            if report_id is not None and not private:
                idempotency.set_report(session, key, report_id)
        return outcome, reply, report_id

    def _log(self, msg: IncomingMessage, outcome: str, report_id: int | None) -> None:
        # Never the text; never who wrote a private message, nor when: private chats only feed an hourly count.
        if msg.chat_type == "private":
            self.private_counter.add(outcome, self.core.clock())
        else:
            log.info(
                "group message handled",
                extra={
                    "platform": msg.platform,
                    "chat": msg.chat_id,
                    "outcome": outcome,
                    "report": report_id,
                },
            )

    def _handle(self, session: Session, msg: IncomingMessage) -> tuple[str, str | None, int | None]:
        if msg.has_photo or self.photos.waiting(msg):
            return self.photos.handle(session, msg, self._handle_text)  # type: ignore[return-value]
        return self._handle_text(session, msg)

    def _handle_text(self, session: Session, msg: IncomingMessage) -> tuple[str, str | None, int | None]:
        group = self._group(session, msg) if msg.chat_type == "group" else None
        if group is not None:
            # A binding code seen in a group is dead at once, whoever typed it and however.
            codes = binding.candidates(msg.text)
            if codes and binding.void_leaked(session, self.core, codes, group):
                return "code-voided", self.core.texts("commands.bind_voided_in_group"), None
        command = parse_command(msg.text)
        if command is not None and command.for_other_bot(msg.bot_username):
            return "other-bot", None, None  # /close@SomeOtherBot: not ours, whatever the name
        if command is not None:
            return self._command(session, msg, group, command)
        if msg.chat_type == "private":
            tip_id = self.followups.current(msg.platform, msg.chat_id, self.core.clock())
            tip = tip_repo.get_tip(session, tip_id) if tip_id is not None else None
            if tip is not None:
                return (
                    "tip-supplement",
                    tip_followup.supplement(session, self.core, tip, msg.text.strip()),
                    None,
                )
            confirmed = self._confirm_private(session, msg)
            if confirmed is not None:
                return confirmed
        c = self.core.classifier.classify(msg.text, msg.chat_type)
        if c.review:
            if msg.chat_type == "private":
                self.pending.ask(msg.platform, msg.chat_id, msg.text, c, self.core.clock())
                return "review-asked", self.core.texts("review.private_ask"), None
            assert group is not None
            review.queue_group_message(session, self.core, msg, group, c)
            return "review-queued", None, None
        if c.intent not in ("hazard", "tip") or c.confidence < self.core.profile.silent_threshold:
            if msg.chat_type == "private":
                return "guide", self.core.texts("replies.private_guide", town=self.core.profile.town), None
            return "chatter", None, None
        if msg.chat_type == "private":
            result = self.photos.after_filing(session, msg, file_anonymous_report(session, self.core, msg, c))
        else:
            assert group is not None
            result = file_group_report(session, self.core, msg, group, c)
        return result.outcome, result.reply, result.report_id

    def _confirm_private(
        self, session: Session, msg: IncomingMessage
    ) -> tuple[str, str | None, int | None] | None:
        """A "1" answering the review question files the held message; any other message drops the question."""
        if not review.is_confirmation(msg.text):
            self.pending.drop(msg.platform, msg.chat_id)
            return None
        pending = self.pending.take(msg.platform, msg.chat_id, self.core.clock())
        if pending is None:
            return None
        result = self.photos.after_filing(
            session, msg, review.confirm_private(session, self.core, msg, pending)
        )
        return result.outcome, result.reply, result.report_id

    def _command(
        self, session: Session, msg: IncomingMessage, group: Group | None, parsed: ParsedCommand
    ) -> tuple[str, str | None, int | None]:
        cmd = self.registry.find(parsed.name)
        if cmd is None:
            # A slash word we don't know: in groups it may be meant for another bot, so stay quiet there.
            if msg.chat_type == "group":
                return "unknown-command", None, None
            return "unknown-command", self.core.texts("commands.unknown_command", command=parsed.name), None
        official = official_repo.get_official(session, msg.platform, msg.sender_id)
        if cmd.official_only and official is None:
            return "refused", self.core.texts("commands.refused_not_official", command=cmd.name), None
        ctx = CommandContext(
            session, self.core, msg, group, official, cmd.name, parsed.args, followups=self.followups
        )
        return f"command:{cmd.name}", cmd.handler(ctx), None

    def _group(self, session: Session, msg: IncomingMessage) -> Group:
        group = group_repo.get_group(session, msg.platform, msg.chat_id)
        if group is None or (msg.chat_title and group.title != msg.chat_title):
            group = self._record_group(session, msg.platform, msg.chat_id, msg.chat_title)
        return group

    def _record_group(self, session: Session, platform: str, chat_id: str, title: str | None) -> Group:
        group = group_repo.get_group(session, platform, chat_id)
        kind = unit = None
        if group is None or group.kind is None:
            found = self.core.profile.find_unit(title)
            # A title is typed by anyone: it may suggest a village, never leadership, station or enterprise.
            if found is not None and found.kind in SELF_TAG_KINDS:
                kind, unit = found.kind, found.name
        recorded = group_repo.upsert_group(
            session, platform, chat_id, title=title, kind=kind, unit=unit, active=True
        )
        if kind is not None:
            audit.record(
                session,
                "title",
                "group.tagged",
                f"group:{recorded.id}",
                f"-/- -> {kind}/{unit}",
                now=self.core.clock(),
            )
        return recorded

    def membership(self, change: MembershipChange) -> None:
        """Record that the bot joined (tagging the group from its title) or left a group."""
        with self.core.sessions.begin() as session:
            if change.joined:
                self._record_group(session, change.platform, change.chat_id, change.title)
            else:
                group_repo.upsert_group(session, change.platform, change.chat_id, active=False)
        log.info(
            "group membership",
            extra={"platform": change.platform, "chat": change.chat_id, "joined": change.joined},
        )

    def menu(self) -> list[tuple[str, str]]:
        """(ASCII alias, Chinese description) pairs for a platform's command menu, general commands first."""
        items = []
        for cmd in sorted(self.registry, key=lambda c: c.official_only):
            if cmd.aliases:
                items.append((cmd.aliases[0], self.core.texts(f"help.{cmd.name}")))
        return items

    def platform_event(self, platform: str, event: str) -> int:
        """A platform connection changed (``login`` / ``logout``): tell the leadership groups on the other platforms.

        Returns how many notices were queued in the outbox.
        """
        if event != "logout":
            return 0
        now = self.core.clock()
        text = self.core.texts(
            "notices.platform_logout", platform=self.core.texts.label("platforms", platform)
        )
        queued = 0
        with self.core.sessions.begin() as session:
            for group in group_repo.list_groups(session, kinds=["leadership", "station"], active_only=True):
                if group.platform == platform:
                    continue
                queued += outbox.enqueue_to_group(
                    session,
                    group,
                    dedup_key=f"{event}:{platform}:{now:%Y%m%d%H%M}:{group.id}",
                    event=f"platform-{event}",
                    text=text,
                )
        log.warning("platform logged out", extra={"platform": platform, "notices": queued})
        return queued

    def defer_reply(self, platform: str, reply: Reply, retry_after: float) -> None:
        """Queue a group reply the platform would not take now, to be sent by the outbox after ``retry_after``."""
        now = self.core.clock()
        with self.core.sessions.begin() as session:
            group = group_repo.get_group(session, platform, reply.chat_id)
            outbox.enqueue(
                session,
                dedup_key=f"reply:{platform}:{reply.chat_id}:{reply.quote_message_id}",
                event="reply",
                platform=platform,
                chat_id=reply.chat_id,
                group_id=group.id if group else None,
                text=reply.text,
                not_before=now + timedelta(seconds=retry_after),
            )

    def housekeeping(self) -> None:
        """Periodic chores: broadcast receipts, forgetting old private keys, review notices and expiry."""
        now = self.core.clock()
        with self.core.sessions.begin() as session:
            broadcasts.finish(session, self.core.texts, now)
            idempotency.purge_private(session, now - PRIVATE_KEY_TTL)
            idempotency.purge_group(session, now - GROUP_KEY_TTL)
            review.housekeeping(session, self.core, now)
            tip_followup.expire(session, now)
            today = now.astimezone(self.core.tz).date()
            if self._purged_on != today:
                retention = self.core.profile.rewards.retention_days
                tip_followup.purge_closed(session, now, retention, self.core.data_dir)
                self._purged_on = today
        self.pending.purge(now)
        self.followups.purge(now)
        self.private_limiter.purge(now)
        self.held_receipts.purge(now)
        self.photos.purge(now)
        self.private_counter.flush(now)

    def migrate_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """A group got a new chat id (Telegram group → supergroup): keep its tags and re-address queued pushes."""
        with self.core.sessions.begin() as session:
            old = group_repo.get_group(session, platform, old_chat_id)
            if old is None:
                return
            if group_repo.get_group(session, platform, new_chat_id) is None:
                old.chat_id = new_chat_id
            else:
                old.active = False
            outbox.readdress(session, platform, old_chat_id, new_chat_id)
        log.info("group chat id migrated", extra={"platform": platform, "chat": new_chat_id})

    def mark_inactive(self, platform: str, chat_id: str) -> None:
        """The platform refused to deliver to a group (the bot was removed or blocked): stop pushing to it."""
        with self.core.sessions.begin() as session:
            group_repo.upsert_group(session, platform, chat_id, active=False)
