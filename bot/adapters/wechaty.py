"""WeChat through a Wechaty puppet service gateway (gRPC), with the python ``wechaty`` SDK.

The SDK (wechaty 0.10.7, Nov 2022) is an optional extra (``pip install -e '.[wechat]'``) and does not import on
current Python as published. Everything that works around it lives in this module and runs only when the adapter
is used, never at import time:

- ``pyee<12`` and ``urllib3<2`` are pinned by the extra (checked here with a clear error);
- ``wechaty_puppet.schemas.puppet.PuppetOptions`` is made hashable before ``import wechaty`` (Python 3.11 rejects
  an unhashable dataclass instance as a field default);
- ``telnetlib`` is gone in Python 3.13, so 3.13+ is refused with a clear error;
- wechaty logs every received message with the sender's id, name and text at INFO through its own handlers.
  Its loggers are turned down to WARNING (``WECHATY_LOG=warn`` before the import, levels after) and routed
  through our logging, so a whistleblower's private message never reaches a log;
- ``CACHE_DIR`` points into the data folder, and the plugin web server stays off (``port=0``).

Sending is paced, because WeChat bans accounts that send in bursts: a minimum interval plus random jitter between
any two sends and a cap per local day. Log-in and log-out go to the bridge (a log-out alerts the officials through
the other platforms). If the gateway's event stream ends, ``run`` raises so the supervisor reconnects.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.metadata
import importlib.util
import ipaddress
import logging
import os
import random
import re
import ssl
import sys
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.adapters.base import Adapter, ChatUnreachable, DeliveryError, RetryLater, stop_aware_wait
from bot.adapters.text_split import split_text
from handlers.messages import IncomingMessage, QuotedMessage, Reply

if TYPE_CHECKING:
    from bot.bridge import Bridge
    from bot.config import Settings

log = logging.getLogger(__name__)

PLATFORM = "wechaty"
CONNECT_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
DRAIN_TIMEOUT_ON_FAILURE = 15.0

# Logger names the wechaty SDK family creates with its own stderr handlers and propagate=False.
WECHATY_LOGGERS = (
    "wechaty",
    "wechaty_puppet",
    "wechaty_puppet_service",
    "wechaty.plugin",
    "Wechaty",
    "Message",
    "Contact",
    "ContactSelf",
    "Room",
    "RoomInvitation",
    "Tag",
    "Image",
    "Favorite",
    "FriendShip",
    "MiniProgram",
    "UrlLink",
    "Config",
    "Accessory",
    "FileBox",
    "Watchdog",
    "WechatyPuppet.Schemas.Event",
    "WechatyPuppet.Schema.Base",
    "WechatyPuppetServiceConfig",
    "PuppetService",
)
# These log whole objects at WARNING: Accessory prints a Message (sender id, name, text) when its payload is set
# twice; PuppetService prints the endpoint *and token* at every start. Keep them at ERROR.
WECHATY_LOGGERS_AT_ERROR = ("Accessory", "PuppetService")

# HTTP/2 libraries under grpclib: at DEBUG, hpack logs every header, including the token sent as :authority.
TRANSPORT_LOGGERS = ("hpack", "h2")

_MENTION_SPACES = "\u2005\u0020"
# Longer messages are cut before any text handling: nobody types a hazard report this long, and it bounds the work.
MAX_TEXT_CHARS = 8192
# Outgoing texts longer than this (code points) go as several messages: the same bound as incoming ones.
MAX_SEND_CHARS = MAX_TEXT_CHARS
# A WeChat quote-reply reaches the SDK as a text message "「<display name>：<quoted text>」", a line of spaced
# dashes, then what was typed (the puppets padlocal, xp, wechaty-puppet-wechat... render it this way; the quoted
# message's id and sender id are not passed on). The dash line is 15 dashes; accept any run of 4 or more.
QUOTE_SEPARATOR = re.compile(r"」\r?\n-(?: -){3,}\r?\n")
# Room messages kept in memory to recognise which one a quote-reply quotes: per room, and rooms in total.
RECENT_PER_ROOM = 300
RECENT_ROOMS = 500


# --- the import shim ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WechatySDK:
    """The pieces of the wechaty SDK the adapter uses, imported once through the shim."""

    Wechaty: Any
    WechatyOptions: Any
    PuppetOptions: Any
    MessageType: Any
    ContactType: Any
    pools: tuple[dict[str, Any], ...]
    make_scheduler: Callable[[], Any]


_sdk: WechatySDK | None = None


def check_environment() -> None:
    """Raise a clear error (in Chinese, for the operator) when the wechat extra cannot work here."""
    if sys.version_info >= (3, 13):
        raise RuntimeError(
            "微信适配器（wechaty 0.10.7）不能在 Python 3.13 及以上版本运行（它依赖已被移除的 telnetlib）。"
            f"当前是 Python {sys.version_info[0]}.{sys.version_info[1]}，请改用 Python 3.11 或 3.12。"
        )
    missing = [
        name
        for name in ("wechaty", "wechaty_puppet", "wechaty_puppet_service", "wechaty_grpc", "grpclib")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise RuntimeError(f"未安装微信扩展（缺少 {', '.join(missing)}）。请运行：pip install -e '.[wechat]'")
    for dist, ceiling in (("pyee", 12), ("urllib3", 2)):
        try:
            major = int(importlib.metadata.version(dist).split(".")[0])
        except (importlib.metadata.PackageNotFoundError, ValueError):
            continue
        if major >= ceiling:
            raise RuntimeError(
                f"微信扩展需要 {dist}<{ceiling}（当前 {importlib.metadata.version(dist)}）。"
                "请运行：pip install -e '.[wechat]'"
            )


def quiet_wechaty_loggers(extra: Iterable[str] = ()) -> None:
    """Turn wechaty's loggers down to WARNING (some to ERROR) and route them through our logging.

    wechaty's ``get_logger`` gives each logger its own stderr handler, ``propagate=False`` and the level from
    ``WECHATY_LOG`` (default INFO, which logs every received message with its sender). Removing those handlers
    and propagating lets the application's logging set-up format and filter them like everything else.
    """
    for name in (*WECHATY_LOGGERS, *extra):
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR if name in WECHATY_LOGGERS_AT_ERROR else logging.WARNING)
        logger.handlers.clear()
        logger.propagate = True
    for name in TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def load_wechaty(cache_dir: Path | None = None) -> WechatySDK:
    """Import the wechaty SDK through the shim (once per process) and return the parts the adapter uses."""
    global _sdk
    if _sdk is not None:
        quiet_wechaty_loggers()
        return _sdk
    check_environment()
    # wechaty reads its log level from the environment at import; "silent" maps to NOTSET (= everything).
    if os.environ.get("WECHATY_LOG", "").lower() != "error":
        os.environ["WECHATY_LOG"] = "warn"
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("CACHE_DIR", str(cache_dir))
    stray_cache = Path(".wechaty")
    stray_existed = stray_cache.exists()
    known_loggers = set(logging.root.manager.loggerDict)

    with warnings.catch_warnings():
        # telnetlib (removed in 3.13) and pyee's moved AsyncIOEventEmitter: known, and pinned by the extra.
        warnings.simplefilter("ignore", DeprecationWarning)
        import wechaty_puppet.schemas.puppet as puppet_schemas

        if puppet_schemas.PuppetOptions.__hash__ is None:  # a dataclass default must be hashable on 3.11+
            puppet_schemas.PuppetOptions.__hash__ = object.__hash__  # type: ignore[method-assign]

        import wechaty_puppet_service  # noqa: F401  (Wechaty imports it lazily; now, so its logger is quieted)
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from wechaty import Wechaty, WechatyOptions
        from wechaty.user.contact import Contact
        from wechaty.user.room import Room
        from wechaty.user.tag import Tag
        from wechaty_puppet import ContactType, MessageType, PuppetOptions

    new_loggers = [
        name
        for name in set(logging.root.manager.loggerDict) - known_loggers
        if isinstance(logging.root.manager.loggerDict[name], logging.Logger)
        and not logging.getLogger(name).propagate
    ]
    quiet_wechaty_loggers(new_loggers)
    # wechaty_puppet creates ./.wechaty in the working directory at import, whatever CACHE_DIR says.
    if not stray_existed:
        with contextlib.suppress(OSError):
            stray_cache.rmdir()  # only if empty

    _sdk = WechatySDK(
        Wechaty=Wechaty,
        WechatyOptions=WechatyOptions,
        PuppetOptions=PuppetOptions,
        MessageType=MessageType,
        ContactType=ContactType,
        pools=(Contact._pool, Room._pool, Tag._pool),
        make_scheduler=AsyncIOScheduler,
    )
    return _sdk


def clear_wechaty_caches(sdk: WechatySDK) -> None:
    """Forget the SDK's class-level Contact/Room/Tag caches (bound to the previous bot's puppet)."""
    for pool in sdk.pools:
        pool.clear()


# --- translation ----------------------------------------------------------------------------------------


def strip_mention(text: str, bot_names: Iterable[str]) -> str:
    """Remove a leading or trailing ``@<bot name>`` (followed by WeChat's U+2005 space, a space or the end).

    Plain string checks anchored at either end, on a capped input: linear in the length, whatever it holds.
    """
    result = text[:MAX_TEXT_CHARS]
    for name in {n for n in bot_names if n}:
        mention = "@" + name
        head = result.lstrip()
        if head.startswith(mention):
            rest = head[len(mention) :]
            if not rest or rest[0] in _MENTION_SPACES:
                result = rest.lstrip(_MENTION_SPACES)
        tail = result.rstrip()
        if tail.endswith(mention):
            result = tail[: -len(mention)].rstrip(_MENTION_SPACES)
    return result.strip()


def message_time(timestamp: int | float | None) -> datetime | None:
    """A puppet timestamp (seconds or milliseconds since the epoch) as an aware UTC datetime."""
    if not timestamp:
        return None
    seconds = timestamp / 1000 if timestamp > 10**11 else timestamp
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def split_quote(text: str) -> tuple[str, str] | None:
    """``(header, typed)`` of a quote-reply's text, the header being ``<display name>：<quoted text>``; else None."""
    if not text.startswith("「"):
        return None
    separator = QUOTE_SEPARATOR.search(text, 0, MAX_TEXT_CHARS + 64)
    if separator is None:
        return None
    return text[1 : separator.start()], text[separator.end() :]


@dataclass(frozen=True)
class SeenRoomMessage:
    """A room text message the adapter handed over, kept to resolve later quotes of it."""

    message_id: str
    sender_id: str
    sender_name: str
    text: str  # as WeChat quotes it: what was typed, mention included, without the message's own quote


class RecentRoomMessages:
    """The last room text messages per room (bounded, in memory only), to tell which one a quote-reply quotes.

    A quote names the sender by display name (the room nickname if set) and repeats the quoted text, so the
    newest message with the same sender name and text wins; failing that, the newest with the same text.
    Private messages are never kept.
    """

    def __init__(self, per_room: int = RECENT_PER_ROOM, rooms: int = RECENT_ROOMS) -> None:
        self.per_room = per_room
        self.rooms = rooms
        self._rooms: OrderedDict[str, deque[SeenRoomMessage]] = OrderedDict()

    def add(self, room_id: str, message: SeenRoomMessage) -> None:
        """Remember one message of a room (forgetting the oldest room or message beyond the bounds)."""
        recent = self._rooms.get(room_id)
        if recent is None:
            recent = self._rooms[room_id] = deque(maxlen=self.per_room)
            while len(self._rooms) > self.rooms:
                self._rooms.popitem(last=False)
        self._rooms.move_to_end(room_id)
        recent.append(message)

    def find(self, room_id: str, header: str) -> SeenRoomMessage | None:
        """The message a quote header ``<display name>：<quoted text>`` refers to, if it was seen in the room."""
        recent = self._rooms.get(room_id, ())
        for seen in reversed(recent):
            if header == f"{seen.sender_name}：{seen.text}":
                return seen
        for seen in reversed(recent):  # the room nickname differs from the contact name
            if seen.text and header.endswith("：" + seen.text) and len(header) > len(seen.text) + 1:
                return seen
        return None


def build_incoming(
    *,
    message_id: str,
    text: str,
    talker_id: str,
    talker_name: str = "",
    room_id: str | None = None,
    room_topic: str | None = None,
    bot_names: Iterable[str] = (),
    timestamp: int | float | None = None,
    reply_to: QuotedMessage | None = None,
    photo: bytes | None = None,
    photo_error: str | None = None,
) -> IncomingMessage | None:
    """Translate one text (or image) message into the core's type; ``None`` when there is nothing to hand over.

    Room messages are group chats keyed by the room id and titled by the topic; anything else is a private chat
    keyed by the contact id. The sender is always the contact id (never the name). A private message carries no
    sender name: the core needs none, and the whistleblower channel must not see one. ``reply_to`` (the quoted
    room message) is kept for room messages only. An image message comes with ``photo`` (already fetched) or
    ``photo_error``, and no text.
    """
    has_photo = photo is not None or photo_error is not None
    if room_id:
        cleaned = strip_mention(text, bot_names)
        if not cleaned and not has_photo:
            return None
        return IncomingMessage(
            platform=PLATFORM,
            chat_id=room_id,
            chat_type="group",
            message_id=message_id,
            sender_id=talker_id,
            text=cleaned,
            sender_name=talker_name,
            chat_title=room_topic or None,
            sent_at=message_time(timestamp),
            reply_to=reply_to,
            photo=photo,
            photo_error=photo_error,
        )
    cleaned = text[:MAX_TEXT_CHARS].strip()
    if not cleaned and not has_photo:
        return None
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=talker_id,
        chat_type="private",
        message_id=message_id,
        sender_id=talker_id,
        text=cleaned,
        sent_at=message_time(timestamp),
        photo=photo,
        photo_error=photo_error,
    )


