"""The async doorway from adapters into the synchronous core: runs the router in a worker thread.

The event loop never waits on the database; errors are logged (without message text) and never kill an adapter.
Messages are tracked from receipt until their replies are sent, so a clean shutdown can wait for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.adapters.base import RetryLater
from handlers.messages import IncomingMessage, MembershipChange, Reply
from handlers.router import Router

log = logging.getLogger(__name__)

Deliver = Callable[[Reply], Awaitable[None]]


class Bridge:
    """Hands messages to the core, sends their replies through the adapter, tracks what is in flight."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._in_flight: set[asyncio.Task[None]] = set()

    async def process(self, msg: IncomingMessage, deliver: Deliver) -> None:
        """Handle ``msg`` in a worker thread, then deliver each reply; errors are logged, never raised."""
        replies = await asyncio.to_thread(self._dispatch, msg)
        for reply in replies:
            try:
                await deliver(reply)
            except RetryLater as exc:
                # The platform (or our own daily cap) says not now: a group reply waits in the outbox.
                # A private reply is never stored, since that would keep the sender's chat id; a receipt is
                # held in memory only, for the sender's next private message. Private failures are counted in
                # the router's hourly private line, never logged one by one (a log time would date the tip).
                if msg.chat_type == "group":
                    await asyncio.to_thread(self.router.defer_reply, msg.platform, reply, exc.retry_after)
                else:
                    self.router.undelivered(msg.platform, reply)
            except Exception as exc:
                if msg.chat_type == "private":
                    self.router.undelivered(msg.platform, reply)
                    continue
                log.error(
                    "reply could not be delivered",
                    extra={"platform": msg.platform, "chat_type": msg.chat_type, "error": type(exc).__name__},
                )

    def submit(self, msg: IncomingMessage, deliver: Deliver) -> asyncio.Task[None]:
        """Process ``msg`` in the background, tracked until its replies are sent."""
        task = asyncio.get_running_loop().create_task(self.process(msg, deliver))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    def _dispatch(self, msg: IncomingMessage) -> list[Reply]:
        try:
            return self.router.dispatch(msg).replies
        except Exception:
            log.exception(
                "message handling failed", extra={"platform": msg.platform, "chat_type": msg.chat_type}
            )
            return []

    async def membership(self, change: MembershipChange) -> None:
        """Record that the bot joined or left a group."""
        try:
            await asyncio.to_thread(self.router.membership, change)
        except Exception:
            log.exception("membership update failed", extra={"platform": change.platform})

    async def unreachable(self, platform: str, chat_id: str) -> None:
        """Mark a group the platform refuses to deliver to as inactive."""
        try:
            await asyncio.to_thread(self.router.mark_inactive, platform, chat_id)
        except Exception:
            log.exception("marking chat inactive failed", extra={"platform": platform})

    async def migrated(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """A group's chat id changed on the platform: keep the group and its queued pushes."""
        try:
            await asyncio.to_thread(self.router.migrate_chat, platform, old_chat_id, new_chat_id)
        except Exception:
            log.exception("chat migration failed", extra={"platform": platform})

    def menu(self) -> list[tuple[str, str]]:
        """The command menu a platform can show: (ASCII alias, Chinese description) pairs."""
        return self.router.menu()

    async def platform_event(self, platform: str, event: str) -> None:
        """Record a platform log-in or log-out; a log-out alerts the officials through the other platforms."""
        try:
            await asyncio.to_thread(self.router.platform_event, platform, event)
        except Exception:
            log.exception("platform event failed", extra={"platform": platform, "event": event})

    async def housekeeping(self) -> None:
        """Run the core's periodic chores (broadcast receipts, purging old private keys) off the event loop."""
        try:
            await asyncio.to_thread(self.router.housekeeping)
        except Exception:
            log.exception("housekeeping failed")

    async def drain(self) -> None:
        """Wait until every message already received has been handled and answered."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
