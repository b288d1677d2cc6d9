"""The async doorway from adapters into the synchronous core: runs the core in worker threads.

The event loop never waits on the database; errors are logged (without message text) and never kill an adapter.
Messages are tracked from receipt until their replies are sent, so a clean shutdown can wait for them.

When the database is down, restarting or unwritable (disk full, read-only), a message is not lost: it is held in
a bounded in-memory queue, in arrival order, and one recovery task tries the oldest again with backoff until the
database answers, then works through the rest. Their replies go out late, not never. Nothing is written to any
local spool (a private message lives in memory only). The outage is logged once when it starts, once when it
ends, and when the queue fills.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot.adapters.base import ChatMigrated, ChatUnreachable, RetryLater
from handlers.chat_events import ChatEvents
from handlers.dispatch import Dispatcher
from handlers.messages import IncomingMessage, MembershipChange, Reply
from storage.db import DatabaseUnavailable, unavailable_reason

log = logging.getLogger(__name__)

Deliver = Callable[[Reply], Awaitable[None]]
# Sends one file: (chat id, contents, file name); an adapter's ``send_document``.
SendDocument = Callable[[str, bytes, str], Awaitable[None]]
# Sends one photo: (chat id, contents); an adapter's ``send_image``.
SendImage = Callable[[str, bytes], Awaitable[None]]

# Messages held while the database is unavailable; beyond this, new ones are refused (and counted in the log).
MAX_HELD = 10_000
# Backoff between tries of the oldest held message: from RETRY_BASE doubling up to RETRY_MAX seconds.
RETRY_BASE = 0.5
RETRY_MAX = 15.0
# Log a reminder while the outage lasts, at most this often (seconds).
OUTAGE_REMINDER = 60.0


@dataclasses.dataclass
class _Held:
    msg: IncomingMessage
    done: asyncio.Future[list[Reply]]


class Bridge:
    """Hands messages to the core, sends their replies through the adapter, tracks what is in flight."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        events: ChatEvents,
        *,
        max_held: int = MAX_HELD,
        retry_base: float = RETRY_BASE,
        retry_max: float = RETRY_MAX,
    ) -> None:
        self.dispatcher = dispatcher
        self.events = events
        self._in_flight: set[asyncio.Task[None]] = set()
        self.max_held = max_held
        self.retry_base = retry_base
        self.retry_max = retry_max
        self._held: deque[_Held] = deque()
        self._recovery: asyncio.Task[None] | None = None
        self._outage_since: float | None = None
        self._refused = 0
        self._full_logged = False
        self._closing = False  # shutting down with the database away: hold nothing more
        self._side_warned: dict[str, float] = {}  # when each side task last logged an outage

    @property
    def held(self) -> int:
        """How many messages are waiting for the database to come back."""
        return len(self._held)

    async def process(
        self,
        msg: IncomingMessage,
        deliver: Deliver,
        documents: SendDocument | None = None,
        images: SendImage | None = None,
    ) -> None:
        """Handle ``msg`` in a worker thread, then deliver each reply; errors are logged, never raised.

        While the database is unavailable this waits (without holding the event loop) until the message could
        be handled, so its replies arrive late rather than never. Adapters only raise; what follows is decided
        here, once: a group the platform refuses is marked inactive, a group that moved (Telegram group →
        supergroup) is recorded and the reply sent to its new id once, a throttled group reply is deferred.
        """
        replies = await self.handle(msg)
        for reply in replies:
            try:
                try:
                    await self._send_parts(msg, reply, deliver, documents, images)
                except ChatMigrated as moved:
                    await self.migrated(msg.platform, reply.chat_id, moved.new_chat_id)
                    reply = dataclasses.replace(reply, chat_id=moved.new_chat_id)
                    await self._send_parts(msg, reply, deliver, documents, images)
            except RetryLater as exc:
                # The platform (or our own daily cap) says not now: a group reply waits in the outbox.
                # A private reply is never stored, since that would keep the sender's chat id; a receipt is
                # held in memory only, for the sender's next private message. Private failures are counted in
                # the core's hourly private line, never logged one by one (a log time would date the tip).
                if msg.chat_type == "group":
                    await self._defer(msg.platform, reply, exc.retry_after)
                else:
                    self.events.undelivered(msg.platform, reply)
            except Exception as exc:
                if msg.chat_type == "private":
                    self.events.undelivered(msg.platform, reply)
                    continue
                log.error(
                    "reply could not be delivered",
                    extra={"platform": msg.platform, "chat_type": msg.chat_type, "error": type(exc).__name__},
                )

    async def _send_parts(
        self,
        msg: IncomingMessage,
        reply: Reply,
        deliver: Deliver,
        documents: SendDocument | None,
        images: SendImage | None,
    ) -> None:
        """Send a reply's text, then its photo and file; a group the platform refuses is marked inactive.

        Every failure of the text (and a group's migration or refusal met by the photo or file) is raised.
        """
        try:
            if reply.text or reply.image is None:  # a photo may come alone, without text
                await deliver(reply)
            if reply.image is not None:
                await self._deliver_image(msg, reply, images)
            if reply.document is not None:
                await self._deliver_document(msg, reply, documents)
        except ChatUnreachable:
            if msg.chat_type == "group":
                log.warning("group unreachable; marked inactive", extra={"platform": msg.platform})
                await self.unreachable(msg.platform, reply.chat_id)
            raise

    async def _deliver_document(
        self, msg: IncomingMessage, reply: Reply, documents: SendDocument | None
    ) -> None:
        """Send the file a reply carries (after its text) through the adapter's ``send_document``.

        Raises only a group's ChatMigrated or ChatUnreachable (for ``process`` to decide on); a private failure
        is counted like any undelivered private reply, never logged one by one.
        """
        assert reply.document is not None
        filename, data = reply.document
        try:
            if documents is None:
                raise NotImplementedError(f"{msg.platform} adapter passed no send_document")
            await documents(reply.chat_id, data, filename)
        except Exception as exc:
            if msg.chat_type == "group" and isinstance(exc, ChatMigrated | ChatUnreachable):
                raise
            if msg.chat_type == "private":
                self.events.undelivered(msg.platform, dataclasses.replace(reply, receipt=False))
                return
            log.error(
                "document could not be delivered",
                extra={"platform": msg.platform, "chat_type": msg.chat_type, "error": type(exc).__name__},
            )

    async def _deliver_image(self, msg: IncomingMessage, reply: Reply, images: SendImage | None) -> None:
        """Send the photo a reply carries (after its text) through the adapter's ``send_image``.

        Raises only a group's ChatMigrated or ChatUnreachable (for ``process`` to decide on); a private failure
        is counted like any undelivered private reply, never logged one by one.
        """
        assert reply.image is not None
        try:
            if images is None:
                raise NotImplementedError(f"{msg.platform} adapter passed no send_image")
            await images(reply.chat_id, reply.image)
        except Exception as exc:
            if msg.chat_type == "group" and isinstance(exc, ChatMigrated | ChatUnreachable):
                raise
            if msg.chat_type == "private":
                self.events.undelivered(msg.platform, dataclasses.replace(reply, receipt=False))
                return
            log.error(
                "image could not be delivered",
                extra={"platform": msg.platform, "chat_type": msg.chat_type, "error": type(exc).__name__},
            )

    async def _defer(self, platform: str, reply: Reply, retry_after: float) -> None:
        """Put a group reply the platform would not take now into the outbox (logged if even that fails)."""
        try:
            await asyncio.to_thread(self.events.defer_reply, platform, reply, retry_after)
        except Exception as exc:
            self._failed("reply could not be deferred to the outbox", exc, platform=platform)

    def submit(
        self,
        msg: IncomingMessage,
        deliver: Deliver,
        documents: SendDocument | None = None,
        images: SendImage | None = None,
    ) -> asyncio.Task[None]:
        """Process ``msg`` in the background, tracked until its replies are sent."""
        task = asyncio.get_running_loop().create_task(self.process(msg, deliver, documents, images))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """The replies to ``msg``; held (in order, in memory) and retried while the database is unavailable."""
        if not self._held:
            try:
                return await asyncio.to_thread(self._dispatch, msg)
            except DatabaseUnavailable as exc:
                if self._closing:
                    log.error("shutting down while the database is unavailable; message not handled")
                    return []
                self._outage_started(exc.reason)
        if len(self._held) >= self.max_held:
            self._refused += 1
            if not self._full_logged:
                self._full_logged = True
                log.error(
                    "database unavailable and the waiting queue is full; new messages are refused",
                    extra={"held": len(self._held), "max_held": self.max_held},
                )
            return []
        held = _Held(msg, asyncio.get_running_loop().create_future())
        self._held.append(held)
        if self._recovery is None:
            self._recovery = asyncio.get_running_loop().create_task(self._recover(), name="bridge-recovery")
        return await asyncio.shield(held.done)

    def _outage_started(self, reason: str) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.error(
                "database unavailable; messages are held in memory and retried until it is back",
                extra={"reason": reason, "max_held": self.max_held},
            )

    async def _recover(self) -> None:
        """Try the oldest held message with backoff until the database answers, then the rest, in order."""
        delay = self.retry_base
        reminded = time.monotonic()
        handled = 0
        try:
            while self._held:
                head = self._held[0]
                if head.done.done():  # abandoned at shutdown
                    self._held.popleft()
                    continue
                try:
                    # A private message already counted against its sender's flood limit: not again.
                    msg = (
                        dataclasses.replace(head.msg, unlimited=True)
                        if head.msg.chat_type == "private"
                        else head.msg
                    )
                    replies = await asyncio.to_thread(self._dispatch, msg, True)
                except DatabaseUnavailable as exc:
                    if time.monotonic() - reminded >= OUTAGE_REMINDER:
                        reminded = time.monotonic()
                        log.warning(
                            "database still unavailable; messages held",
                            extra={"reason": exc.reason, "held": len(self._held), "refused": self._refused},
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max)
                    continue
                delay = self.retry_base
                handled += 1
                self._held.popleft()
                if not head.done.done():
                    head.done.set_result(replies)
        finally:
            self._recovery = None
            if self._outage_since is not None and not self._closing:
                log.warning(
                    "database available again; held messages handled",
                    extra={
                        "handled": handled,
                        "refused": self._refused,
                        "outage_seconds": round(time.monotonic() - self._outage_since, 1),
                    },
                )
            self._outage_since = None
            self._refused = 0
            self._full_logged = False

    def abandon_held(self) -> int:
        """At shutdown with the database still away: give up the held messages (logged as a count); returns it."""
        self._closing = True
        count = 0
        for held in self._held:
            if not held.done.done():
                held.done.set_result([])
                count += 1
        self._held.clear()
        if self._recovery is not None:
            self._recovery.cancel()
        if count:
            log.error(
                "shutting down while the database is unavailable; held messages not handled",
                extra={"held": count},
            )
        return count

    def _dispatch(self, msg: IncomingMessage, retried: bool = False) -> list[Reply]:
        try:
            if retried:  # it met the outage before: the dispatcher checks whether it was stored after all
                return self.dispatcher.dispatch(msg, retried=True).replies
            return self.dispatcher.dispatch(msg).replies
        except DatabaseUnavailable:
            raise
        except Exception:
            log.exception(
                "message handling failed", extra={"platform": msg.platform, "chat_type": msg.chat_type}
            )
            return []

    def _failed(self, what: str, exc: Exception, **extra: object) -> None:
        """Log a side task's failure: a database outage as one line now and then (not every few seconds, as
        housekeeping would), anything else with its traceback."""
        reason = unavailable_reason(exc)
        if reason is None:
            log.error(what, exc_info=exc, extra=extra)
            return
        now = time.monotonic()
        if now - self._side_warned.get(what, float("-inf")) >= OUTAGE_REMINDER:
            self._side_warned[what] = now
            log.warning(f"{what}: database unavailable", extra={**extra, "reason": reason})

    async def membership(self, change: MembershipChange) -> None:
        """Record that the bot joined or left a group."""
        try:
            await asyncio.to_thread(self.events.membership, change)
        except Exception as exc:
            self._failed("membership update failed", exc, platform=change.platform)

    async def unreachable(self, platform: str, chat_id: str) -> None:
        """Mark a group the platform refuses to deliver to as inactive."""
        try:
            await asyncio.to_thread(self.events.mark_inactive, platform, chat_id)
        except Exception as exc:
            self._failed("marking chat inactive failed", exc, platform=platform)

    async def migrated(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """A group's chat id changed on the platform: keep the group and its queued pushes."""
        try:
            await asyncio.to_thread(self.events.migrate_chat, platform, old_chat_id, new_chat_id)
        except Exception as exc:
            self._failed("chat migration failed", exc, platform=platform)

    def menu(self) -> list[tuple[str, str]]:
        """The command menu a platform can show: (ASCII alias, Chinese description) pairs."""
        return self.dispatcher.menu()

    async def platform_event(self, platform: str, event: str) -> None:
        """Record a platform log-in or log-out; a log-out alerts the officials through the other platforms."""
        try:
            await asyncio.to_thread(self.events.platform_event, platform, event)
        except Exception as exc:
            self._failed("platform event failed", exc, platform=platform, event=event)

    async def housekeeping(self) -> None:
        """Run the core's periodic chores (broadcast receipts, purging old private keys) off the event loop."""
        try:
            await asyncio.to_thread(self.events.housekeeping)
        except Exception as exc:
            self._failed("housekeeping failed", exc)

    async def drain(self) -> None:
        """Wait until every message already received has been handled and answered."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