# --- photos ---------------------------------------------------------------------------------------------

# An image is fetched only up to this size (the core refuses larger ones as well).
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_URL_TIMEOUT = 20.0


def filebox_bytes(box: Any, cap: int = PHOTO_MAX_BYTES) -> tuple[bytes | None, str | None]:
    """(the contents of a FileBox the gateway sent, None), or (None, "too_large" | "failed").

    Gateways send images as base64 boxes (buffers and streams are serialised that way); a URL box is fetched
    over http(s) with a timeout, never beyond the cap.
    """
    encoded = getattr(box, "base64", None)
    if encoded:
        if isinstance(encoded, str):
            encoded = encoded.encode("ascii", "ignore")
        if len(encoded) > (cap * 4) // 3 + 4:
            return None, "too_large"
        try:
            data = base64.b64decode(encoded)
        except (ValueError, TypeError):
            return None, "failed"
    elif isinstance(getattr(box, "buffer", None), bytes | bytearray):
        data = bytes(box.buffer)
    elif isinstance(getattr(box, "remoteUrl", None), str):
        return _fetch_url(box.remoteUrl, cap)
    else:
        return None, "failed"
    if not data:
        return None, "failed"
    return (data, None) if len(data) <= cap else (None, "too_large")


def _fetch_url(url: str, cap: int) -> tuple[bytes | None, str | None]:
    import urllib.request

    if not url.lower().startswith(("http://", "https://")):
        return None, "failed"
    try:
        with urllib.request.urlopen(url, timeout=PHOTO_URL_TIMEOUT) as response:
            data = response.read(cap + 1)
    except Exception:
        return None, "failed"
    return (data, None) if len(data) <= cap else (None, "too_large")


