"""A fake Telegram Bot API HTTP server on loopback, for driving the real python-telegram-bot client.

It speaks the real wire format: ``/bot<token>/<method>`` with query, form, JSON or multipart parameters;
``{"ok": true, "result": ...}`` on success and ``{"ok": false, "error_code": ..., "description": ...,
"parameters": {"retry_after": ...}}`` on errors; 401 for a wrong token and 404 for a malformed path or an
unknown method, as Telegram does. ``getUpdates`` long-polls with its ``timeout`` and forgets updates below
``offset``; a second concurrent ``getUpdates`` ends the first with 409, like the real server.

Tests program failures (``fail_sends(n, 429, retry_after=1)``, ``fail_sends(n, 502)``, ``forbid_chat(id)``),
push updates (``push_update``) and look at what the bot sent (``sent``, ``wait_for_sends``).

Standalone, for driving a separate ``anquan run`` process::

    python -m tests.fakes.telegram_api --port 8081 [--token 123:abc]

with a control API: ``POST /_control/update`` (an update, JSON) → ``{"update_id": n}``,
``GET /_control/sent``, ``GET /_control/state``, ``POST /_control/fail`` (``{"count", "status",
"retry_after", "chat_id"}``), ``POST /_control/forbid`` (``{"chat_id"}``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_TOKEN = "5712345678:AAFakeTokenForTests_abcdefghijklmnopq"
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_TEXT = 4096


@dataclass
class SentMessage:
    """One accepted sendMessage call, as the fake recorded it."""

    t: float
    chat_id: str
    text: str
    message_id: int
    reply_to_message_id: int | None = None
    allow_sending_without_reply: bool = False


@dataclass
class Failure:
    """A programmed failure for the next ``count`` calls of ``method`` (optionally only for one chat)."""

    method: str
    status: int
    count: int
    retry_after: int | None = None
    chat_id: str | None = None


@dataclass
class ApiCall:
    """Every Bot API call the fake received, with its parameters and HTTP status (0 while unanswered)."""

    t: float
    method: str
    params: dict[str, Any]
    status: int = 200


@dataclass
class _Limits:
    per_chat: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    overall: list[float] = field(default_factory=list)


def error_body(
    code: int, description: str, retry_after: int | None = None, migrate_to: int | None = None
) -> dict[str, Any]:
    """An error response exactly as the Bot API shapes it."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    if migrate_to is not None:
        body["parameters"] = {"migrate_to_chat_id": migrate_to}
    return body


_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    403: "Forbidden: bot was kicked from the group chat",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    500: "Internal Server Error",
}

_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)


