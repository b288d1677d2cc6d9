"""What every platform adapter provides: receive messages into the core, send texts out.

Adapters translate between a platform and the core's message types; they decide nothing themselves.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.bridge import Bridge


class DeliveryError(Exception):
    """A send failed; the caller may retry later."""


class ChatUnreachable(DeliveryError):
    """The platform will never deliver to this chat (bot removed, blocked, chat deleted)."""


class RetryLater(DeliveryError):
    """The platform throttled us; wait ``retry_after`` seconds before sending anything again."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        super().__init__(message or f"retry after {retry_after}s")
        self.retry_after = retry_after


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
        """Deliver one text; raise ChatUnreachable, RetryLater or DeliveryError when it cannot be delivered."""

    async def send_image(self, chat_id: str, image: bytes) -> None:
        """Deliver one PNG image; only called when ``supports_images`` is true."""
        raise NotImplementedError(f"{self.platform} cannot send images")

    async def send_document(self, chat_id: str, data: bytes, filename: str) -> None:
        """Deliver one file (e.g. the ledger's .xlsx) named ``filename``; platforms that cannot send files raise."""
        raise NotImplementedError(f"{self.platform} cannot send files")