async def fetch_image(
    message: Any, cap: int = PHOTO_MAX_BYTES, *, log_errors: bool = True
) -> tuple[bytes | None, str | None]:
    """The image of a WeChat image message through its file box; logs the kind of error only.

    With ``log_errors`` false nothing is logged: a private message never gets a log line of its own.
    """
    try:
        box = await message.to_file_box()
        if isinstance(getattr(box, "remoteUrl", None), str) and not getattr(box, "base64", None):
            return await asyncio.to_thread(filebox_bytes, box, cap)  # a URL is fetched off the event loop
        return filebox_bytes(box, cap)
    except Exception as exc:
        if log_errors:
            log.warning(
                "wechat image could not be fetched", extra={"platform": PLATFORM, "error": type(exc).__name__}
            )
        return None, "failed"


# --- pacing ---------------------------------------------------------------------------------------------

# Sends of each day's cap kept for receipts to tipsters (at most a tenth of the cap).
RECEIPT_RESERVE = 20


class SendPacer:
    """Spaces sends at least ``min_interval`` + U(0, ``jitter``) seconds apart and caps them per local day.

    Beyond the cap, ``slot`` raises RetryLater until the next local midnight (and logs a warning once a day).
    Clock, wall time, randomness and sleep are injectable so the arithmetic can be tested without waiting.
    """

    def __init__(
        self,
        min_interval: float,
        jitter: float,
        daily_cap: int,
        tz: tzinfo,
        *,
        reserve: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        if min_interval < 0 or jitter < 0 or daily_cap < 0:
            raise ValueError("min_interval, jitter and daily_cap must not be negative")
        self.min_interval = min_interval
        self.jitter = jitter
        self.daily_cap = daily_cap
        # The last ``reserve`` sends of a day are kept for receipts to tipsters, so a busy day cannot eat them.
        self.reserve = min(max(0, reserve), daily_cap)
        self.tz = tz
        self._monotonic = monotonic
        self._now = now or (lambda: datetime.now(UTC))
        self._uniform = uniform
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._next_allowed: float | None = None
        self._day: str | None = None
        self._count = 0
        self._warned_day: str | None = None
        # Set by the adapter: once it is set, a wait longer than a moment raises RetryLater instead (shutdown
        # never sits out the pacing; a group reply waits in the outbox, its time persisted).
        self.stop: asyncio.Event | None = None

    async def _wait(self, delay: float) -> None:
        # Stopping, a wait up to a moment is still sat out; a longer one raises RetryLater.
        await stop_aware_wait(delay, self.stop, self._sleep)

    def gap(self) -> float:
        """The pause to keep after one send: the minimum interval plus random jitter."""
        return self.min_interval + (self._uniform(0.0, self.jitter) if self.jitter > 0 else 0.0)

    def wait_time(self) -> float:
        """How long the next send has to wait from now."""
        if self._next_allowed is None:
            return 0.0
        return max(0.0, self._next_allowed - self._monotonic())

    def seconds_until_midnight(self) -> float:
        """Seconds until the next local midnight, when the daily count starts again."""
        local = self._now().astimezone(self.tz)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        return max(1.0, (midnight.astimezone(UTC) - local.astimezone(UTC)).total_seconds())

    def sent_today(self) -> int:
        """How many sends were counted on the current local day."""
        return self._count if self._day == self._today() else 0

    def _today(self) -> str:
        return self._now().astimezone(self.tz).date().isoformat()

    def check_cap(self, reserved: bool = False) -> None:
        """Raise RetryLater (until local midnight) if today's cap is used up; receipts may use the reserve."""
        today = self._today()
        if self._day != today:
            self._day, self._count = today, 0
        if self._count >= (self.daily_cap if reserved else self.daily_cap - self.reserve):
            retry_after = self.seconds_until_midnight()
            if self._warned_day != today:
                self._warned_day = today
                log.warning(
                    "wechat daily send cap reached; holding sends until midnight",
                    extra={"platform": PLATFORM, "cap": self.daily_cap, "retry_after": round(retry_after)},
                )
            raise RetryLater(retry_after, f"daily cap of {self.daily_cap} WeChat messages reached")

    @contextlib.asynccontextmanager
    async def slot(self, reserved: bool = False) -> AsyncIterator[None]:
        """Hold the one sending slot: wait for our turn, send inside, and the next gap starts when we are done.

        Raises RetryLater (before sending) when the daily cap is reached. Timing the gap from the end of a send
        keeps sends spaced on the receiving side even when one send is slow.
        """
        async with self._lock:
            self.check_cap(reserved)
            delay = self.wait_time()
            if delay > 0:
                await self._wait(delay)
            self.check_cap(reserved)  # the day may have turned while waiting
            self._count += 1
            try:
                yield
            finally:
                self._next_allowed = self._monotonic() + self.gap()

    async def acquire(self) -> None:
        """Take a slot for an instantaneous send (counts it, or raises RetryLater at the daily cap)."""
        async with self.slot():
            pass


# --- the adapter ----------------------------------------------------------------------------------------


class WechatyAdapter(Adapter):
    """Rooms and private chats of one WeChat account, through a Wechaty puppet service gateway."""

    platform = PLATFORM

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        *,
        min_interval: float = 3.0,
        jitter: float = 2.0,
        daily_cap: int = 500,
        tz: tzinfo | None = None,
        data_dir: Path = Path("data"),
        tls: GatewayTLS | None = None,
        insecure: bool = False,
    ) -> None:
        self.endpoint = validate_endpoint(endpoint)
        self.token = check_token(token)
        self.tls = tls
        # Built now, so that an unreadable CA file stops the start with a clear error.
        self._ssl_context = tls.context() if tls is not None else None
        check_transport(self.endpoint, tls, insecure)
        self.data_dir = Path(data_dir)
        self.pacer = SendPacer(
            min_interval,
            jitter,
            daily_cap,
            tz or ZoneInfo("Asia/Shanghai"),
            reserve=min(RECEIPT_RESERVE, daily_cap // 10),
        )
        self.logged_in = asyncio.Event()
        self.self_id: str | None = None
        self.self_name: str = ""
        self._bot: Any = None
        self._bridge: Bridge | None = None
        self._sdk: WechatySDK | None = None
        self._closing = False
        self.recent = RecentRoomMessages()

    @classmethod
    def from_settings(cls, settings: Settings) -> WechatyAdapter:
        """Build the adapter from ``ANQUAN_WECHATY_*`` settings; clear errors for what cannot work.

        Refused: no token or a placeholder one, and plaintext to a gateway that is not on loopback (unless
        ``ANQUAN_WECHATY_INSECURE``). TLS is on with ``ANQUAN_WECHATY_TLS_CA`` or ``ANQUAN_WECHATY_TLS``.
        """
        check_environment()
        if not settings.wechaty_endpoint:
            raise ValueError(
                "未配置微信 puppet 服务地址：请设置 ANQUAN_WECHATY_ENDPOINT（host:port，例如 127.0.0.1:8788），"
                "并用 ANQUAN_WECHATY_TOKEN 设置它的 token。"
            )
        tls = None
        if settings.wechaty_tls or settings.wechaty_tls_ca is not None:
            tls = GatewayTLS(settings.wechaty_tls_ca, settings.wechaty_tls_server_name)
        elif settings.wechaty_tls_server_name:
            log.warning(
                "ANQUAN_WECHATY_TLS_SERVER_NAME is ignored without TLS (set ANQUAN_WECHATY_TLS_CA)",
                extra={"platform": PLATFORM},
            )
        return cls(
            settings.wechaty_endpoint,
            settings.wechaty_token.get_secret_value() if settings.wechaty_token else None,
            min_interval=settings.wechaty_min_interval,
            jitter=settings.wechaty_jitter,
            daily_cap=settings.wechaty_daily_cap,
            tz=settings.tz,
            data_dir=settings.data_dir,
            tls=tls,
            insecure=settings.wechaty_insecure,
        )

    @property
    def server_name(self) -> str:
        """The name the gateway's certificate must carry: the TLS server name, or the endpoint's host."""
        if self.tls is not None and self.tls.server_name:
            return self.tls.server_name
        return split_endpoint(self.endpoint)[0]

    # --- running ------------------------------------------------------------------------------------

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        """Connect to the gateway and hand messages to ``bridge`` until ``stop``; raise if the stream fails."""
        if stop.is_set():
            return
        sdk = load_wechaty(self.data_dir / "wechaty")
        self._sdk, self._bridge, self._closing = sdk, bridge, False
        self.pacer.stop = stop
        clear_wechaty_caches(sdk)
        await self._check_reachable()
        os.environ["WECHATY_PUPPET"] = "wechaty-puppet-service"
        os.environ["WECHATY_PUPPET_SERVICE_ENDPOINT"] = self.endpoint
        os.environ["WECHATY_PUPPET_SERVICE_TOKEN"] = self.token
        bot = sdk.Wechaty(
            sdk.WechatyOptions(
                puppet="wechaty-puppet-service",
                puppet_options=sdk.PuppetOptions(),  # a fresh one: the class default is shared and mutated
                host="127.0.0.1",
                port=0,  # no plugin web server (it would take port 5000)
                scheduler=sdk.make_scheduler(),  # in memory, instead of a job.db file
            )
        )
        bot.on("message", self._on_message)
        bot.on("scan", self._on_scan)
        bot.on("error", self._on_error)
        self._bot = bot
        events = asyncio.create_task(self._listen(bot), name="wechaty-events")
        stopped = asyncio.create_task(stop.wait(), name="wechaty-stop")
        failure: BaseException | None = None
        try:
            await asyncio.wait({events, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            self._closing = True
            if events.done():
                failure = events.exception() if not events.cancelled() else None
            else:
                events.cancel()  # closes the event stream from our side: nothing new comes in
                await asyncio.gather(events, return_exceptions=True)
            # Messages already received are answered before the channel closes (briefly, if the stream broke).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bridge.drain(), None if stop.is_set() else DRAIN_TIMEOUT_ON_FAILURE)
            await self._close(bot)
        if not stop.is_set():
            if isinstance(failure, ssl.SSLError):
                raise self._tls_failed(failure) from failure
            log.error(
                "wechat event stream ended",
                extra={"platform": PLATFORM, "error": type(failure).__name__ if failure else None},
            )
            raise ConnectionError("微信 puppet 服务的事件流中断") from failure

    def _tls_failed(self, exc: BaseException) -> GatewayTLSError:
        error = tls_error(exc, self.endpoint, self.server_name)
        # The supervisor logs only the exception's type: the explanation goes to the log here.
        log.error(
            "wechat gateway TLS failed",
            extra={"platform": PLATFORM, "error": type(exc).__name__, "hint": str(error)},
        )
        return error

    async def _check_reachable(self) -> None:
        # The SDK checks the port with a blocking telnet (3 s); fail fast here without blocking the loop.
        # With TLS this is a full handshake, so a wrong CA or name stops us before any gRPC call is made.
        host, port = split_endpoint(self.endpoint)
        context = self._ssl_context
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    host, port, ssl=context, server_hostname=self.server_name if context else None
                ),
                CONNECT_TIMEOUT,
            )
        except ssl.SSLError as exc:
            raise self._tls_failed(exc) from exc
        except (OSError, TimeoutError) as exc:
            if context is not None and isinstance(exc, ConnectionResetError):
                raise self._tls_failed(exc) from exc  # a plaintext gateway may drop the handshake
            raise ConnectionError(f"连不上微信 puppet 服务 {self.endpoint}") from exc
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def _open_channel(self, puppet: Any) -> None:
        """Replaces the SDK's ``PuppetService._init_puppet``: our own grpclib channel, with TLS when configured.

        The SDK (wechaty-puppet-service 0.8.10) builds ``Channel(host, port)`` with no way to pass TLS settings,
        sends the token only as the ``:authority`` header, and pings the port with a blocking telnet first (we
        already checked it). Here the token also goes as ``authorization: Wechaty <token>`` metadata, which is
        what current gateways check (they fall back to ``:authority`` for old clients).
        """
        from grpclib.client import Channel
        from grpclib.config import Configuration
        from grpclib.events import SendRequest, listen
        from wechaty_grpc.wechaty import PuppetStub

        host, port = split_endpoint(self.endpoint)
        config = None
        if self._ssl_context is not None and self.tls is not None and self.tls.server_name:
            config = Configuration(ssl_target_name_override=self.tls.server_name)
        channel = Channel(host, port, ssl=self._ssl_context, config=config)
        channel._authority = self.token
        authorization = f"Wechaty {self.token}"

        async def add_authorization(event: SendRequest) -> None:
            event.metadata["authorization"] = authorization

        listen(channel, SendRequest, add_authorization)
        puppet.channel = channel
        puppet._puppet_stub = PuppetStub(channel)

    async def _listen(self, bot: Any) -> None:
        # What Wechaty.start() does, minus its error handling: on a network error it sleeps 60 s and restarts
        # by itself, on a puppet error it stops the whole event loop. Here errors propagate to run().
        await bot.init_puppet()
        puppet = bot.puppet
        puppet._init_puppet = lambda: self._open_channel(puppet)  # TLS and authorization (see _open_channel)
        await bot.init_puppet_event_bridge(puppet)
        # Log-in and log-out straight from the puppet: Wechaty emits "login" only once per bot, so a log-in
        # after a log-out on the same connection would go unnoticed.
        bot.puppet.on("login", self._on_login)
        bot.puppet.on("logout", self._on_logout)
        await bot.puppet.start()  # returns when the event stream ends

    async def _close(self, bot: Any) -> None:
        self._bot = None
        self.logged_in.clear()
        puppet = getattr(bot, "_puppet", None)
        scheduler = getattr(getattr(bot, "_plugin_manager", None), "scheduler", None)
        with contextlib.suppress(Exception):
            if scheduler is not None and scheduler.running:
                scheduler.shutdown(wait=False)
        try:
            await asyncio.wait_for(bot.stop(), STOP_TIMEOUT)
        except Exception as exc:
            log.warning("wechaty stop failed", extra={"platform": PLATFORM, "error": type(exc).__name__})
        finally:
            channel = getattr(puppet, "channel", None)
            if channel is not None:
                channel.close()
            if self._sdk is not None:
                clear_wechaty_caches(self._sdk)

    # --- events -------------------------------------------------------------------------------------

    async def _on_login(self, payload: Any) -> None:
        bot = self._bot
        if bot is None:
            return
        self.self_id = payload.contact_id
        try:
            contact = bot.Contact.load(payload.contact_id)
            await contact.ready()
            self.self_name = contact.name or ""
        except Exception as exc:  # without the name only @-mentions stay in the text
            log.warning(
                "wechat account name unknown", extra={"platform": PLATFORM, "error": type(exc).__name__}
            )
        self.logged_in.set()
        log.info("wechat account logged in", extra={"platform": PLATFORM})
        if self._bridge is not None:
            await self._bridge.platform_event(PLATFORM, "login")

    async def _on_logout(self, payload: Any) -> None:
        self.logged_in.clear()
        log.warning("wechat account logged out", extra={"platform": PLATFORM})
        if self._bridge is not None:
            await self._bridge.platform_event(PLATFORM, "logout")

    async def _on_scan(self, qr_code: str, status: Any, data: Any = None) -> None:
        # The operator has to scan this QR code with the bot's phone to log the account in again.
        log.warning(
            "wechat login needs a QR scan",
            extra={"platform": PLATFORM, "status": str(status), "qrcode": qr_code},
        )

    async def _on_error(self, error: Any) -> None:
        log.error("wechaty reported an error", extra={"platform": PLATFORM, "error": type(error).__name__})

    async def _on_message(self, message: Any) -> None:
        bridge = self._bridge
        if bridge is None or self._closing:
            return
        try:
            incoming = await self._translate(message)
        except Exception as exc:
            log.warning(
                "wechat message could not be read", extra={"platform": PLATFORM, "error": type(exc).__name__}
            )
            return
        if incoming is not None:
            bridge.submit(incoming, self._deliver, self.send_document, self.send_image)

    async def _translate(self, message: Any) -> IncomingMessage | None:
        sdk = self._sdk
        assert sdk is not None
        if message.is_self():
            return None
        if message.type() == sdk.MessageType.MESSAGE_TYPE_IMAGE:
            return await self._translate_image(message)
        if message.type() != sdk.MessageType.MESSAGE_TYPE_TEXT:
            return None
        payload = message.payload
        talker = message.talker()
        room = message.room()
        text = message.text()
        quote = split_quote(text)
        if quote is not None:
            text = quote[1]  # the core sees what was typed, as on Telegram; the quoted part becomes reply_to
        if room is None:
            # Private chat: skip official accounts' pushes, and do not keep the sender cached in memory.
            talker_payload = talker.payload
            sdk.pools[0].pop(talker.contact_id, None)
            if talker_payload is not None and talker_payload.type == sdk.ContactType.CONTACT_TYPE_OFFICIAL:
                return None
            return build_incoming(
                message_id=message.message_id,
                text=text,
                talker_id=talker.contact_id,
                timestamp=payload.timestamp,
            )
        bot_names = [self.self_name]
        reply_to = None
        if quote is not None:
            seen = self.recent.find(room.room_id, quote[0])
            if seen is not None:
                reply_to = QuotedMessage(
                    message_id=seen.message_id,
                    sender_id=seen.sender_id,
                    sender_name=seen.sender_name,
                    text=strip_mention(seen.text, bot_names),
                )
        if text.strip():
            self.recent.add(
                room.room_id,
                SeenRoomMessage(
                    message.message_id, talker.contact_id, talker.name or "", text[:MAX_TEXT_CHARS]
                ),
            )
        topic = room.payload.topic if room.payload is not None else None
        return build_incoming(
            message_id=message.message_id,
            text=text,
            talker_id=talker.contact_id,
            talker_name=talker.name,
            room_id=room.room_id,
            room_topic=topic,
            bot_names=bot_names,
            timestamp=payload.timestamp,
            reply_to=reply_to,
        )

    # --- sending ------------------------------------------------------------------------------------

    async def _deliver(self, reply: Reply) -> None:
        await self.send_text(reply.chat_id, reply.text, reply.quote_message_id, reserved=reply.receipt)

    @property
    def ready(self) -> bool:
        """Logged in to WeChat, so pushes can go out."""
        return self.logged_in.is_set()

    async def send_text(
        self, chat_id: str, text: str, quote_message_id: str | None = None, *, reserved: bool = False
    ) -> None:
        """Send one text into a room or private chat, paced; ``reserved`` (a receipt) may use the cap's reserve.

        A text longer than ``MAX_SEND_CHARS`` goes as several messages, each paced (and counted) on its own.
        """
        bot = self._bot
        if bot is None or not self.logged_in.is_set():
            raise DeliveryError("wechat is not connected or not logged in")
        for piece in split_text(text, MAX_SEND_CHARS):
            async with self.pacer.slot(reserved):
                try:
                    await bot.puppet.message_send_text(conversation_id=chat_id, message=piece)
                except Exception as exc:
                    raise _delivery_error(exc) from exc

    async def _translate_image(self, message: Any) -> IncomingMessage | None:
        """An image message: fetched here (before dispatch), handed over with no text (WeChat images have none)."""
        sdk = self._sdk
        assert sdk is not None
        talker = message.talker()
        room = message.room()
        if room is None:
            talker_payload = talker.payload
            sdk.pools[0].pop(talker.contact_id, None)  # do not keep a private sender cached
            if talker_payload is not None and talker_payload.type == sdk.ContactType.CONTACT_TYPE_OFFICIAL:
                return None
        photo, error = await fetch_image(message, log_errors=room is not None)
        topic = room.payload.topic if room is not None and room.payload is not None else None
        return build_incoming(
            message_id=message.message_id,
            text="",
            talker_id=talker.contact_id,
            talker_name=talker.name if room is not None else "",
            room_id=room.room_id if room is not None else None,
            room_topic=topic,
            timestamp=message.payload.timestamp,
            photo=photo,
            photo_error=error,
        )

    async def send_image(self, chat_id: str, image: bytes) -> None:
        """Send one photo (a FileBox from base64) into a room or private chat, paced like texts."""
        await self.send_document(chat_id, image, "photo.jpg")

    async def send_document(self, chat_id: str, data: bytes, filename: str) -> None:
        """Send one file (a FileBox from base64) into a room or private chat, paced like texts."""
        bot = self._bot
        if bot is None or not self.logged_in.is_set():
            raise DeliveryError("wechat is not connected or not logged in")
        from wechaty_puppet import FileBox  # already imported through the shim once connected

        box = FileBox.from_base64(base64.b64encode(data).decode("ascii"), name=filename)
        async with self.pacer.slot():
            try:
                await bot.puppet.message_send_file(conversation_id=chat_id, file=box)
            except Exception as exc:
                raise _delivery_error(exc) from exc


def _delivery_error(exc: Exception) -> DeliveryError:
    from grpclib.const import Status
    from grpclib.exceptions import GRPCError

    if isinstance(exc, GRPCError) and exc.status in (Status.NOT_FOUND, Status.PERMISSION_DENIED):
        return ChatUnreachable(f"wechat refused the chat: {exc.status.name}")
    if isinstance(exc, GRPCError) and exc.status == Status.RESOURCE_EXHAUSTED:
        return RetryLater(60.0, "wechat gateway is throttling")
    return DeliveryError(f"wechat send failed: {type(exc).__name__}")


def validate_endpoint(endpoint: str) -> str:
    """``host:port`` of the puppet service gateway, or a ValueError that says what is wrong."""
    value = (endpoint or "").strip()
    for prefix in ("grpc://", "http://"):
        value = value.removeprefix(prefix)
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"ANQUAN_WECHATY_ENDPOINT 应为 host:port（例如 127.0.0.1:8788），当前是 {endpoint!r}"
        )
    return value