class FakeTelegramAPI:
    """An in-process fake Bot API server; ``await start()`` it, point PTB's ``base_url`` at ``base_url``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "anquan_test_bot",
        bot_first_name: str = "安全小助手",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.updates: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self.served_update_ids: list[int] = []  # every update id ever returned by getUpdates
        self.sent: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        self.failures: list[Failure] = []
        self.forbidden_chats: set[str] = set()
        self.migrated_chats: dict[str, int] = {}
        self.photos: list[tuple[float, str, bytes]] = []
        # Files the bot may fetch with getFile and the file download route, by file_id: (file_path, bytes).
        self.files: dict[str, tuple[str, bytes]] = {}
        self.downloads: list[str] = []  # file_paths the bot downloaded
        self.documents: list[tuple[float, str, str, bytes]] = []  # sendDocument: (t, chat, file name, bytes)
        self.commands: list[dict[str, str]] = []
        self.webhook_url = ""
        self.limit_violations: list[str] = []
        self._limits = _Limits()
        self._update_ids = itertools.count(700_000_001)
        self._message_ids: dict[str, itertools.count[int]] = defaultdict(lambda: itertools.count(90_001))
        self._known_messages: set[tuple[str, int]] = set()
        self._chats: dict[str, dict[str, Any]] = {}
        self._changed = asyncio.Condition()
        self._poll_generation = 0
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.app = self._make_app()

    # --- server lifecycle ---------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/_control/sent", self._control_sent)
        app.router.add_get("/_control/state", self._control_state)
        app.router.add_post("/_control/update", self._control_update)
        app.router.add_post("/_control/fail", self._control_fail)
        app.router.add_post("/_control/forbid", self._control_forbid)
        app.router.add_get("/file/{bot_token}/{file_path:.*}", self._file_download)
        app.router.add_route("*", "/{path:.*}", self._api)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeTelegramAPI:
        """Listen on ``host:port`` (0: any free port; see ``self.port``)."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Release pending long polls and stop listening."""
        self._closing = True
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """The Bot API base to hand to PTB (``base_url``) or ``ANQUAN_TELEGRAM_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}/bot"

    # --- programming the fake -----------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; assigns ``update_id`` if missing (keeps a given one: redelivery)."""
        update = json.loads(json.dumps(update))
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        message = update.get("message") or update.get("edited_message") or update.get("channel_post")
        if message:
            chat = message["chat"]
            self._chats[str(chat["id"])] = chat
            self._known_messages.add((str(chat["id"]), int(message["message_id"])))
        self.updates.append(update)
        self.updates.sort(key=lambda u: u["update_id"])
        task = asyncio.get_running_loop().create_task(self._notify())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return int(update["update_id"])

    def fail_sends(
        self, count: int, status: int, *, retry_after: int | None = None, chat_id: str | None = None
    ) -> None:
        """Make the next ``count`` sendMessage calls (to ``chat_id``, or any) fail with ``status``."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self.failures.append(Failure("sendmessage", status, count, retry_after, chat_id))

    def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: sends to the old id now fail with ``migrate_to_chat_id``."""
        self.migrated_chats[str(old_chat_id)] = new_chat_id

    def add_file(self, data: bytes, *, file_size: int | None = None) -> dict[str, Any]:
        """Make ``data`` downloadable (getFile, then ``/file/bot<token>/<path>``); returns its PhotoSize object.

        ``file_size`` overrides the size the update and getFile declare (to describe a too-large version).
        """
        n = len(self.files) + 1
        file_id = f"AgACAgIAAxkBAAI{n:06d}photo"
        self.files[file_id] = (f"photos/file_{n}.jpg", data)
        return {
            "file_id": file_id,
            "file_unique_id": f"AQAD{n:06d}",
            "file_size": len(data) if file_size is None else file_size,
            "width": 1280,
            "height": 960,
        }

    def forbid_chat(self, chat_id: str | int) -> None:
        """Answer every send to this chat with 403 (the bot was kicked / blocked)."""
        self.forbidden_chats.add(str(chat_id))

    def sent_to(self, chat_id: str | int) -> list[SentMessage]:
        """Messages the bot sent to one chat."""
        return [s for s in self.sent if s.chat_id == str(chat_id)]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true; raise TimeoutError otherwise."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def wait_for_sends(self, n: int, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until at least ``n`` messages have been sent in total; return them all."""
        await self.wait_for(lambda: len(self.sent) >= n, timeout)
        return list(self.sent)

    async def wait_until_served(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until getUpdates has handed this update to the bot."""
        await self.wait_for(lambda: update_id in self.served_update_ids, timeout)

    async def wait_until_confirmed(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the bot confirmed this update with a higher offset."""
        await self.wait_for(
            lambda: (
                update_id in self.served_update_ids and all(u["update_id"] != update_id for u in self.updates)
            ),
            timeout,
        )

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the Bot API --------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
                # Uploaded files (sendPhoto) are kept as bytes.
                params.update({k: v.file.read() for k, v in form.items() if hasattr(v, "file")})
                params.update({f"{k}_filename": v.filename for k, v in form.items() if hasattr(v, "file")})
        return params

    async def _api(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        match = re.fullmatch(r"bot([^/]+)/([A-Za-z]+)", path)
        if not match or not _TOKEN_RE.match(match.group(1)):
            return self._json(404, error_body(404, "Not Found"))
        token, method = match.group(1), match.group(2).lower()
        call = ApiCall(time.monotonic(), method, await self._params(request), status=0)
        self.calls.append(call)  # recorded on arrival, so tests can see a long poll open
        await self._notify()
        try:
            return await self._answer(call, token)
        finally:
            await self._notify()

    async def _answer(self, call: ApiCall, token: str) -> web.Response:
        method, params = call.method, call.params
        if token != self.token:
            return self._reply(call, 401, error_body(401, "Unauthorized"))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._reply(call, 404, error_body(404, "Not Found"))
        failure = self._take_failure(method, params)
        if failure is not None:
            if failure.status == 502:
                call.status = 502
                return web.Response(status=502, text=_NGINX_502, content_type="text/html")
            if failure.status == 429:
                desc = f"Too Many Requests: retry after {failure.retry_after}"
                return self._reply(call, 429, error_body(429, desc, failure.retry_after))
            desc = _DESCRIPTIONS.get(failure.status, "Internal Server Error")
            return self._reply(call, failure.status, error_body(failure.status, desc))
        try:
            result = await handler(params)
        except _ApiError as exc:
            return self._reply(
                call, exc.code, error_body(exc.code, exc.description, migrate_to=exc.migrate_to)
            )
        return self._reply(call, 200, {"ok": True, "result": result})

    def _reply(self, call: ApiCall, status: int, body: dict[str, Any]) -> web.Response:
        call.status = status
        return self._json(status, body)

    @staticmethod
    def _json(status: int, body: dict[str, Any]) -> web.Response:
        return web.Response(
            status=status, text=json.dumps(body, ensure_ascii=False), content_type="application/json"
        )

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        for failure in self.failures:
            if failure.method != method or failure.count <= 0:
                continue
            if failure.chat_id is not None and str(params.get("chat_id")) != failure.chat_id:
                continue
            failure.count -= 1
            return failure
        return None

    async def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_deletewebhook(self, params: dict[str, Any]) -> bool:
        if _flag(params.get("drop_pending_updates")):
            self.updates.clear()
        self.webhook_url = ""
        return True

    async def _m_setwebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = str(params.get("url", ""))
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

    async def _m_close(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_logout(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_setmycommands(self, params: dict[str, Any]) -> bool:
        raw = params.get("commands", "[]")
        commands = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        for c in commands:
            if not _COMMAND_RE.match(str(c.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    async def _m_getmycommands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return list(self.commands)

    async def _m_deletemycommands(self, params: dict[str, Any]) -> bool:
        self.commands = []
        return True

    async def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed_raw = params.get("allowed_updates")
        allowed = json.loads(allowed_raw) if isinstance(allowed_raw, str) and allowed_raw else allowed_raw
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation

        def ready() -> bool:
            return bool(self._pick(allowed)) or self._closing or self._poll_generation != generation

        with contextlib.suppress(TimeoutError):
            await self.wait_for(ready, timeout)
        if self._poll_generation != generation:
            raise _ApiError(409, _DESCRIPTIONS[409])
        batch = self._pick(allowed)[:limit]
        self.served_update_ids.extend(u["update_id"] for u in batch)
        await self._notify()
        return batch

    def _pick(self, allowed: list[str] | None) -> list[dict[str, Any]]:
        if not allowed:  # Telegram's default: everything except chat_member and a few others
            return list(self.updates)
        return [u for u in self.updates if any(kind in u for kind in allowed)]

    async def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = str(params.get("chat_id", ""))
        text = str(params.get("text", ""))
        if not chat_id:
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if chat_id in self.forbidden_chats:
            desc = _DESCRIPTIONS[403] if chat_id.startswith("-") else "Forbidden: bot was blocked by the user"
            raise _ApiError(403, desc)
        if chat_id in self.migrated_chats:
            raise _ApiError(
                400, "Bad Request: group chat was upgraded to a supergroup chat", self.migrated_chats[chat_id]
            )
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise _ApiError(400, "Bad Request: message is too long")
        reply_to, allow_without = _reply_target(params)
        if reply_to is not None and (chat_id, reply_to) not in self._known_messages and not allow_without:
            raise _ApiError(400, "Bad Request: message to be replied not found")
        now = time.monotonic()
        self._check_limits(chat_id, now)
        message_id = next(self._message_ids[chat_id])
        self._known_messages.add((chat_id, message_id))
        self.sent.append(SentMessage(now, chat_id, text, message_id, reply_to, allow_without))
        await self._notify()
        chat = self._chats.get(chat_id) or _guess_chat(chat_id)
        result: dict[str, Any] = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        return result

    async def _m_getfile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    async def _file_download(self, request: web.Request) -> web.Response:
        """``GET /file/bot<token>/<file_path>``, as the Bot API serves files; 404 for a wrong token or path."""
        if request.match_info["bot_token"] != f"bot{self.token}":
            return web.Response(status=404, text="Not Found")
        path = request.match_info["file_path"]
        for file_path, data in self.files.values():
            if file_path == path:
                self.downloads.append(path)
                return web.Response(body=data, content_type="image/jpeg")
        return web.Response(status=404, text="Not Found")

    async def _m_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = str(params.get("chat_id", ""))
        photo = params.get("photo")
        if not isinstance(photo, bytes) or not photo:
            raise _ApiError(400, "Bad Request: there is no photo in the request")
        if chat_id in self.forbidden_chats:
            raise _ApiError(403, _DESCRIPTIONS[403])
        now = time.monotonic()
        self._check_limits(chat_id, now)
        message_id = next(self._message_ids[chat_id])
        self.photos.append((now, chat_id, photo))
        await self._notify()
        return {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self._chats.get(chat_id) or _guess_chat(chat_id),
            "date": int(time.time()),
            "photo": [
                {
                    "file_id": f"photo{message_id}",
                    "file_unique_id": f"u{message_id}",
                    "width": 800,
                    "height": 600,
                }
            ],
        }

    async def _m_senddocument(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = str(params.get("chat_id", ""))
        document = params.get("document")
        if not isinstance(document, bytes) or not document:
            raise _ApiError(400, "Bad Request: there is no document in the request")
        if chat_id in self.forbidden_chats:
            raise _ApiError(403, _DESCRIPTIONS[403])
        now = time.monotonic()
        self._check_limits(chat_id, now)
        message_id = next(self._message_ids[chat_id])
        filename = str(params.get("document_filename") or "document")
        self.documents.append((now, chat_id, filename, document))
        await self._notify()
        return {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self._chats.get(chat_id) or _guess_chat(chat_id),
            "date": int(time.time()),
            "document": {
                "file_id": f"document{message_id}",
                "file_unique_id": f"d{message_id}",
                "file_name": filename,
                "file_size": len(document),
            },
        }

    def _check_limits(self, chat_id: str, now: float) -> None:
        """Note (not enforce) sends beyond Telegram's documented limits, so tests can assert there are none."""
        times = self._limits.per_chat[chat_id]
        if times and now - times[-1] < 0.9:
            self.limit_violations.append(f"chat {chat_id}: {now - times[-1]:.2f}s after the previous send")
        if chat_id.startswith("-") and len([t for t in times if now - t < 60]) >= 20:
            self.limit_violations.append(f"group {chat_id}: more than 20 messages in a minute")
        overall = [t for t in self._limits.overall if now - t < 1.0]
        if len(overall) >= 30:
            self.limit_violations.append("more than 30 messages in a second")
        times.append(now)
        self._limits.overall = [*overall, now]

    # --- control endpoints (standalone use) ---------------------------------------------------------

    async def _control_update(self, request: web.Request) -> web.Response:
        update_id = self.push_update(await request.json())
        return web.json_response({"update_id": update_id})

    async def _control_sent(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(s) for s in self.sent], dumps=_dumps)

    async def _control_state(self, request: web.Request) -> web.Response:
        return web.json_response(
            dumps=_dumps,
            data={
                "pending_update_ids": [u["update_id"] for u in self.updates],
                "served_update_ids": self.served_update_ids,
                "commands": self.commands,
                "limit_violations": self.limit_violations,
                "calls": [{"method": c.method, "status": c.status} for c in self.calls],
            },
        )

    async def _control_fail(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fail_sends(
            int(body.get("count", 1)),
            int(body["status"]),
            retry_after=body.get("retry_after"),
            chat_id=str(body["chat_id"]) if body.get("chat_id") is not None else None,
        )
        return web.json_response({"ok": True})

    async def _control_forbid(self, request: web.Request) -> web.Response:
        self.forbid_chat(str((await request.json())["chat_id"]))
        return web.json_response({"ok": True})


class _ApiError(Exception):
    def __init__(self, code: int, description: str, migrate_to: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.migrate_to = migrate_to


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _flag(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def _reply_target(params: dict[str, Any]) -> tuple[int | None, bool]:
    raw = params.get("reply_parameters")
    if raw:
        rp = json.loads(raw) if isinstance(raw, str) else raw
        return int(rp["message_id"]), _flag(rp.get("allow_sending_without_reply"))
    if params.get("reply_to_message_id"):
        return int(params["reply_to_message_id"]), _flag(params.get("allow_sending_without_reply"))
    return None, False


def _guess_chat(chat_id: str) -> dict[str, Any]:
    if chat_id.startswith("-100"):
        return {"id": int(chat_id), "title": "supergroup", "type": "supergroup"}
    if chat_id.startswith("-"):
        return {"id": int(chat_id), "title": "group", "type": "group"}
    return {"id": int(chat_id), "first_name": "user", "type": "private"}


# --- update builders for tests ------------------------------------------------------------------------

_message_counter = itertools.count(3001)


def user(user_id: int, first_name: str = "建军", last_name: str | None = "王") -> dict[str, Any]:
    """A Telegram user object as it appears in updates."""
    u: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "zh-hans"}
    if last_name:
        u["last_name"] = last_name
    return u


def group_chat(chat_id: int, title: str, *, supergroup: bool = False) -> dict[str, Any]:
    """A (super)group chat object."""
    if supergroup:
        return {"id": chat_id, "title": title, "type": "supergroup"}
    return {"id": chat_id, "title": title, "type": "group", "all_members_are_administrators": False}


def private_chat(from_user: dict[str, Any]) -> dict[str, Any]:
    """The private chat with a user."""
    chat = {"id": from_user["id"], "first_name": from_user["first_name"], "type": "private"}
    if "last_name" in from_user:
        chat["last_name"] = from_user["last_name"]
    return chat


def text_update(
    chat: dict[str, Any], from_user: dict[str, Any], text: str, *, message_id: int | None = None
) -> dict[str, Any]:
    """A new text message update (``update_id`` is assigned by ``push_update``); commands get their entity."""
    message: dict[str, Any] = {
        "message_id": message_id if message_id is not None else next(_message_counter),
        "from": from_user,
        "chat": chat,
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/"):
        word = text.split(maxsplit=1)[0]
        message["entities"] = [
            {"offset": 0, "length": len(word.encode("utf-16-le")) // 2, "type": "bot_command"}
        ]
    return {"message": message}


def photo_update(
    chat: dict[str, Any],
    from_user: dict[str, Any],
    sizes: list[dict[str, Any]],
    *,
    caption: str | None = None,
    reply_to: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new photo message (``sizes`` from ``FakeTelegramAPI.add_file``), with an optional caption and quote."""
    message: dict[str, Any] = {
        "message_id": next(_message_counter),
        "from": from_user,
        "chat": chat,
        "date": int(time.time()),
        "photo": sizes,
    }
    if caption is not None:
        message["caption"] = caption
        if caption.startswith("/"):
            word = caption.split(maxsplit=1)[0]
            message["caption_entities"] = [
                {"offset": 0, "length": len(word.encode("utf-16-le")) // 2, "type": "bot_command"}
            ]
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    return {"message": message}


def my_chat_member_update(
    chat: dict[str, Any], by: dict[str, Any], bot_user: dict[str, Any], old: str, new: str
) -> dict[str, Any]:
    """The bot's own membership changed in ``chat`` (``old``/``new``: left, member, administrator, kicked)."""

    def member(status: str) -> dict[str, Any]:
        m: dict[str, Any] = {"user": bot_user, "status": status}
        if status == "kicked":
            m["until_date"] = 0
        return m

    return {
        "my_chat_member": {
            "chat": chat,
            "from": by,
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
    }


# --- standalone -----------------------------------------------------------------------------------


async def serve_forever(host: str, port: int, token: str) -> None:
    """Run the fake until interrupted; prints ``listening on <port>`` once ready."""
    api = FakeTelegramAPI(token)
    await api.start(host, port)
    print(f"listening on {api.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await api.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fakes.telegram_api --port P``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
