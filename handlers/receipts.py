"""In-memory helpers of private chats: receipts the platform refused to deliver, and the hourly private count.

Neither is ever persisted: a held receipt is keyed by an HMAC of platform and chat id, and the counter keeps
only per-outcome totals of the current clock hour.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

log = logging.getLogger("handlers.dispatch")  # its hourly line belongs with the dispatcher's

# How long an undelivered receipt waits for its sender's next private message.
RECEIPT_HOLD = timedelta(minutes=30)


@dataclass(frozen=True)
class _HeldReceipt:
    text: str
    expires_at: datetime


class HeldReceipts:
    """Receipts the platform would not deliver, by a keyed hash of their chat; in memory only, never persisted."""

    def __init__(self, secret: bytes, window: timedelta = RECEIPT_HOLD) -> None:
        self._secret = secret
        self.window = window
        self._items: dict[str, _HeldReceipt] = {}
        self._lock = threading.Lock()  # the router runs in several worker threads

    def _key(self, platform: str, chat_id: str) -> str:
        raw = f"receipt:{platform}:{chat_id}".encode()
        return hmac.new(self._secret, raw, hashlib.sha256).hexdigest()

    def hold(self, platform: str, chat_id: str, text: str, now: datetime) -> None:
        """Keep ``text`` for the chat until the window has passed (a newer receipt replaces it)."""
        with self._lock:
            self._items[self._key(platform, chat_id)] = _HeldReceipt(text, now + self.window)

    def take(self, platform: str, chat_id: str, now: datetime) -> str | None:
        """The chat's held receipt if still valid; it is forgotten either way."""
        with self._lock:
            held = self._items.pop(self._key(platform, chat_id), None)
        return held.text if held is not None and now <= held.expires_at else None

    def purge(self, now: datetime) -> int:
        """Forget every expired receipt; returns how many."""
        with self._lock:
            old = [k for k, h in self._items.items() if now > h.expires_at]
            for k in old:
                del self._items[k]
        return len(old)

    def __len__(self) -> int:
        return len(self._items)


class PrivateCounter:
    """Counts private messages per outcome and logs one line per clock hour, never one line per message."""

    def __init__(self) -> None:
        self._hour: datetime | None = None
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, outcome: str, now: datetime) -> None:
        """Count one private message; the first message of a new hour logs the previous hour's counts."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        with self._lock:
            if self._hour is not None and hour != self._hour:
                self._flush_locked()
            self._hour = hour
            self._counts[outcome] += 1

    def flush(self, now: datetime) -> None:
        """Log the counts of an hour that has ended (housekeeping calls this, so quiet hours are reported too)."""
        with self._lock:
            if self._hour is not None and now.replace(minute=0, second=0, microsecond=0) != self._hour:
                self._flush_locked()
                self._hour = None

    def _flush_locked(self) -> None:
        if self._counts:
            log.info(
                "private messages in the past hour",
                extra={
                    "hour": self._hour.isoformat() if self._hour else None,
                    "total": sum(self._counts.values()),
                    "outcomes": dict(self._counts),
                },
            )
        self._counts = Counter()
