"""WeCom (企业微信) group-robot webhooks: an outbound-only channel for publicity and reminders.

A group on WeCom is registered with its robot's webhook key (or full webhook URL) as the chat id. Each robot
takes at most 20 messages a minute, so sends are spaced per robot in a sliding window. Two robots never wait
for each other: a robot whose window is full for longer than a moment (or that WeCom says is over its limit)
raises RetryLater for that chat only, so the outbox puts the row back and goes on with other robots' rows. The
short waits are stop-aware: once the bot is stopping, a wait longer than a moment raises RetryLater, so the
outbox row keeps its ``not_before`` and shutdown goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx

from bot.adapters.base import (
    Adapter,
    ChatUnreachable,
    DeliveryError,
    RetryLater,
    Sleep,
    stop_aware_wait,
)
from bot.adapters.text_split import split_text as split_pieces
from bot.adapters.text_split import utf8_bytes

if TYPE_CHECKING:
    from bot.bridge import Bridge

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
PER_ROBOT_PER_MINUTE = 20
# A robot's window is waited for inline up to this long; a longer wait hands the row back to the outbox.
MAX_INLINE_WAIT = 2.0
MAX_BYTES = 2000  # WeCom allows 2048 bytes (UTF-8) of text; keep a margin
# errcodes: 45009 = frequency limit; 93000 = invalid webhook key; 93004 = robot removed from the group.
THROTTLED = {45009}
UNREACHABLE = {93000, 93004, 93008}


def split_text(text: str, max_bytes: int = MAX_BYTES) -> list[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` UTF-8 bytes (emoji are 4), preferring line breaks."""
    return split_pieces(text, max_bytes, measure=utf8_bytes)


def robot_key(chat_id: str) -> str:
    """The robot a chat id names: its webhook key, whether given alone or inside the full webhook URL."""
    if chat_id.startswith(("http://", "https://")):
        key = parse_qs(urlsplit(chat_id).query).get("key")
        if key:
            return key[0]
    return chat_id


class RobotLimiter:
    """At most ``limit`` sends per robot in any 60-second window."""

    def __init__(
        self, limit: int = PER_ROBOT_PER_MINUTE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}

    def wait_time(self, robot: str) -> float:
        """Seconds to wait before the next send to ``robot`` is allowed."""
        window = self._sent.setdefault(robot, deque())
        now = self.clock()
        while window and now - window[0] >= 60:
            window.popleft()
        return 0.0 if len(window) < self.limit else 60 - (now - window[0])

    def record(self, robot: str) -> None:
        """Note one send to ``robot``."""
        self._sent.setdefault(robot, deque()).append(self.clock())


class WecomAdapter(Adapter):
    """Sends pushes to WeCom group robots; receives nothing (robots are one-way)."""

    platform = "wecom"

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        limiter: RobotLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
        max_inline_wait: float = MAX_INLINE_WAIT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or RobotLimiter()
        self.sleep = sleep
        self.max_inline_wait = max_inline_wait
        self._client = httpx.AsyncClient(timeout=15)
        # One lock per robot: its sends go out in order, and a robot never waits for another's window.
        self._locks: dict[str, asyncio.Lock] = {}
        self._stop: asyncio.Event | None = None

    def url_for(self, chat_id: str) -> str:
        """The webhook URL of a robot given its key or its full URL."""
        if chat_id.startswith(("http://", "https://")):
            return chat_id
        return f"{self.base_url}/cgi-bin/webhook/send?key={chat_id}"

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        """Nothing to receive: wait until stopped, then close the HTTP client."""
        self._stop = stop
        try:
            await stop.wait()
        finally:
            await self._client.aclose()

    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        """Post the text to the robot's webhook, split to WeCom's size limit and spaced per robot.

        Raises RetryLater (for this chat only) instead of sitting out a full window, and when stopping.
        """
        robot = robot_key(chat_id)
        lock = self._locks.setdefault(robot, asyncio.Lock())
        for piece in split_text(text):
            async with lock:
                while (delay := self.limiter.wait_time(robot)) > 0:
                    if delay > self.max_inline_wait:
                        raise RetryLater(delay, "robot's minute is used up", chat_only=True)
                    await stop_aware_wait(delay, self._stop, self.sleep)
                await self._post(chat_id, piece)
                self.limiter.record(robot)

    async def _post(self, chat_id: str, text: str) -> None:
        try:
            response = await self._client.post(
                self.url_for(chat_id), json={"msgtype": "text", "text": {"content": text}}
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"network: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise DeliveryError(f"HTTP {response.status_code}")
        if response.status_code in (403, 404):
            raise ChatUnreachable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise DeliveryError(f"HTTP {response.status_code}: not JSON") from exc
        code = body.get("errcode", -1)
        if code == 0:
            return
        if code in THROTTLED:
            raise RetryLater(60, f"errcode {code}", chat_only=True)  # this robot's limit, not WeCom's
        if code in UNREACHABLE:
            raise ChatUnreachable(f"errcode {code}: {body.get('errmsg', '')}")
        raise DeliveryError(f"errcode {code}: {body.get('errmsg', '')}")
