"""The core's message entry point: one incoming message in, one transaction, one ``DispatchResult`` out.

``Dispatcher.dispatch`` is synchronous (the bridge runs it in a worker thread); it never raises for bad input.
Intake, commands and the photo desk each come back with an ``Outcome``; only here does it become replies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import time
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from handlers import binding, review, tip_followup
from handlers.chat_commands import CommandContext, build_registry
from handlers.chat_events import record_group
from handlers.chat_memory import ChatMemory
from handlers.commands import ParsedCommand, parse_command
from handlers.context import Core
from handlers.intake import file_anonymous_report, file_group_report
from handlers.limits import Verdict
from handlers.messages import DispatchResult, IncomingMessage, Outcome, Reply
from handlers.texts import clean_text
from storage import groups as group_repo
from storage import idempotency
from storage import officials as official_repo
from storage import tips as tip_repo
from storage.db import DatabaseUnavailable, unavailable_reason
from storage.models import Group

log = logging.getLogger(__name__)

# Private replies that carry a receipt code: held in memory for another try if the platform refused them.
RECEIPT_OUTCOMES = frozenset({"anonymous-filed", "command:进度"})
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


class Dispatcher:
    """Decides what a message means and does it: classify and file, or run a command."""

    def __init__(self, core: Core, memory: ChatMemory) -> None:
        self.core = core
        self.memory = memory
        self.registry = build_registry()

    def idempotency_key(self, msg: IncomingMessage) -> str:
        """A per-message key; for private chats a keyed hash that cannot be matched to a sender without the secret."""
        if msg.chat_type == "private":
            raw = f"{msg.platform}:{msg.chat_id}:{msg.message_id}"
            return "p:" + hmac.new(self.core.secret, raw.encode(), hashlib.sha256).hexdigest()
        return review.group_message_key(msg.platform, msg.chat_id, msg.message_id)

    def menu(self) -> list[tuple[str, str]]:
        """(ASCII alias, Chinese description) pairs for a platform's command menu, general commands first."""
        items = []
        for cmd in sorted(self.registry, key=lambda c: c.official_only):
            if cmd.aliases:
                items.append((cmd.aliases[0], self.core.texts(f"help.{cmd.name}")))
        return items

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
        self._log(msg, handled.outcome, handled.report_id)
        return self._result(msg, handled)

    def _result(self, msg: IncomingMessage, handled: Outcome) -> DispatchResult:
        """The replies an outcome makes: its text quoted back into a group, plus a held receipt in private."""
        private = msg.chat_type == "private"
        reply = handled.reply
        if isinstance(reply, list):  # a command that answers with several messages (/照片's photos)
            replies = list(reply)
        elif reply:
            quote = msg.message_id if msg.chat_type == "group" else None
            receipt = private and handled.outcome in RECEIPT_OUTCOMES
            replies = [Reply(msg.chat_id, reply, quote, receipt=receipt)]
        else:
            replies = []
        if private:
            held = self.memory.held_receipts.take(msg.platform, msg.chat_id, self.core.clock())
            if held is not None:
                again = f"{self.core.texts('replies.receipt_again')}\n{held}"
                replies.insert(0, Reply(msg.chat_id, again, receipt=True))
        return DispatchResult(replies=replies, outcome=handled.outcome, report_id=handled.report_id)

    def _stored_before(self, msg: IncomingMessage, key: str) -> DispatchResult:
        """A message whose failed try had in fact committed: answer a filed group hazard with its number.

        A private reply cannot be rebuilt (a receipt code is stored only as a hash); it is counted, not logged.
        """
        if msg.chat_type == "private":
            self.memory.private_counter.add("reply-lost-at-disconnect", self.core.clock())
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

    def _private_limit(self, msg: IncomingMessage) -> DispatchResult | None:
        """None when the sender may go on; else the one notice per window, or nothing at all (no log either)."""
        limiter = self.memory.private_limiter
        verdict = limiter.check(msg.platform, msg.sender_id, self.core.clock())
        if verdict is Verdict.ALLOW:
            return None
        if verdict is Verdict.DROP:
            return DispatchResult(outcome="rate-limited")
        text = self.core.texts(
            "replies.private_rate_limited",
            minutes=limiter.wait_minutes(),
            hotline=self.core.profile.hotline,
        )
        return DispatchResult(replies=[Reply(msg.chat_id, text)], outcome="rate-limited")

    def _dispatch_once(self, msg: IncomingMessage, key: str) -> Outcome | None:
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
            handled = self._handle(session, msg)
            if handled.report_id is not None and not private:
                idempotency.set_report(session, key, handled.report_id)
        return handled

    def _log(self, msg: IncomingMessage, outcome: str, report_id: int | None) -> None:
        # Never the text; never who wrote a private message, nor when: private chats only feed an hourly count.
        if msg.chat_type == "private":
            self.memory.private_counter.add(outcome, self.core.clock())
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

    def _handle(self, session: Session, msg: IncomingMessage) -> Outcome:
        if msg.has_photo or self.memory.photos.waiting(msg):
            return self.memory.photos.handle(session, msg, self._handle_text)
        return self._handle_text(session, msg)

    def _handle_text(self, session: Session, msg: IncomingMessage) -> Outcome:
        group = self._group(session, msg) if msg.chat_type == "group" else None
        if group is not None:
            # A binding code seen in a group is dead at once, whoever typed it and however.
            codes = binding.candidates(msg.text)
            if codes and binding.void_leaked(session, self.core, codes, group):
                return Outcome("code-voided", self.core.texts("commands.bind_voided_in_group"))
        command = parse_command(msg.text)
        if command is not None and command.for_other_bot(msg.bot_username):
            return Outcome("other-bot")  # /close@SomeOtherBot: not ours, whatever the name
        if command is not None:
            return self._command(session, msg, group, command)
        if msg.chat_type == "private":
            tip_id = self.memory.followups.current(msg.platform, msg.chat_id, self.core.clock())
            tip = tip_repo.get_tip(session, tip_id) if tip_id is not None else None
            if tip is not None:
                return Outcome(
                    "tip-supplement", tip_followup.supplement(session, self.core, tip, msg.text.strip())
                )
            confirmed = self._confirm_private(session, msg)
            if confirmed is not None:
                return confirmed
        c = self.core.classifier.classify(msg.text, msg.chat_type)
        if c.review:
            if msg.chat_type == "private":
                self.memory.pending.ask(msg.platform, msg.chat_id, msg.text, c, self.core.clock())
                return Outcome("review-asked", self.core.texts("review.private_ask"))
            assert group is not None
            review.queue_group_message(session, self.core, msg, group, c)
            return Outcome("review-queued")
        if c.intent not in ("hazard", "tip") or c.confidence < self.core.profile.silent_threshold:
            if msg.chat_type == "private":
                return Outcome("guide", self.core.texts("replies.private_guide", town=self.core.profile.town))
            return Outcome("chatter")
        if msg.chat_type == "private":
            filed = file_anonymous_report(session, self.core, msg, c)
            return self.memory.photos.after_filing(session, msg, filed)
        assert group is not None
        return file_group_report(session, self.core, msg, group, c)

    def _confirm_private(self, session: Session, msg: IncomingMessage) -> Outcome | None:
        """A "1" answering the review question files the held message; any other message drops the question."""
        pending_questions = self.memory.pending
        if not review.is_confirmation(msg.text):
            pending_questions.drop(msg.platform, msg.chat_id)
            return None
        pending = pending_questions.take(msg.platform, msg.chat_id, self.core.clock())
        if pending is None:
            return None
        filed = review.confirm_private(session, self.core, msg, pending)
        return self.memory.photos.after_filing(session, msg, filed)

    def _command(
        self, session: Session, msg: IncomingMessage, group: Group | None, parsed: ParsedCommand
    ) -> Outcome:
        cmd = self.registry.find(parsed.name)
        if cmd is None:
            # A slash word we don't know: in groups it may be meant for another bot, so stay quiet there.
            if msg.chat_type == "group":
                return Outcome("unknown-command")
            return Outcome(
                "unknown-command", self.core.texts("commands.unknown_command", command=parsed.name)
            )
        official = official_repo.get_official(session, msg.platform, msg.sender_id)
        if cmd.official_only and official is None:
            return Outcome("refused", self.core.texts("commands.refused_not_official", command=cmd.name))
        ctx = CommandContext(
            session, self.core, msg, group, official, cmd.name, parsed.args, followups=self.memory.followups
        )
        return Outcome(f"command:{cmd.name}", cmd.handler(ctx))

    def _group(self, session: Session, msg: IncomingMessage) -> Group:
        group = group_repo.get_group(session, msg.platform, msg.chat_id)
        if group is None or (msg.chat_title and group.title != msg.chat_title):
            group = record_group(session, self.core, msg.platform, msg.chat_id, msg.chat_title)
        return group
