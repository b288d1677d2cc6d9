"""Flood limits for private chats: an in-memory token bucket per sender, keyed by an HMAC of the sender.

The key is a keyed hash with the core's secret and lives only in this process's memory, so the limiter never
writes who wrote when. Every private message counts, wrong ``/绑定`` and ``/进度`` guesses included.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class Verdict(Enum):
    """What to do with one private message: handle it, say the limit (once per window), or drop it silently."""

    ALLOW = "allow"
    TELL = "tell"
    DROP = "drop"


@dataclass
class _Bucket:
    tokens: float
    at: datetime
    told: bool = False


class PrivateLimiter:
    """Allows a burst of ``burst`` private messages per sender, refilled at ``per_minute`` a minute."""

    def __init__(self, secret: bytes, *, burst: int, per_minute: float) -> None:
        self._secret = secret
        self.burst = burst
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}

    def _key(self, platform: str, sender: str) -> str:
        return hmac.new(self._secret, f"limit:{platform}:{sender}".encode(), hashlib.sha256).hexdigest()

    def _refill(self, bucket: _Bucket, now: datetime) -> None:
        elapsed = max(0.0, (now - bucket.at).total_seconds())
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_minute / 60)
        bucket.at = now

    def check(self, platform: str, sender: str, now: datetime) -> Verdict:
        """Take one token for this sender's message; when none is left, tell them once, then drop quietly."""
        key = self._key(platform, sender)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), at=now)
        self._refill(bucket, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.told = False  # a new window: the next time the bucket runs dry, say so again
            return Verdict.ALLOW
        if bucket.told:
            return Verdict.DROP
        bucket.told = True
        return Verdict.TELL

    def wait_minutes(self) -> int:
        """Roughly how long until one more message is accepted, in whole minutes (at least 1)."""
        return max(1, round(1 / self.per_minute)) if self.per_minute > 0 else 60

    def purge(self, now: datetime) -> None:
        """Forget senders whose bucket has refilled completely (nothing left to remember about them)."""
        full_after = timedelta(minutes=self.burst / self.per_minute) if self.per_minute > 0 else None
        for key, bucket in list(self._buckets.items()):
            if full_after is not None and now - bucket.at >= full_after:
                del self._buckets[key]

    def __len__(self) -> int:
        """How many senders are being tracked right now."""
        return len(self._buckets)
