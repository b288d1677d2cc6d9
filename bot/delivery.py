"""The outbox delivery loop: drains queued pushes for one platform through its adapter.

Pushes (reminders, broadcasts, notices) are written to the outbox by whoever decided them; this loop sends them
under the adapter's own rate limits and records each one: queued → sent | failed | blocked. A row is marked sent
in the step right after the platform accepted it, so a crash repeats at most the one send in flight; if the
database is away at that moment, the mark is kept in memory and written when it is back (no second send).

Adapters only raise; what follows is decided here: a chat the platform refuses is blocked (its group made
inactive), a group that moved to a new id (Telegram group → supergroup) is moved with its queued pushes and
the row sent there once, a throttle pushes the row back without spending an attempt.

Waits are stop-aware: a throttle (a platform's ``retry_after``, WeChat's daily cap until midnight) is already
persisted as the row's ``not_before``, so a stopping bot never sits out a pause. A database outage is logged
once (not a traceback a second) and retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.adapters.base import Adapter, ChatMigrated, ChatUnreachable, RetryLater
from storage import groups as group_repo
from storage import outbox as outbox_repo
from storage.db import unavailable_reason
from storage.models import Group, OutboxMessage, utcnow

log = logging.getLogger(__name__)


class DeliveryLoop:
    """Sends one platform's due outbox rows, one at a time, with retries and exponential backoff."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        adapter: Adapter,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_interval: float = 1.0,
        max_attempts: int = 8,
        base_backoff: float = 5.0,
        max_backoff: float = 3600.0,
    ) -> None:
        self.sessions = sessions
        self.adapter = adapter
        self.clock = clock
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self._stop: asyncio.Event | None = None
        self._unmarked: list[int] = []  # sent while the database was away: to be marked sent when it is back
        self._db_down = False
        # Chats seen moving (old id → new id): rows read before the move still go to the new id.
        self._moved: dict[str, str] = {}

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the loop is told to stop; True when stopping."""
        stop = self._stop
        if stop is None:
            await asyncio.sleep(seconds)
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        return stop.is_set()

    def _due(self) -> list[OutboxMessage]:
        with self.sessions() as session:
            return outbox_repo.due(session, self.adapter.platform, now=self.clock())

    def _mark(self, row_id: int, **changes: object) -> None:
        with self.sessions.begin() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None:
                return
            for key, value in changes.items():
                setattr(row, key, value)
            if changes.get("status") == "blocked":
                group = (
                    session.get(Group, row.group_id)
                    if row.group_id is not None
                    else group_repo.get_group(session, row.platform, row.chat_id)
                )
                if group is not None:
                    group.active = False

    def _migrate(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """Move a group to its new chat id (or retire it if the new id is known already) with its queued pushes."""
        with self.sessions.begin() as session:
            group_repo.move_chat(session, platform, old_chat_id, new_chat_id)
        log.info("group chat id migrated", extra={"platform": platform, "chat": new_chat_id})

    async def _push(self, row: OutboxMessage, chat_id: str) -> None:
        if row.image and self.adapter.supports_images:
            await self.adapter.send_image(chat_id, row.image)
        await self.adapter.send_text(chat_id, row.text)

    async def send_one(self, row: OutboxMessage) -> str:
        """Try to deliver one row and record the outcome; returns the row's new status."""
        now = self.clock()
        try:
            chat_id = self._moved.get(row.chat_id, row.chat_id)
            try:
                await self._push(row, chat_id)
            except ChatMigrated as moved:
                await asyncio.to_thread(self._migrate, row.platform, chat_id, moved.new_chat_id)
                self._moved[chat_id] = moved.new_chat_id
                await self._push(row, moved.new_chat_id)
        except ChatUnreachable as exc:
            await asyncio.to_thread(
                self._mark, row.id, status="blocked", attempts=row.attempts + 1, last_error=str(exc)[:500]
            )
            log.warning("push blocked", extra={"platform": row.platform, "outbox": row.id})
            return "blocked"
        except RetryLater as exc:
            # Throttling is not the row's fault: push it back without spending an attempt, and pause (unless
            # only this chat is throttled: then the other chats' rows go on).
            await asyncio.to_thread(
                self._mark,
                row.id,
                not_before=now + timedelta(seconds=exc.retry_after),
                last_error=f"retry after {exc.retry_after}s",
            )
            if not exc.chat_only:
                await self._pause(exc.retry_after)
            return "queued"
        except Exception as exc:
            attempts = row.attempts + 1
            if attempts >= self.max_attempts:
                await asyncio.to_thread(
                    self._mark,
                    row.id,
                    status="failed",
                    attempts=attempts,
                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                )
                log.error("push failed for good", extra={"platform": row.platform, "outbox": row.id})
                return "failed"
            delay = min(self.base_backoff * 2 ** (attempts - 1), self.max_backoff)
            await asyncio.to_thread(
                self._mark,
                row.id,
                attempts=attempts,
                not_before=now + timedelta(seconds=delay),
                last_error=f"{type(exc).__name__}: {exc}"[:500],
            )
            return "queued"
        try:
            await asyncio.to_thread(
                self._mark, row.id, status="sent", attempts=row.attempts + 1, sent_at=self.clock()
            )
        except Exception as exc:
            if unavailable_reason(exc) is None:
                raise
            self._unmarked.append(
                row.id
            )  # delivered: never send it again, record it when the database is back
        return "sent"

    def _mark_sent_later(self) -> None:
        while self._unmarked:
            row_id = self._unmarked[0]
            with self.sessions.begin() as session:
                row = session.get(OutboxMessage, row_id)
                if row is not None and row.status == "queued":
                    row.status, row.attempts, row.sent_at = "sent", row.attempts + 1, self.clock()
            self._unmarked.pop(0)

    async def drain_once(self, stop: asyncio.Event | None = None) -> int:
        """Send every row due now (while the adapter is connected and not stopping); returns how many were sent."""
        sent = 0
        if not self.adapter.ready:
            return 0
        if self._unmarked:
            await asyncio.to_thread(self._mark_sent_later)
        for row in await asyncio.to_thread(self._due):
            if (stop is not None and stop.is_set()) or not self.adapter.ready:
                break
            if row.id in self._unmarked:
                continue
            sent += await self.send_one(row) == "sent"
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Keep draining until ``stop`` is set; database or adapter trouble is logged and retried.

        An adapter with ``flush_outbox_on_stop`` (the console reading a pipe) gets one last round after the
        stop, so the pushes its last input queued (a confirmed broadcast) go out before the program ends.
        """
        self._stop = stop
        delay = self.poll_interval
        while not stop.is_set():
            delay = await self._round(stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        if getattr(self.adapter, "flush_outbox_on_stop", False):
            await self._round(None)  # every due row; a throttle still does not hold the stop (``self._stop``)

    async def _round(self, stop: asyncio.Event | None) -> float:
        """One drain; returns how long to wait before the next (longer while the database is away)."""
        try:
            await self.drain_once(stop)
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                log.exception("outbox delivery round failed", extra={"platform": self.adapter.platform})
                return self.poll_interval
            if not self._db_down:
                self._db_down = True
                log.warning(
                    "outbox paused: database unavailable",
                    extra={"platform": self.adapter.platform, "reason": reason},
                )
            return min(self.poll_interval * 5, 30.0)
        if self._db_down:
            self._db_down = False
            log.info("outbox resumed", extra={"platform": self.adapter.platform})
        return self.poll_interval
