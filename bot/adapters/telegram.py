"""Telegram adapter: python-telegram-bot 22 (long polling, or a webhook) in front of the core.

Every text (and photo caption) from groups, supergroups and private chats goes through one handler into the
core, because Chinese command names cannot be PTB ``CommandHandler`` s; the core parses commands itself.
``my_chat_member`` updates become ``MembershipChange`` s. Channel posts and edited messages are ignored.

Sending respects Telegram's limits (DESIGN.md §4) with a small limiter injected into PTB as its
``BaseRateLimiter``, so every Bot API call but getUpdates passes it (sendPhoto, sendDocument and getFile too):
about one message per second per chat, 20 per minute per group, 30 per second overall; a 429 pauses *all*
calls for ``retry_after``. Replies to incoming messages are never dropped lightly: 5xx and network errors are
retried with exponential backoff, bounded in attempts and time; a reply that exhausts them is raised as
RetryLater, so a group reply falls back to the outbox (a private one is never stored). Throttle waits are
stop-aware: a stopping bot does not sit out a long pause. ``send_text`` (used by the outbox delivery loop)
makes one attempt per chunk and maps errors to the adapter error types instead.

The adapter only translates: a 403 becomes ChatUnreachable, a group upgraded to a supergroup ChatMigrated; the
bridge (replies) and the delivery loop (outbox) decide what follows. The adapter remembers a migration it saw,
so later sends to the old id go to the new one.

Nothing here logs message text, and nothing logs who wrote a private message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import importlib.util
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from telegram import BotCommand, ChatMember, Message, ReplyParameters, Update
from telegram.constants import ChatType as TgChatType
from telegram.constants import MessageLimit
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.error import ChatMigrated as TgChatMigrated
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.adapters.base import (
    Adapter,
    ChatMigrated,
    ChatUnreachable,
    DeliveryError,
    RetryLater,
    Sleep,
    stop_aware_wait,
)
from bot.adapters.text_split import split_text as split_pieces
from bot.adapters.text_split import utf16_units
from handlers.messages import IncomingMessage, MembershipChange, QuotedMessage, Reply

if TYPE_CHECKING:
    from telegram._utils.types import JSONDict

    from bot.bridge import Bridge
    from bot.config import Settings

log = logging.getLogger(__name__)

PLATFORM = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
ALLOWED_UPDATES = [Update.MESSAGE, Update.MY_CHAT_MEMBER]
MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096
_JOINED = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER}
_GROUP_TYPES = {TgChatType.GROUP, TgChatType.SUPERGROUP}
# The account Telegram uses for a linked channel's posts forwarded automatically into its discussion group.
CHANNEL_FORWARDER_ID = 777000

# A reply whose retries are spent is handed back as RetryLater(this): a group reply goes to the outbox.
GIVEN_UP_RETRY_AFTER = 60.0


# --- translation ------------------------------------------------------------------------------------


def to_incoming(update: Update, bot_username: str | None = None) -> IncomingMessage | None:
    """The core's view of a new text message (or photo caption) in a group or private chat; else None.

    Edited messages, channel posts, messages without text and messages from bots are not for the core; nor are
    a linked channel's posts that Telegram forwards into the group by itself (sent as user 777000): they are
    the channel's notices, not a villager's words. ``bot_username`` (ours) lets the core ignore ``/cmd@other``.
    """
    msg = update.message  # only new messages: edited_message / channel_post live in other fields
    if msg is None or msg.from_user is None or msg.from_user.is_bot:
        return None
    if msg.is_automatic_forward or msg.from_user.id == CHANNEL_FORWARDER_ID:
        return None
    text = msg.text if msg.text is not None else msg.caption
    if (not text or not text.strip()) and not pick_photo(msg)[0]:
        return None  # a photo without a caption still goes in (it may belong to a report or a tip)
    chat = msg.chat
    reply_to = None
    chat_type: Literal["group", "private"]
    if chat.type in _GROUP_TYPES:
        chat_type = "group"
        sender_name = msg.from_user.full_name
        title = chat.title
        reply_to = to_quoted(msg.reply_to_message)
    elif chat.type == TgChatType.PRIVATE:
        # The core needs the id (officials write privately too) but never the whistleblower's name.
        chat_type, sender_name, title = "private", "", None
    else:
        return None
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=str(chat.id),
        chat_type=chat_type,
        message_id=str(msg.message_id),
        sender_id=str(msg.from_user.id),
        text=text or "",
        sender_name=sender_name,
        chat_title=title,
        sent_at=msg.date,
        reply_to=reply_to,
        bot_username=bot_username,
        reply_to_bot=own_text(msg.reply_to_message, bot_username),
    )


# --- photos ------------------------------------------------------------------------------------------

# A photo is fetched only up to this size (the core refuses larger ones as well).
PHOTO_MAX_BYTES = 5 * 1024 * 1024


def pick_photo(msg: Message, cap: int = PHOTO_MAX_BYTES) -> tuple[bool, str | None]:
    """(whether the message has an image, the file id of its largest version within ``cap`` or None).

    A photo comes in several sizes: the largest whose ``file_size`` is within the cap is taken. An image sent as
    a file (a document with an image type, which keeps the phone's EXIF) counts too, if within the cap.
    """
    if msg.photo:
        fitting = [p for p in msg.photo if (p.file_size or 0) <= cap]
        best = max(fitting, key=lambda p: (p.width * p.height, p.file_size or 0), default=None)
        return True, best.file_id if best is not None else None
    doc = msg.document
    if doc is not None and (doc.mime_type or "").startswith("image/"):
        return True, doc.file_id if (doc.file_size or 0) <= cap else None
    return False, None


def own_text(quoted: Message | None, bot_username: str | None) -> str | None:
    """The text of the bot's own message that a message replies to (a report card), else None."""
    if quoted is None or quoted.from_user is None or not quoted.from_user.is_bot:
        return None
    if not bot_username or (quoted.from_user.username or "").lower() != bot_username.lstrip("@").lower():
        return None
    return quoted.text or quoted.caption or None


async def download_photo(
    bot: Any, msg: Message, cap: int = PHOTO_MAX_BYTES, *, log_errors: bool = True
) -> tuple[bytes | None, str | None]:
    """(the message's image, None) via getFile and the file download; (None, "too_large" | "failed") if not.

    Logs the kind of error only (no chat, no sender, no file path: it carries the token), and nothing at all
    with ``log_errors`` false: a private message never gets a log line of its own (its time would date a tip).
    """
    _, file_id = pick_photo(msg, cap)
    if file_id is None:
        return None, "too_large"
    try:
        file = await bot.get_file(file_id)
        if file.file_size and file.file_size > cap:
            return None, "too_large"
        data = bytes(await file.download_as_bytearray())
    except Exception as exc:
        if log_errors:
            log.warning("telegram photo download failed", extra={"error": type(exc).__name__})
        return None, "failed"
    if len(data) > cap:
        return None, "too_large"
    return data, None


def to_quoted(quoted: Message | None) -> QuotedMessage | None:
    """The group message a message replies to, if a person wrote it and it has text; else None.

    Replies to the bot's own messages, to service messages (a forum topic's start) and to media without a
    caption carry nothing the core could file.
    """
    if quoted is None or quoted.from_user is None or quoted.from_user.is_bot:
        return None
    text = quoted.text if quoted.text is not None else quoted.caption
    if not text or not text.strip():
        return None
    return QuotedMessage(
        message_id=str(quoted.message_id),
        sender_id=str(quoted.from_user.id),
        sender_name=quoted.from_user.full_name,
        text=text,
    )


def to_membership(update: Update) -> MembershipChange | None:
    """The bot was added to (member/administrator) or removed from (left/kicked) a group; else None."""
    change = update.my_chat_member
    if change is None or change.chat.type not in _GROUP_TYPES:
        return None
    new = change.new_chat_member
    if new.status in _JOINED or (new.status == ChatMember.RESTRICTED and getattr(new, "is_member", False)):
        joined = True
    elif new.status in (ChatMember.LEFT, ChatMember.BANNED) or new.status == ChatMember.RESTRICTED:
        joined = False
    else:
        return None
    return MembershipChange(PLATFORM, str(change.chat.id), change.chat.title, joined=joined)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-16 code units (Telegram's count), at line breaks first."""
    return split_pieces(text, limit, measure=utf16_units)


def is_group_chat(chat_id: str) -> bool:
    """Telegram group and supergroup ids are negative; users' (private chat) ids are positive."""
    return chat_id.startswith("-")


def retry_seconds(exc: RetryAfter) -> float:
    """``retry_after`` in seconds, whichever type this PTB version hands out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def webhook_supported() -> bool:
    """Whether PTB's webhook server can run here (it needs the ``webhooks`` extra, i.e. tornado)."""
    return importlib.util.find_spec("tornado") is not None


def file_url_for(base_url: str) -> str:
    """The file download base that goes with a Bot API base (``.../bot`` → ``.../file/bot``)."""
    base = base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file/bot"


# --- rate limits ------------------------------------------------------------------------------------


@dataclass
class _ChatSlot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    times: deque[float] = field(default_factory=deque)


# Bot API methods that put a message into a chat: these count against the chat's (and group's) limits.
_MESSAGE_METHODS = ("send", "copyMessage", "forwardMessage")

# Bot API calls in flight at once (the limiter holds the rest back, in order). 25 calls a second at up to about
# a second each (a slow proxy) fit. PTB's own default lets 256 connections open: httpcore's pool bookkeeping,
# run on every request, costs time quadratic in its connections, so a burst of replies that opened hundreds of
# them (replies finish in worker threads faster than the event loop sends them) slowed every later call and fed
# the next pile-up.
MAX_IN_FLIGHT = 24
# Connections kept beyond MAX_IN_FLIGHT for the calls the limiter does not see (file downloads), so these never
# wait for a connection either.
SPARE_CONNECTIONS = 4


class SendLimiter(BaseRateLimiter[None]):
    """Spaces calls out: ``chat_interval`` per chat, ``group_per_minute`` per group, ``per_second`` overall.

    Injected into PTB (``ApplicationBuilder.rate_limiter``), so every Bot API call but getUpdates passes it:
    messages (sendMessage, sendPhoto, sendDocument, …) count per chat and overall, other calls (getFile,
    setMyCommands, …) overall. Each chat's sends go out in order (one waiter per chat at a time); a 429 seen
    by any call pauses every call for its ``retry_after``. At most ``max_in_flight`` calls are in flight at once
    (the HTTP connection pool is sized to match). Once ``stop`` (set by the adapter) is set, a long wait raises
    RetryLater.
    """

    def __init__(
        self,
        *,
        per_second: float = 25.0,  # Telegram allows about 30/s; keep headroom
        chat_interval: float = 1.0,
        group_per_minute: int = 20,
        max_in_flight: int = MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.global_interval = 1.0 / per_second if per_second > 0 else 0.0
        self.max_in_flight = max_in_flight
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self.clock = clock
        self.sleep = sleep
        self._chats: dict[str, _ChatSlot] = {}
        self._global_lock = asyncio.Lock()
        self._last_global = float("-inf")
        self.paused_until = float("-inf")
        self.stop: asyncio.Event | None = None

    async def initialize(self) -> None:
        """Nothing to set up (PTB calls this when the bot initialises)."""

    async def shutdown(self) -> None:
        """Nothing to release (PTB calls this when the bot shuts down)."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for the call's turn and a free slot, make it once, and turn a 429 into a pause for every call."""
        chat_id = data.get("chat_id")
        if chat_id is not None and endpoint.startswith(_MESSAGE_METHODS):
            await self.acquire(str(chat_id))
        else:
            await self._take_global()
        async with self._in_flight:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.pause(retry_seconds(exc))
                raise

    def pause(self, seconds: float) -> None:
        """Hold back every call for ``seconds`` from now (Telegram's ``retry_after``)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def acquire(self, chat_id: str, *, group: bool | None = None) -> None:
        """Wait until a message may be sent to ``chat_id``, and count it as sent."""
        group = is_group_chat(chat_id) if group is None else group
        slot = self._chats.setdefault(chat_id, _ChatSlot())
        async with slot.lock:
            while True:
                now = self.clock()
                while slot.times and slot.times[0] <= now - 60.0:
                    slot.times.popleft()
                wait = 0.0
                if slot.times:
                    wait = slot.times[-1] + self.chat_interval - now
                if group and len(slot.times) >= self.group_per_minute:
                    wait = max(wait, slot.times[-self.group_per_minute] + 60.0 - now)
                if wait <= 0:
                    break
                await stop_aware_wait(wait, self.stop, self.sleep)
            now = await self._take_global()
            slot.times.append(now)
            if not group:
                while len(slot.times) > 1:
                    slot.times.popleft()

    async def _take_global(self) -> float:
        """Wait for the overall rate and any pause; count one call; returns when it may go."""
        async with self._global_lock:
            while True:
                now = self.clock()
                wait = max(self.paused_until - now, self._last_global + self.global_interval - now)
                if wait <= 0:
                    break
                await stop_aware_wait(wait, self.stop, self.sleep)
            self._last_global = now
            return now


# --- the adapter ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a reply is pushed through: attempts, total time, and the backoff between tries."""

    max_attempts: int = 10
    max_seconds: float = 300.0
    base_delay: float = 0.5
    max_delay: float = 30.0


class TelegramAdapter(Adapter):
    """Receives Telegram updates into the core and sends texts back, within Telegram's limits."""

    platform = PLATFORM
    supports_images = True

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        proxy: str | None = None,
        webhook_url: str | None = None,
        webhook_listen: str = "127.0.0.1",
        webhook_port: int = 8443,
        poll_timeout: float = 30.0,
        limiter: SendLimiter | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not token:
            raise ValueError("Telegram token is empty")
        self.token = token
        self.base_url = base_url
        self.proxy = proxy
        self.webhook_url = webhook_url
        self.webhook_listen = webhook_listen
        self.webhook_port = webhook_port
        self.poll_timeout = poll_timeout
        self.limiter = limiter or SendLimiter()
        self.retry = retry or RetryPolicy()
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._bridge: Bridge | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Groups seen upgraded to supergroups (old id → new id): later sends to the old id go to the new one.
        self._moved: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramAdapter:
        """Build the adapter from ``ANQUAN_TELEGRAM_*`` settings; a missing token is a clear start-up error."""
        if not settings.telegram_token:
            raise ValueError(
                "未配置 Telegram 机器人令牌：请设置 ANQUAN_TELEGRAM_TOKEN（向 @BotFather 申请），"
                "或从 ANQUAN_PLATFORMS 中去掉 telegram"
            )
        if settings.telegram_webhook_url and not webhook_supported():
            raise ValueError(
                "Telegram webhook 模式需要安装 python-telegram-bot[webhooks]（tornado）；"
                "或不设置 ANQUAN_TELEGRAM_WEBHOOK_URL，改用默认的长轮询"
            )
        proxy = settings.telegram_proxy or None
        if proxy and proxy.lower().startswith("socks") and importlib.util.find_spec("socksio") is None:
            raise ValueError(
                "ANQUAN_TELEGRAM_PROXY 是 SOCKS 代理，需要安装 python-telegram-bot[socks]（socksio）；"
                "或改用 http:// 代理"
            )
        return cls(
            settings.telegram_token.get_secret_value(),
            base_url=settings.telegram_base_url or DEFAULT_BASE_URL,
            proxy=proxy,
            webhook_url=settings.telegram_webhook_url or None,
            webhook_listen=settings.telegram_webhook_listen,
            webhook_port=settings.telegram_webhook_port,
        )

    # --- lifecycle ----------------------------------------------------------------------------------

    def build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        """A PTB Application with our two handlers, no job queue (the bot has its own scheduler)."""
        builder = (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(file_url_for(self.base_url))
            .concurrent_updates(True)
            .job_queue(None)
            .get_updates_read_timeout(10.0)  # a margin on top of the long-poll timeout (PTB adds them)
            .rate_limiter(self.limiter)  # every Bot API call but getUpdates waits its turn here
            # As many connections as the limiter lets calls through, and a few for downloads (see MAX_IN_FLIGHT).
            .connection_pool_size(self.limiter.max_in_flight + SPARE_CONNECTIONS)
        )
        if self.proxy:
            builder = builder.proxy(self.proxy).get_updates_proxy(self.proxy)
        app = builder.build()
        message_filter = (
            filters.UpdateType.MESSAGE
            & (filters.ChatType.GROUPS | filters.ChatType.PRIVATE)
            & (filters.TEXT | filters.CAPTION | filters.PHOTO | filters.Document.IMAGE)
        )
        app.add_handler(MessageHandler(message_filter, self._on_message))
        app.add_handler(ChatMemberHandler(self._on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_error_handler(self._on_error)
        return app

    @property
    def ready(self) -> bool:
        """Connected to the Bot API (initialised), so pushes can go out."""
        return self.application is not None

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        """Poll (or listen on the webhook) until ``stop``; then finish replies in flight and shut down.

        Raises if Telegram cannot be reached at start (the supervisor retries with backoff).
        """
        self._bridge = bridge
        self._stop = self.limiter.stop = stop
        app = self.build_application()
        try:
            await app.initialize()  # getMe: a wrong token or an unreachable server fails here
        except Exception:
            await app.bot.shutdown()  # close the HTTP clients the failed start opened
            raise
        self.application = app
        try:
            await self._set_menu(bridge)
            await app.start()
            try:
                assert app.updater is not None
                if self.webhook_url:
                    await self._start_webhook(app)
                else:
                    await app.updater.start_polling(
                        # PTB passes any number of seconds on to getUpdates; its hint says int | timedelta
                        timeout=self.poll_timeout,  # type: ignore[arg-type]
                        allowed_updates=ALLOWED_UPDATES,
                        drop_pending_updates=False,
                        error_callback=self._on_polling_error,
                    )
                log.info(
                    "telegram connected",
                    extra={"bot": app.bot.username, "mode": "webhook" if self.webhook_url else "polling"},
                )
                try:
                    await stop.wait()
                finally:
                    if app.updater.running:
                        await app.updater.stop()
            finally:
                if app.running:
                    await app.stop()  # handles updates already fetched
                await self._finish_in_flight()
        finally:
            self.application = None
            await app.shutdown()
            log.info("telegram disconnected")

    async def _start_webhook(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        assert app.updater is not None and self.webhook_url
        path = urlparse(self.webhook_url).path.lstrip("/")
        # The secret proves a request comes from Telegram; derived from the token, so nothing extra to configure.
        secret = hashlib.sha256(b"anquan-webhook:" + self.token.encode()).hexdigest()[:64]
        await app.updater.start_webhook(
            listen=self.webhook_listen,
            port=self.webhook_port,
            url_path=path,
            webhook_url=self.webhook_url,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            secret_token=secret,
        )

    async def _set_menu(self, bridge: Bridge) -> None:
        assert self.application is not None
        commands = [
            BotCommand(alias, description[:256])
            for alias, description in bridge.menu()
            if alias and description and len(alias) <= 32 and alias.isascii() and alias.islower()
        ]
        try:
            await self.application.bot.set_my_commands(commands)
        except TelegramError as exc:
            log.warning("telegram command menu not set", extra={"error": type(exc).__name__})

    async def _finish_in_flight(self) -> None:
        """Wait for replies still being processed or sent (a clean stop answers what it received)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- receiving ----------------------------------------------------------------------------------

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = to_incoming(update, bot_username=context.bot.username)
        if msg is None or self._bridge is None:
            return
        if update.message is not None and pick_photo(update.message)[0]:
            # Downloaded here, before dispatch, so the core stays synchronous and platform-free.
            photo, error = await download_photo(
                context.bot, update.message, log_errors=msg.chat_type == "group"
            )
            msg = dataclasses.replace(msg, photo=photo, photo_error=error)
        task = self._bridge.submit(msg, self.deliver, self.send_document, self.send_image)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = to_membership(update)
        if change is not None and self._bridge is not None:
            await self._bridge.membership(change)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update handling failed", extra={"error": type(context.error).__name__})

    def _on_polling_error(self, exc: TelegramError) -> None:
        # PTB retries polling by itself; log the kind of error only (messages may carry URLs).
        log.warning("telegram polling error; retrying", extra={"error": type(exc).__name__})

    # --- sending ------------------------------------------------------------------------------------

    def _bot_or_raise(self) -> Any:
        if self.application is None:
            raise DeliveryError("telegram adapter is not connected")
        return self.application.bot

    async def _send_once(self, chat_id: str, text: str, quote_message_id: str | None) -> None:
        bot = self._bot_or_raise()
        reply_parameters = (
            ReplyParameters(message_id=int(quote_message_id), allow_sending_without_reply=True)
            if quote_message_id
            else None
        )
        await bot.send_message(chat_id=int(chat_id), text=text, reply_parameters=reply_parameters)

    def _target(self, chat_id: str) -> str:
        """The id to send to: a group's supergroup id once Telegram told us it moved."""
        return self._moved.get(chat_id, chat_id)

    def _translate(self, chat_id: str, exc: TelegramError) -> DeliveryError:
        """The adapter error for a Telegram error that no retry can fix (403, migration, anything else)."""
        if isinstance(exc, RetryAfter):
            return RetryLater(retry_seconds(exc))
        if isinstance(exc, Forbidden):
            log.warning("telegram chat unreachable", extra={"group": is_group_chat(chat_id)})
            return ChatUnreachable(type(exc).__name__)
        if isinstance(exc, TgChatMigrated):
            # The group became a supergroup: the same conversation lives on under the new id.
            new_chat_id = str(exc.new_chat_id)
            self._moved[chat_id] = new_chat_id
            return ChatMigrated(new_chat_id, "group upgraded to a supergroup")
        return DeliveryError(type(exc).__name__)

    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        """Send ``text`` (split at 4096 UTF-16 units) with one attempt per piece; map failures to adapter errors.

        A 429 also pauses every other call for ``retry_after`` (the limiter does that).
        """
        quote = quote_message_id
        for piece in split_text(text):
            await self._attempt(
                chat_id, functools.partial(self._send_once, text=piece, quote_message_id=quote)
            )
            quote = None

    async def send_image(self, chat_id: str, image: bytes) -> None:
        """Send one PNG as a photo (the monthly report's chart), one attempt, failures mapped like texts."""

        async def photo(target: str) -> None:
            await self._bot_or_raise().send_photo(chat_id=int(target), photo=image)

        await self._attempt(chat_id, photo)

    async def send_document(self, chat_id: str, data: bytes, filename: str) -> None:
        """Send one file (sendDocument) under ``filename``, one attempt, failures mapped like texts."""

        async def document(target: str) -> None:
            await self._bot_or_raise().send_document(chat_id=int(target), document=data, filename=filename)

        await self._attempt(chat_id, document)

    async def _attempt(self, chat_id: str, send: Callable[[str], Awaitable[None]]) -> None:
        """One send through ``send`` to the chat's current id; Telegram errors become adapter errors."""
        chat_id = self._target(chat_id)
        try:
            await send(chat_id)
        except TelegramError as exc:
            raise self._translate(chat_id, exc) from exc

    async def deliver(self, reply: Reply) -> None:
        """Send a reply to an incoming message, retrying until it is through or the retry budget is spent."""
        quote = reply.quote_message_id
        for piece in split_text(reply.text):
            await self._send_reliably(reply.chat_id, piece, quote)
            quote = None

    async def _send_reliably(
        self, chat_id: str, text: str, quote: str | None, *, sleep: Sleep = asyncio.sleep
    ) -> None:
        chat_id = self._target(chat_id)
        policy = self.retry
        deadline = time.monotonic() + policy.max_seconds
        delay = policy.base_delay
        last_error = ""
        for attempt in range(1, policy.max_attempts + 1):
            try:
                await self._send_once(chat_id, text, quote)
                if attempt > 1:
                    log.info("telegram reply sent after retry", extra={"attempts": attempt})
                return
            except RetryAfter as exc:
                seconds = retry_seconds(exc)  # the limiter already holds every call back for this long
                last_error = "RetryAfter"
                log.warning("telegram flood control", extra={"retry_after": seconds})
                if time.monotonic() + seconds > deadline:
                    break
                continue
            except (Forbidden, TgChatMigrated, InvalidToken, BadRequest) as exc:
                raise self._translate(chat_id, exc) from exc
            except NetworkError as exc:  # 5xx, timeouts, connection errors
                last_error = type(exc).__name__
            except DeliveryError:
                raise
            except TelegramError as exc:
                last_error = type(exc).__name__
            if time.monotonic() + delay > deadline:
                break
            log.warning(
                "telegram send failed; retrying",
                extra={"error": last_error, "attempt": attempt, "retry_in": delay},
            )
            await stop_aware_wait(delay, self._stop, sleep)
            delay = min(delay * 2, policy.max_delay)
        # Handed back as "later": a group reply waits in the outbox; a private one is never stored.
        log.error("telegram reply given up", extra={"error": last_error, "group": is_group_chat(chat_id)})
        raise RetryLater(GIVEN_UP_RETRY_AFTER, f"gave up after retries: {last_error}")


__all__ = [
    "ALLOWED_UPDATES",
    "RetryPolicy",
    "SendLimiter",
    "TelegramAdapter",
    "split_text",
    "to_incoming",
    "to_membership",
]
