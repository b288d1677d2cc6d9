"""Wiring of the core's two entry points: the message ``Dispatcher`` and the ``ChatEvents`` service.

``wire`` builds the pair around one ``ChatMemory``, as the bot and the bridge use them. ``Router`` keeps both
behind the old single name for tests and scripts that drive the core directly; it adds no behaviour of its own.
"""

from __future__ import annotations

from handlers.chat_events import ChatEvents
from handlers.chat_memory import ChatMemory
from handlers.context import Core
from handlers.dispatch import Dispatcher


def wire(core: Core) -> tuple[Dispatcher, ChatEvents]:
    """The dispatcher and the chat-events service on ``core``, sharing one in-memory ``ChatMemory``."""
    memory = ChatMemory(core)
    return Dispatcher(core, memory), ChatEvents(core, memory)


class Router:
    """The dispatcher and the chat-events service under one name; every call goes to one of the two."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.dispatcher, self.events = wire(core)
        self.memory = self.dispatcher.memory
        # Message side.
        self.dispatch = self.dispatcher.dispatch
        self.idempotency_key = self.dispatcher.idempotency_key
        self.menu = self.dispatcher.menu
        self.registry = self.dispatcher.registry
        # Chat and platform events.
        self.membership = self.events.membership
        self.migrate_chat = self.events.migrate_chat
        self.mark_inactive = self.events.mark_inactive
        self.undelivered = self.events.undelivered
        self.defer_reply = self.events.defer_reply
        self.platform_event = self.events.platform_event
        self.housekeeping = self.events.housekeeping
        # The in-memory stores, for tests that look inside them.
        self.pending = self.memory.pending
        self.private_limiter = self.memory.private_limiter
        self.held_receipts = self.memory.held_receipts
        self.private_counter = self.memory.private_counter
        self.followups = self.memory.followups
        self.photos = self.memory.photos

    @property
    def parts(self) -> tuple[Dispatcher, ChatEvents]:
        """The dispatcher and the chat-events service, in the order ``Bridge`` takes them."""
        return self.dispatcher, self.events
