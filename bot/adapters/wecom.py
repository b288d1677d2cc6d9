"""WeCom (企业微信) group-robot webhooks: an outbound-only channel for publicity and reminders.

A group on WeCom is registered with its robot's webhook key (or full webhook URL) as the chat id. Each robot
takes at most 20 messages a minute, so sends are spaced per robot in a sliding window.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import httpx

from bot.adapters.base import Adapter, ChatUnreachable, DeliveryError, RetryLater
from bot.bridge import Bridge

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
PER_ROBOT_PER_MINUTE = 20
MAX_BYTES = 2000  # WeCom allows 2048 bytes of text; keep a margin
# errcodes: 45009 = frequency limit; 93000 = invalid webhook key; 93004 = robot removed from the group.
THROTTLED = {45009}
UNREACHABLE = {93000, 93004, 93008}


def split_text(text: str, max_bytes: int = MAX_BYTES) -> list[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` UTF-8 bytes, preferring line breaks."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > max_bytes:
            cut = max_bytes // 3  # a CJK character is 3 bytes
            pieces += [current] if current else []
            current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode()) > max_bytes:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return [p.rstrip("\n") for p in pieces if p.strip()]


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

    def __init__(self, base_url: str = DEFAULT_BASE_URL, *, limiter: RobotLimiter | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or RobotLimiter()
        self._client = httpx.AsyncClient(timeout=15)
        self._lock = asyncio.Lock()

    def url_for(self, chat_id: str) -> str:
        """The webhook URL of a robot given its key or its full URL."""
        if chat_id.startswith(("http://", "https://")):
            return chat_id
        return f"{self.base_url}/cgi-bin/webhook/send?key={chat_id}"

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        """Nothing to receive: wait until stopped, then close the HTTP client."""
        try:
            await stop.wait()
        finally:
            await self._client.aclose()

    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        """Post the text to the robot's webhook, split to WeCom's size limit and spaced per robot."""
        for piece in split_text(text):
            async with self._lock:
                delay = self.limiter.wait_time(chat_id)
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._post(chat_id, piece)
                self.limiter.record(chat_id)

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
            raise RetryLater(60, f"errcode {code}")
        if code in UNREACHABLE:
            raise ChatUnreachable(f"errcode {code}: {body.get('errmsg', '')}")
        raise DeliveryError(f"errcode {code}: {body.get('errmsg', '')}")