# --- the gateway transport: token and TLS -------------------------------------------------------------------

# The token is the only credential between the bot and a gateway that controls a WeChat account.
MIN_TOKEN_CHARS = 16
# Values that are obviously not a real secret: the old built-in fallback, documented examples, common stand-ins.
PLACEHOLDER_TOKENS = frozenset(
    {
        "anquan-insecure-token",
        "token",
        "changeme",
        "secret",
        "password",
        "test",
        "dummy",
        "default",
        "none",
        "null",
        "fake-token",
        "puppet_token",
        "网关的token",
        "__wechaty_puppet_servcie_token__",
        "__wechaty_puppet_service_token__",
    }
)
PLACEHOLDER_MARKERS = (
    "changeme",
    "change-me",
    "change_me",
    "your-token",
    "your_token",
    "yourtoken",
    "placeholder",
    "example",
    "xxxx",
    "<",
    ">",
    "...",
)
LOOPBACK_NAMES = ("localhost", "localhost.")

# Operator-facing errors (Chinese, like the rest of this module's configuration errors).
TOKEN_MISSING = (
    "未设置 ANQUAN_WECHATY_TOKEN：微信 puppet 服务的 token 是连接网关的唯一凭据，不能省略。"
    "请把它设为网关启动时用的 token（wechaty gateway --token …），"
    "可用 python3 -c 'import secrets; print(secrets.token_urlsafe(24))' 生成一个随机值。"
)
TOKEN_PLACEHOLDER = (
    "ANQUAN_WECHATY_TOKEN 是占位值或文档里的示例值，不能使用：请在网关和机器人两边换成同一个随机 token"
    "（python3 -c 'import secrets; print(secrets.token_urlsafe(24))'）。"
)
TOKEN_SHORT = (
    "ANQUAN_WECHATY_TOKEN 太短（至少 {min} 个字符），容易被猜中：请在网关和机器人两边换成同一个随机 token"
    "（python3 -c 'import secrets; print(secrets.token_urlsafe(24))'）。"
)
TOKEN_CHARS = "ANQUAN_WECHATY_TOKEN 只能包含 ASCII 可见字符（字母、数字、- _ . 等），不能有空格或中文。"
PLAINTEXT_REFUSED = (
    "拒绝用明文连接微信 puppet 服务 {endpoint}：它不是本机回环地址，token 和群消息、私聊举报都会明文经过网络。"
    "三选一：(1) 网关和机器人在同一台机器上，ANQUAN_WECHATY_ENDPOINT 用 127.0.0.1:端口；"
    "(2) 用 SSH 端口转发或 WireGuard 隧道，让隧道在本机回环地址上结束（如 ssh -N -L 8788:127.0.0.1:8788 网关机器），"
    "再连 127.0.0.1:8788；(3) 网关开 TLS，设置 ANQUAN_WECHATY_TLS_CA=签发网关证书的 CA 文件"
    "（必要时加 ANQUAN_WECHATY_TLS_SERVER_NAME=证书里的名字），或网关用公共证书时设 ANQUAN_WECHATY_TLS=true。"
    "确属可信内网（如 WireGuard 对端地址、Docker 内部网络）时，可设 ANQUAN_WECHATY_INSECURE=true 放行明文。"
)
TLS_CA_UNREADABLE = "ANQUAN_WECHATY_TLS_CA 指向的文件读不出 PEM 格式的 CA 证书：{path}（{reason}）"
TLS_VERIFY_FAILED = (
    "微信 puppet 服务 {endpoint} 的 TLS 证书校验失败（{reason}）："
    "请确认 ANQUAN_WECHATY_TLS_CA 是签发网关证书的那个 CA，证书未过期，"
    "且证书里的名字与 {name} 一致（不一致时用 ANQUAN_WECHATY_TLS_SERVER_NAME 指定证书里的名字）。"
    "没有建立连接，也没有收发任何消息。"
)
TLS_HANDSHAKE_FAILED = (
    "与微信 puppet 服务 {endpoint} 的 TLS 握手失败（{reason}）：请确认网关已开启 TLS 且端口正确。"
    "没有建立连接，也没有收发任何消息。"
)


