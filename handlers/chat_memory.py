"""What the core remembers about chats between messages, in memory only (never in the database).

The message dispatcher reads and fills it; the chat-events service purges it and holds refused receipts in it.
"""

from __future__ import annotations

from datetime import datetime

from handlers import review, tip_followup
from handlers.context import Core
from handlers.limits import PrivateLimiter
from handlers.photos import PhotoDesk
from handlers.receipts import HeldReceipts, PrivateCounter


class ChatMemory:
    """The in-memory stores shared by the dispatcher and the chat-events service; all keyed by HMACs."""

    def __init__(self, core: Core) -> None:
        # Uncertain private messages waiting for their sender's "1".
        self.pending = review.PendingConfirmations(core.secret)
        # Private flood limit per sender.
        self.private_limiter = PrivateLimiter(
            core.secret, burst=core.profile.private_burst, per_minute=core.profile.private_per_minute
        )
        # Receipts the platform refused to deliver, shown again on the sender's next private message.
        self.held_receipts = HeldReceipts(core.secret)
        self.private_counter = PrivateCounter()
        # Ten minutes after /进度, a tipster's plain messages supplement their tip.
        self.followups = tip_followup.FollowupWindows(core.secret)
        # Photos: where each goes; private ones wait here for their tip.
        self.photos = PhotoDesk(
            core, current_tip=lambda platform, chat: self.followups.current(platform, chat, core.clock())
        )

    def purge(self, now: datetime) -> None:
        """Forget whatever has expired, and write the hourly private count if its hour has passed."""
        self.pending.purge(now)
        self.followups.purge(now)
        self.private_limiter.purge(now)
        self.held_receipts.purge(now)
        self.photos.purge(now)
        self.private_counter.flush(now)
