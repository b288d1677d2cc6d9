"""The Telegram adapter's translation of real update JSON, its text splitting, limiter and error mapping.

The adapter only translates: a 403 or a group upgraded to a supergroup comes back as an exception, and nothing
on the send path calls back into the bridge (the bridge test double here has no methods at all).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import Bot, Update

from bot.adapters.base import ChatMigrated, ChatUnreachable, DeliveryError, RetryLater
from bot.adapters.telegram import (
    ALLOWED_UPDATES,
    RetryPolicy,
    SendLimiter,
    TelegramAdapter,
    file_url_for,
    split_text,
    to_incoming,
    to_membership,
)
from bot.config import Settings
from handlers.messages import Reply
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"


def load(name: str) -> dict[str, Any]:
    """One captured update."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def update(name: str) -> Update:
    """A captured update as PTB parses it."""
    return Update.de_json(load(name), Bot(DEFAULT_TOKEN))


# --- translation -----------------------------------------------------------------------------------


def test_group_text_becomes_group_message() -> None:
    msg = to_incoming(update("group_text"))
    assert msg is not None
    assert msg.platform == "telegram"
    assert msg.chat_type == "group"
    assert msg.chat_id == "-4128856402"
    assert msg.message_id == "412"
    assert msg.sender_id == "5318862197"
    assert msg.sender_name == "建军 王"
    assert msg.chat_title == "王家沟村安全生产群"
    assert msg.text == "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
    assert msg.sent_at is not None and msg.sent_at.tzinfo is not None


def test_supergroup_text_is_a_group_message() -> None:
    msg = to_incoming(update("supergroup_text"))
    assert msg is not None
    assert (msg.chat_type, msg.chat_id, msg.chat_title) == (
        "group",
        "-1002231459876",
        "克虎镇应急管理站工作群",
    )


def test_command_with_bot_name_reaches_core_as_text() -> None:
    msg = to_incoming(update("supergroup_command"))
    assert msg is not None
    assert msg.text == "/done@anquan_test_bot 23 已加固"


def test_private_text_carries_no_name_or_title() -> None:
    msg = to_incoming(update("private_text"))
    assert msg is not None
    assert msg.chat_type == "private"
    assert msg.chat_id == msg.sender_id == "7034418823"
    assert msg.sender_name == ""
    assert msg.chat_title is None


def test_photo_caption_is_text_a_bare_photo_goes_in_without_text_and_other_media_is_ignored() -> None:
    captioned = to_incoming(update("photo_with_caption"))
    assert captioned is not None and captioned.text == "村口这根电线杆歪了，电线都快挨着地了"
    bare = to_incoming(update("photo_no_caption"))  # it may belong to a report (photo evidence)
    assert bare is not None and bare.text == "" and bare.photo is None  # fetched by the adapter, not here
    assert to_incoming(update("sticker")) is None


@pytest.mark.parametrize("name", ["channel_post", "edited_message", "my_chat_member_added"])
def test_non_messages_are_ignored(name: str) -> None:
    assert to_incoming(update(name)) is None


def test_membership_added_and_kicked() -> None:
    added = to_membership(update("my_chat_member_added"))
    kicked = to_membership(update("my_chat_member_kicked"))
    assert added is not None and added.joined and added.chat_id == "-4128856402"
    assert added.title == "王家沟村安全生产群"
    assert kicked is not None and not kicked.joined
    assert to_membership(update("group_text")) is None


def test_membership_promoted_to_admin_still_counts_as_joined() -> None:
    data = load("my_chat_member_added")
    data["my_chat_member"]["old_chat_member"]["status"] = "member"
    data["my_chat_member"]["new_chat_member"] = {
        **data["my_chat_member"]["new_chat_member"],
        "status": "administrator",
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": False,
        "can_edit_stories": False,
        "can_delete_stories": False,
    }
    change = to_membership(Update.de_json(data, Bot(DEFAULT_TOKEN)))
    assert change is not None and change.joined