def check_token(token: str | None) -> str:
    """The gateway token, or a ValueError (in Chinese, naming ANQUAN_WECHATY_TOKEN) when it cannot be a secret."""
    value = (token or "").strip()
    if not value:
        raise ValueError(TOKEN_MISSING)
    lowered = value.lower()
    if lowered in PLACEHOLDER_TOKENS or any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        raise ValueError(TOKEN_PLACEHOLDER)
    if len(set(lowered)) <= 2:  # "aaaaaaaaaaaaaaaa", "0000…", "abababab…"
        raise ValueError(TOKEN_PLACEHOLDER)
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError(TOKEN_CHARS)
    if len(value) < MIN_TOKEN_CHARS:
        raise ValueError(TOKEN_SHORT.format(min=MIN_TOKEN_CHARS))
    return value


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """``(host, port)`` of a ``host:port`` endpoint; an IPv6 host loses its brackets (``[::1]:8788``)."""
    host, _, port = validate_endpoint(endpoint).rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (also IPv4-mapped): traffic that never leaves the machine."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # a name other than localhost may resolve anywhere
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@dataclass(frozen=True)
class GatewayTLS:
    """TLS to the gateway: verify it against ``ca_file`` (or the system's CAs) and the name ``server_name``."""

    ca_file: Path | None = None
    server_name: str | None = None

    def context(self) -> ssl.SSLContext:
        """A client context: certificate and host name checked, TLS 1.2 or later, HTTP/2 by ALPN (as gRPC needs).

        With ``ca_file`` only that CA is trusted (a self-signed gateway CA), not the system's store.
        """
        try:
            ctx = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file) if self.ca_file else None
            )
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
            raise ValueError(TLS_CA_UNREADABLE.format(path=self.ca_file, reason=reason)) from exc
        if self.ca_file is not None and not ctx.get_ca_certs():
            raise ValueError(TLS_CA_UNREADABLE.format(path=self.ca_file, reason="no CA certificate"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["h2"])
        return ctx


def check_transport(endpoint: str, tls: GatewayTLS | None, insecure: bool) -> None:
    """Refuse plaintext gRPC to anything but loopback, unless explicitly allowed (``insecure``, warned about)."""
    if tls is not None:
        return
    host, _ = split_endpoint(endpoint)
    if is_loopback(host):
        return
    if not insecure:
        raise ValueError(PLAINTEXT_REFUSED.format(endpoint=endpoint))
    log.warning(
        "plaintext gRPC to a non-loopback wechat gateway, allowed by ANQUAN_WECHATY_INSECURE",
        extra={"platform": PLATFORM, "endpoint": endpoint},
    )


class GatewayTLSError(ConnectionError):
    """The gateway's TLS handshake or certificate check failed: a configuration problem, explained in Chinese."""


def tls_error(exc: BaseException, endpoint: str, name: str) -> GatewayTLSError:
    """A clear error for a failed TLS connection to the gateway (certificate rejected, or no TLS at all)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or "certificate verify failed"
        return GatewayTLSError(TLS_VERIFY_FAILED.format(endpoint=endpoint, reason=reason, name=name))
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return GatewayTLSError(TLS_HANDSHAKE_FAILED.format(endpoint=endpoint, reason=reason))
