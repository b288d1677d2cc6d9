"""What every platform adapter provides: receive messages into the core, send texts out.

Adapters translate between a platform and the core's message types; they decide nothing themselves.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.bridge import Bridge


class DeliveryError(Exception):
    """A send failed; the caller may retry later."""


class ChatUnreachable(DeliveryError):
    """The platform will never deliver to this chat (bot removed, blocked, chat deleted)."""


class RetryLater(DeliveryError):
    """The platform throttled us; wait ``retry_after`` seconds before sending anything again.

    ``chat_only``: only this chat is throttled (a WeCom robot's own window); sends to other chats may go on.
    """

    def __init__(self, retry_after: float, message: str = "", *, chat_only: bool = False) -> None:
        super().__init__(message or f"retry after {retry_after}s")
        self.retry_after = retry_after
        self.chat_only = chat_only


class ChatMigrated(DeliveryError):
    """The chat lives on under ``new_chat_id`` (a Telegram group became a supergroup); nothing was sent.

    The caller records the move once and sends again to the new id.
    """

    def __init__(self, new_chat_id: str, message: str = "") -> None:
        super().__init__(message or f"chat migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


Sleep = Callable[[float], Awaitable[None]]
# Stopping, a throttle wait up to this long is still sat out (the send goes now); a longer one is not: the send
# raises RetryLater, so an outbox row (or a deferred group reply) keeps its time and shutdown goes on.
STOPPING_MAX_WAIT = 2.0


async def stop_aware_wait(seconds: float, stop: asyncio.Event | None, sleep: Sleep = asyncio.sleep) -> None:
    """Sleep ``seconds``; once ``stop`` is set, raise RetryLater instead of waiting more than a moment."""
    if stop is None or seconds <= STOPPING_MAX_WAIT:
        await sleep(seconds)
        return
    if stop.is_set():
        raise RetryLater(seconds, "stopping: not waiting for the throttle")
    sleeper = asyncio.ensure_future(sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        stopper.cancel()
    if not sleeper.done() or sleeper.cancelled():
        raise RetryLater(seconds, "stopping: not waiting for the throttle")


class Adapter(ABC):
    """A connection to one chat platform."""

    platform: str
    #: Whether ``send_image`` works on this platform (otherwise pushes with a chart go out as text only).
    supports_images: bool = False

    @property
    def ready(self) -> bool:
        """Whether the connection is up, so pushes can be sent (the outbox waits otherwise)."""
        return True

    @abstractmethod
    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        """Receive messages and hand them to ``bridge`` until ``stop`` is set; raise if the connection fails.

        On stop: stop receiving, let the messages already received be answered (``bridge.drain()``), and only
        then close the connection, so no reply is lost at shutdown.
        """

    @abstractmethod
    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        """Deliver one text; raise ChatUnreachable, ChatMigrated, RetryLater or DeliveryError when it cannot.

        Adapters only translate: what follows a failure (marking a group inactive, recording a migration,
        deferring to the outbox) is decided by the bridge or the outbox delivery loop, never here.
        """

    async def send_image(self, chat_id: str, image: bytes) -> None:
        """Deliver one PNG image; only called when ``supports_images`` is true."""
        raise NotImplementedError(f"{self.platform} cannot send images")

    async def send_document(self, chat_id: str, data: bytes, filename: str) -> None:
        """Deliver one file (e.g. the ledger's .xlsx) named ``filename``; platforms that cannot send files raise."""
        raise NotImplementedError(f"{self.platform} cannot send files")