def test_allowed_updates_cover_what_we_handle() -> None:
    assert set(ALLOWED_UPDATES) == {"message", "my_chat_member"}


# --- splitting, urls, settings ---------------------------------------------------------------------------


def test_split_text_respects_limit_and_keeps_everything() -> None:
    text = "\n".join(f"第{i}行：" + "隐" * 90 for i in range(200))
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(0 < len(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text
    assert split_text("短") == ["短"]
    unbroken = "隐" * 9000
    assert split_text(unbroken) == ["隐" * 4096, "隐" * 4096, "隐" * 808]


def test_split_text_counts_emoji_as_telegram_does() -> None:
    pieces = split_text("🔥" * 4096)  # 8192 UTF-16 units: two messages, not one that Telegram refuses
    assert pieces == ["🔥" * 2048, "🔥" * 2048]


def test_file_url_for() -> None:
    assert file_url_for("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url_for("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"


def test_from_settings_requires_token() -> None:
    with pytest.raises(ValueError, match="ANQUAN_TELEGRAM_TOKEN"):
        TelegramAdapter.from_settings(Settings(platforms=["telegram"]))
    adapter = TelegramAdapter.from_settings(
        Settings(
            platforms=["telegram"],
            telegram_token=DEFAULT_TOKEN,
            telegram_base_url="http://127.0.0.1:9/bot",
            telegram_proxy="http://127.0.0.1:3128",
        )
    )
    assert adapter.base_url == "http://127.0.0.1:9/bot"
    assert adapter.proxy == "http://127.0.0.1:3128"
    assert adapter.build_application().bot.base_url.startswith("http://127.0.0.1:9/bot")


def test_webhook_mode_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.adapters.telegram.webhook_supported", lambda: False)
    settings = Settings(
        platforms=["telegram"], telegram_token=DEFAULT_TOKEN, telegram_webhook_url="https://bot.example.cn/tg"
    )
    with pytest.raises(ValueError, match="webhooks"):
        TelegramAdapter.from_settings(settings)


def test_socks_proxy_without_socksio_is_a_clear_error() -> None:
    import importlib.util

    if importlib.util.find_spec("socksio") is not None:
        pytest.skip("socksio installed")
    settings = Settings(
        platforms=["telegram"], telegram_token=DEFAULT_TOKEN, telegram_proxy="socks5://127.0.0.1:1080"
    )
    with pytest.raises(ValueError, match="SOCKS"):
        TelegramAdapter.from_settings(settings)


async def test_unreachable_api_fails_run_without_leaking_the_token() -> None:
    adapter = TelegramAdapter(DEFAULT_TOKEN, base_url="http://127.0.0.1:9/bot")
    with pytest.raises(Exception) as info:
        await adapter.run(None, asyncio.Event())  # type: ignore[arg-type]
    assert DEFAULT_TOKEN not in str(info.value)


async def test_wrong_token_fails_run() -> None:
    from telegram.error import InvalidToken

    async with FakeTelegramAPI() as api:
        adapter = TelegramAdapter("5712345678:AAwrongwrongwrongwrongwrongwrongwrongw", base_url=api.base_url)
        with pytest.raises(InvalidToken):
            await adapter.run(None, asyncio.Event())  # type: ignore[arg-type]


# --- the limiter ---------------------------------------------------------------------------------------


class FakeTime:
    """A virtual clock whose sleep just advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


async def test_limiter_spaces_one_chat_a_second() -> None:
    t = FakeTime()
    limiter = SendLimiter(clock=t, sleep=t.sleep)
    stamps = []
    for _ in range(4):
        await limiter.acquire("7034418823")
        stamps.append(t.now)
    assert [round(b - a, 3) for a, b in itertools.pairwise(stamps)] == [1.0, 1.0, 1.0]


async def test_limiter_caps_a_group_at_twenty_a_minute() -> None:
    t = FakeTime()
    limiter = SendLimiter(clock=t, sleep=t.sleep, chat_interval=0.0)
    stamps = []
    for _ in range(21):
        await limiter.acquire("-1002231459876")
        stamps.append(t.now)
    assert stamps[19] - stamps[0] < 1.0
    assert stamps[20] - stamps[0] >= 60.0


async def test_limiter_overall_rate_and_pause() -> None:
    t = FakeTime()
    limiter = SendLimiter(clock=t, sleep=t.sleep, per_second=30)
    start = t.now
    for i in range(31):
        await limiter.acquire(str(1000 + i))  # different private chats
    assert t.now - start >= 1.0 - 1e-9
    limiter.pause(5)
    before = t.now
    await limiter.acquire("42")
    assert t.now - before >= 5.0


async def test_limiter_real_time_spacing() -> None:
    limiter = SendLimiter(chat_interval=0.1)
    stamps = []
    for _ in range(3):
        await limiter.acquire("-5")
        stamps.append(time.monotonic())
    assert all(b - a >= 0.095 for a, b in itertools.pairwise(stamps))


# --- sending against the fake Bot API (no core) ------------------------------------------------------


class _NoBridge:
    """A bridge with nothing to call: sending must never reach back into it."""


@pytest.fixture
async def connected() -> Any:
    """An adapter whose PTB Application is initialised against a fake Bot API (no polling)."""
    async with FakeTelegramAPI() as api:
        adapter = TelegramAdapter(
            api.token,
            base_url=api.base_url,
            limiter=SendLimiter(chat_interval=0.0),
            retry=RetryPolicy(base_delay=0.01, max_seconds=5.0),
        )
        app = adapter.build_application()
        await app.initialize()
        adapter.application = app
        adapter._bridge = _NoBridge()  # type: ignore[assignment]
        try:
            yield adapter, api
        finally:
            adapter.application = None
            await app.shutdown()


async def test_send_text_maps_errors(connected: Any) -> None:
    adapter, api = connected
    api.fail_sends(1, 429, retry_after=2)
    with pytest.raises(RetryLater) as info:
        await adapter.send_text("-4128856402", "通知")
    assert info.value.retry_after == 2
    assert adapter.limiter.paused_until > 0
    adapter.limiter.paused_until = float("-inf")

    api.fail_sends(1, 502)
    with pytest.raises(DeliveryError):
        await adapter.send_text("-4128856402", "通知")

    api.forbid_chat("-4128856402")
    with pytest.raises(ChatUnreachable):
        await adapter.send_text("-4128856402", "通知")
    with pytest.raises(ChatUnreachable):  # a reply is not retried either
        await adapter.deliver(Reply("-4128856402", "已登记隐患 #1", "412"))
    assert len([c for c in api.calls if c.params.get("chat_id") == "-4128856402" and c.status == 403]) == 2
    assert api.sent == []

    await adapter.send_text("-1002231459876", "长" * 5000)
    assert [len(s.text) for s in api.sent] == [4096, 904]


async def test_reply_quotes_and_survives_5xx(connected: Any) -> None:
    adapter, api = connected
    api.fail_sends(2, 502)
    api.fail_sends(1, 500)
    await adapter.deliver(Reply("-4128856402", "已登记隐患 #1", "412"))
    assert len(api.sent) == 1
    assert api.sent[0].reply_to_message_id == 412
    assert api.sent[0].allow_sending_without_reply is True
    assert [c.status for c in api.calls if c.method == "sendmessage"] == [502, 502, 500, 200]


async def test_reply_gives_up_after_bounded_attempts(connected: Any) -> None:
    adapter, api = connected
    adapter.retry = RetryPolicy(max_attempts=3, base_delay=0.01)
    api.fail_sends(10, 502)
    with pytest.raises(DeliveryError):
        await adapter.deliver(Reply("-4128856402", "已登记隐患 #1", "412"))
    assert len([c for c in api.calls if c.method == "sendmessage"]) == 3


async def test_send_without_connection_is_a_delivery_error() -> None:
    adapter = TelegramAdapter(DEFAULT_TOKEN)
    with pytest.raises(DeliveryError):
        await adapter.send_text("1", "x")


async def test_fake_rejects_wrong_token_like_telegram() -> None:
    async with FakeTelegramAPI() as api, aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}123456:AAwrongwrongwrongwrongwrongwrongwrong/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{api.base_url}nonsense/getMe") as resp:
            assert resp.status == 404
        async with http.post(f"{api.base_url}{api.token}/noSuchMethod") as resp:
            assert resp.status == 404
        api.fail_sends(1, 429, retry_after=3)
        async with http.post(
            f"{api.base_url}{api.token}/sendMessage", data={"chat_id": "1", "text": "x"}
        ) as resp:
            assert resp.status == 429
            assert await resp.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }


async def test_fake_runs_standalone_with_control_api() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        "--port",
        "0",
        cwd=Path(__file__).parents[1],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        port = int(line.split()[-1])
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            update = json.loads((FIXTURES / "group_text.json").read_text(encoding="utf-8"))
            async with http.post(f"{base}/_control/update", json=update) as resp:
                assert (await resp.json())["update_id"] == update["update_id"]
            url = f"{base}/bot{DEFAULT_TOKEN}"
            async with http.post(f"{url}/getUpdates", data={"timeout": "1"}) as resp:
                body = await resp.json()
            assert body["ok"] and body["result"][0]["message"]["text"] == update["message"]["text"]
            async with http.post(f"{url}/sendMessage", json={"chat_id": -4128856402, "text": "好"}) as resp:
                assert (await resp.json())["result"]["chat"]["type"] == "group"
            async with http.get(f"{base}/_control/sent") as resp:
                assert [s["text"] for s in await resp.json()] == ["好"]
    finally:
        proc.terminate()
        await proc.wait()


# --- retries spent, and stopping ----------------------------------------------------------------------------


class _RecordingRouter:
    """The two calls the bridge makes when a reply cannot go out now."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies, self.deferred, self.undelivered_replies = replies, [], []

    def dispatch(self, msg: Any) -> Any:
        from handlers.messages import DispatchResult

        return DispatchResult(list(self.replies), "filed")

    def defer_reply(self, platform: str, reply: Reply, retry_after: float) -> None:
        self.deferred.append((platform, reply.chat_id, retry_after))

    def undelivered(self, platform: str, reply: Reply) -> None:
        self.undelivered_replies.append(reply.chat_id)


async def test_a_group_reply_that_spends_its_retries_falls_back_to_the_outbox(connected: Any) -> None:
    from bot.bridge import Bridge
    from tests.helpers import group_msg

    adapter, api = connected
    adapter.retry = RetryPolicy(max_attempts=2, base_delay=0.01)
    api.fail_sends(10, 502)
    router = _RecordingRouter([Reply("-4128856402", "已登记隐患 #1", "412")])
    await Bridge(router, router).process(group_msg("电线着火了", chat="-4128856402"), adapter.deliver)  # type: ignore[arg-type]
    assert router.deferred == [("telegram", "-4128856402", 60.0)]


async def test_a_private_reply_that_spends_its_retries_is_never_stored(connected: Any) -> None:
    from bot.bridge import Bridge
    from tests.helpers import private_msg

    adapter, api = connected
    adapter.retry = RetryPolicy(max_attempts=2, base_delay=0.01)
    api.fail_sends(10, 502)
    router = _RecordingRouter([Reply("5550001", "回执码：ABC", receipt=True)])
    await Bridge(router, router).process(private_msg("举报 煤窑偷采", sender="5550001"), adapter.deliver)  # type: ignore[arg-type]
    assert router.deferred == []
    assert router.undelivered_replies == ["5550001"]


async def test_a_stopping_bot_does_not_sit_out_a_throttle() -> None:
    limiter = SendLimiter(chat_interval=0.0, group_per_minute=1)
    limiter.stop = asyncio.Event()
    await limiter.acquire("-100")
    waiting = asyncio.create_task(limiter.acquire("-100"))  # the group's minute is used up: ~60 s to wait
    await asyncio.sleep(0.05)
    assert not waiting.done()
    started = time.monotonic()
    limiter.stop.set()
    with pytest.raises(RetryLater):
        await asyncio.wait_for(waiting, timeout=2)
    assert time.monotonic() - started < 1
    limiter.pause(3600)  # a 429 while stopping: no wait at all
    with pytest.raises(RetryLater):
        await asyncio.wait_for(limiter.acquire("-200"), timeout=1)


# --- a group upgraded to a supergroup ---------------------------------------------------------------------


async def test_a_migrated_group_is_raised_once_then_its_old_id_is_followed(connected: Any) -> None:
    adapter, api = connected
    api.migrate_chat(-4128856402, -1009999999)
    with pytest.raises(ChatMigrated) as info:
        await adapter.send_text("-4128856402", "推送")
    assert info.value.new_chat_id == "-1009999999"
    assert api.sent == []  # nothing was sent: the caller decides (records the move, sends again)
    await adapter.send_text("-4128856402", "另一条推送")  # the adapter remembers where the group went
    await adapter.deliver(Reply("-4128856402", "已登记隐患 #2", "413"))
    assert [s.text for s in api.sent_to(-1009999999)] == ["另一条推送", "已登记隐患 #2"]


class _RecordingEvents(_RecordingRouter):
    """The router's chat events the bridge calls when a send fails for good."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__(replies)
        self.moves: list[tuple[str, str, str]] = []
        self.inactive: list[tuple[str, str]] = []

    def migrate_chat(self, platform: str, old: str, new: str) -> None:
        self.moves.append((platform, old, new))

    def mark_inactive(self, platform: str, chat_id: str) -> None:
        self.inactive.append((platform, chat_id))


def _bridge(events: _RecordingEvents) -> Any:
    from bot.bridge import Bridge

    return Bridge(events, events)  # type: ignore[arg-type]  # one double plays dispatcher and chat events


async def test_the_bridge_records_a_migration_once_and_the_reply_arrives_in_the_supergroup(
    connected: Any,
) -> None:
    from tests.helpers import group_msg

    adapter, api = connected
    api.migrate_chat(-4128856402, -1009999999)
    events = _RecordingEvents([Reply("-4128856402", "已登记隐患 #1", "412")])
    await _bridge(events).process(group_msg("电线着火了", chat="-4128856402"), adapter.deliver)
    assert events.moves == [("telegram", "-4128856402", "-1009999999")]
    assert [s.text for s in api.sent_to(-1009999999)] == ["已登记隐患 #1"]
    assert events.deferred == [] and events.inactive == []


async def test_the_bridge_marks_a_group_that_refuses_the_reply_inactive_once(connected: Any) -> None:
    from tests.helpers import group_msg, private_msg

    adapter, api = connected
    api.forbid_chat("-4128856402")
    api.forbid_chat("5550001")
    events = _RecordingEvents([Reply("-4128856402", "已登记隐患 #1", "412")])
    await _bridge(events).process(group_msg("电线着火了", chat="-4128856402"), adapter.deliver)
    assert events.inactive == [("telegram", "-4128856402")]
    assert events.deferred == []
    private = _RecordingEvents([Reply("5550001", "回执码：ABC", receipt=True)])
    await _bridge(private).process(private_msg("举报 煤窑偷采", sender="5550001"), adapter.deliver)
    assert private.inactive == []  # a private chat is no group to retire, and it is never stored
    assert private.undelivered_replies == ["5550001"] and private.deferred == []


# --- the rate limiter inside PTB ------------------------------------------------------------------------------


async def test_the_limiter_is_ptbs_rate_limiter_so_photos_files_and_get_file_wait_too(connected: Any) -> None:
    adapter, api = connected
    assert adapter.application.bot.rate_limiter is adapter.limiter
    adapter.limiter.chat_interval = 0.3
    await adapter.send_text("-4128856402", "图表如下")
    await adapter.send_image("-4128856402", b"\x89PNG fake")
    await adapter.send_document("-4128856402", b"PK fake", "台账.xlsx")
    sends = [c for c in api.calls if c.method in ("sendmessage", "sendphoto", "senddocument")]
    assert [c.method for c in sends] == ["sendmessage", "sendphoto", "senddocument"]
    # one chat: spaced like messages (0.3 s apart when released; arrival at the fake server jitters on a busy
    # machine, and unlimited sends would arrive within milliseconds)
    assert all(b.t - a.t >= 0.15 for a, b in itertools.pairwise(sends))

    photo = api.add_file(b"\xff\xd8 jpeg")
    adapter.limiter.pause(0.4)  # as after a 429: every call waits, getFile included
    started = time.monotonic()
    await adapter.application.bot.get_file(photo["file_id"])
    assert time.monotonic() - started >= 0.35


async def test_a_429_on_any_call_pauses_every_call(connected: Any) -> None:
    from telegram.error import RetryAfter

    adapter, _ = connected
    limiter: SendLimiter = adapter.limiter

    async def throttled(*args: Any, **kwargs: Any) -> bool:
        raise RetryAfter(7)

    before = limiter.clock()
    with pytest.raises(RetryAfter):
        await limiter.process_request(throttled, (), {}, "getFile", {"file_id": "x"}, None)
    assert limiter.paused_until >= before + 7


async def test_limiter_counts_messages_per_chat_and_other_calls_only_overall() -> None:
    t = FakeTime()
    limiter = SendLimiter(clock=t, sleep=t.sleep, per_second=1000)
    calls: list[tuple[str, float]] = []

    async def call(endpoint: str) -> bool:
        calls.append((endpoint, t.now))
        return True

    for endpoint, data in [
        ("sendMessage", {"chat_id": 42, "text": "a"}),
        ("getFile", {"file_id": "f"}),
        ("sendPhoto", {"chat_id": 42}),
        ("getChat", {"chat_id": 42}),
    ]:
        await limiter.process_request(call, (endpoint,), {}, endpoint, data, None)
    start = calls[0][1]
    assert [(e, round(at - start, 3)) for e, at in calls] == [
        ("sendMessage", 0.0),
        ("getFile", 0.001),  # not a message: only the overall spacing
        ("sendPhoto", 1.0),  # the same chat's next message waits its second
        ("getChat", 1.001),
    ]


async def test_a_stopping_bot_does_not_wait_for_the_limiter_inside_ptb(connected: Any) -> None:
    adapter, api = connected
    adapter.limiter.stop = asyncio.Event()
    adapter.limiter.stop.set()
    adapter.limiter.pause(3600)
    started = time.monotonic()
    with pytest.raises(RetryLater):
        await adapter.send_text("-4128856402", "通知")
    with pytest.raises(RetryLater):  # a reply too: the bridge defers it instead of holding the shutdown
        await adapter.deliver(Reply("-4128856402", "已登记隐患 #1", "412"))
    assert time.monotonic() - started < 1
    assert api.sent == []


async def test_the_limiter_bounds_bot_api_calls_in_flight_and_keeps_them_all() -> None:
    # a burst of replies waits its turn instead of opening a connection each (PTB's pool of 256 made the
    # pool bookkeeping starve the event loop under load)
    limiter = SendLimiter(per_second=0, chat_interval=0, group_per_minute=10**9, max_in_flight=3)
    running = peak = 0
    release = asyncio.Event()

    async def call() -> bool:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return True

    tasks = [
        asyncio.create_task(limiter.process_request(call, (), {}, "sendMessage", {"chat_id": -i}, None))
        for i in range(1, 11)
    ]
    await asyncio.sleep(0.05)
    assert running == peak == 3
    release.set()
    assert all(await asyncio.gather(*tasks))
    assert peak == 3
