"""Tests for bot.adapters.wechaty without a gateway: translation, mention stripping, pacing, configuration errors,
and the transport rules: a real token, plaintext only to loopback, TLS settings.

The end-to-end behaviour over gRPC (and over TLS) is in test_e2e_wechaty.py.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import secrets
import ssl
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.adapters import wechaty as wx
from bot.adapters.base import ChatUnreachable, DeliveryError, RetryLater
from bot.config import Settings

BOT = "克虎镇安全助手"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[1]
TOKEN = secrets.token_urlsafe(24)


# --- translation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"@{BOT}\u2005王家沟村东头老窑洞裂了", "王家沟村东头老窑洞裂了"),
        (f"@{BOT} /整改完成 3 已加固", "/整改完成 3 已加固"),
        (f"  @{BOT}\u2005\u2005/进度 ABC", "/进度 ABC"),
        (f"王家沟村东头老窑洞裂了 @{BOT}", "王家沟村东头老窑洞裂了"),
        (f"王家沟村东头老窑洞裂了\u2005@{BOT}\u2005", "王家沟村东头老窑洞裂了"),
        (f"@{BOT}", ""),
        ("@老王\u2005明天几点开会", "@老王\u2005明天几点开会"),  # someone else's mention stays
        (f"请@{BOT}\u2005看看", f"请@{BOT}\u2005看看"),  # only a leading or trailing mention is stripped
        (f"@{BOT}2号\u2005你好", f"@{BOT}2号\u2005你好"),  # a different name that starts the same
    ],
)
def test_strip_mention(text: str, expected: str) -> None:
    assert wx.strip_mention(text, [BOT]) == expected


def test_strip_mention_escapes_the_name_and_ignores_empty_names() -> None:
    assert wx.strip_mention("@a.b+(c)\u2005hi", ["a.b+(c)"]) == "hi"
    assert wx.strip_mention("@axb\u2005hi", ["a.b", ""]) == "@axb\u2005hi"


def test_room_message_becomes_a_group_message_keyed_by_room_and_contact_ids() -> None:
    msg = wx.build_incoming(
        message_id="m1",
        text=f"@{BOT}\u2005王家沟村东头老窑洞裂了好宽的缝",
        talker_id="wxid_villager",
        talker_name="老王",
        room_id="123@chatroom",
        room_topic="王家沟村民群",
        bot_names=[BOT],
        timestamp=1_781_000_000_000,
    )
    assert msg is not None
    assert (msg.platform, msg.chat_type, msg.chat_id, msg.sender_id) == (
        "wechaty",
        "group",
        "123@chatroom",
        "wxid_villager",
    )
    assert (msg.text, msg.sender_name, msg.chat_title, msg.message_id) == (
        "王家沟村东头老窑洞裂了好宽的缝",
        "老王",
        "王家沟村民群",
        "m1",
    )
    assert msg.sent_at == datetime.fromtimestamp(1_781_000_000, UTC)


def test_contact_message_becomes_a_private_message_without_a_name() -> None:
    msg = wx.build_incoming(
        message_id="m2",
        text=" 举报 后沟煤窑偷采 ",
        talker_id="wxid_tipster",
        talker_name="老李",
        timestamp=1_781_000_000,
    )
    assert msg is not None
    assert (msg.chat_type, msg.chat_id, msg.sender_id, msg.text) == (
        "private",
        "wxid_tipster",
        "wxid_tipster",
        "举报 后沟煤窑偷采",
    )
    assert msg.sender_name == "" and msg.chat_title is None
    assert msg.sent_at == datetime.fromtimestamp(1_781_000_000, UTC)


def test_a_bare_mention_or_empty_text_is_not_handed_over() -> None:
    assert (
        wx.build_incoming(message_id="m", text=f"@{BOT}\u2005", talker_id="u", room_id="r", bot_names=[BOT])
        is None
    )
    assert wx.build_incoming(message_id="m", text="   ", talker_id="u") is None


def test_message_time_accepts_seconds_and_milliseconds() -> None:
    assert wx.message_time(None) is None and wx.message_time(0) is None
    assert wx.message_time(1_781_000_000) == wx.message_time(1_781_000_000_000)


# --- pacing ---------------------------------------------------------------------------------------------


class FakeTime:
    """A monotonic clock, a wall clock and a sleep that only advance when told (or when slept)."""

    def __init__(self, wall: datetime) -> None:
        self.mono = 100.0
        self.wall = wall
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> datetime:
        return self.wall

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds


def _pacer(t: FakeTime, *, min_interval: float = 3.0, jitter: float = 2.0, cap: int = 500) -> wx.SendPacer:
    return wx.SendPacer(
        min_interval,
        jitter,
        cap,
        SHANGHAI,
        monotonic=t.monotonic,
        now=t.now,
        uniform=lambda low, high: high,  # always the largest jitter
        sleep=t.sleep,
    )


async def test_first_send_goes_at_once_and_the_next_waits_interval_plus_jitter() -> None:
    t = FakeTime(datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    pacer = _pacer(t)
    await pacer.acquire()
    assert t.slept == []
    t.mono += 1.0  # one second later
    await pacer.acquire()
    assert t.slept == [pytest.approx(4.0)]  # 3 s + 2 s jitter - 1 s already passed
    t.mono += 10.0  # long quiet: no wait
    await pacer.acquire()
    assert t.slept == [pytest.approx(4.0)]
    assert pacer.sent_today() == 3


def test_gap_is_within_interval_and_interval_plus_jitter() -> None:
    pacer = wx.SendPacer(0.2, 0.05, 10, SHANGHAI)
    gaps = [pacer.gap() for _ in range(200)]
    assert all(0.2 <= g <= 0.25 for g in gaps)
    assert max(gaps) - min(gaps) > 0.01  # it does vary
    assert wx.SendPacer(0.5, 0.0, 10, SHANGHAI).gap() == 0.5


async def test_concurrent_sends_are_serialised() -> None:
    t = FakeTime(datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    pacer = _pacer(t, min_interval=1.0, jitter=0.0)
    await asyncio.gather(*(pacer.acquire() for _ in range(4)))
    assert t.slept == [pytest.approx(1.0)] * 3


async def test_daily_cap_holds_sends_until_local_midnight_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 2026-06-10 22:30 in Beijing = 14:30 UTC: 1.5 hours to local midnight.
    t = FakeTime(datetime(2026, 6, 10, 14, 30, tzinfo=UTC))
    pacer = _pacer(t, min_interval=0.0, jitter=0.0, cap=2)
    await pacer.acquire()
    await pacer.acquire()
    with caplog.at_level(logging.WARNING, logger="bot.adapters.wechaty"):
        with pytest.raises(RetryLater) as first:
            await pacer.acquire()
        with pytest.raises(RetryLater):
            await pacer.acquire()
    assert first.value.retry_after == pytest.approx(5400)
    assert sum("daily send cap" in r.getMessage() for r in caplog.records) == 1
    # Midnight in Beijing (16:00 UTC): a new day, a new count.
    t.wall = datetime(2026, 6, 10, 16, 0, 1, tzinfo=UTC)
    await pacer.acquire()
    assert pacer.sent_today() == 1


async def test_the_day_is_counted_in_the_local_time_zone() -> None:
    # 23:59 UTC on 10 June is already 11 June 07:59 in Beijing; 00:01 UTC on 11 June is the same Beijing day.
    t = FakeTime(datetime(2026, 6, 10, 23, 59, tzinfo=UTC))
    pacer = _pacer(t, min_interval=0.0, jitter=0.0, cap=1)
    await pacer.acquire()
    t.wall = datetime(2026, 6, 11, 0, 1, tzinfo=UTC)
    with pytest.raises(RetryLater):
        await pacer.acquire()


def test_pacer_rejects_negative_settings() -> None:
    with pytest.raises(ValueError):
        wx.SendPacer(-1, 0, 10, SHANGHAI)


# --- configuration ----------------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ANQUAN_CONFIG",
        "ANQUAN_WECHATY_ENDPOINT",
        "ANQUAN_WECHATY_TOKEN",
        "ANQUAN_PLATFORMS",
        "ANQUAN_WECHATY_TLS",
        "ANQUAN_WECHATY_TLS_CA",
        "ANQUAN_WECHATY_TLS_SERVER_NAME",
        "ANQUAN_WECHATY_INSECURE",
    ):
        monkeypatch.delenv(name, raising=False)


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


needs_extra = pytest.mark.skipif(
    importlib.util.find_spec("wechaty") is None or sys.version_info >= (3, 13),
    reason="the wechat extra is not installed (pip install -e '.[wechat]') or Python >= 3.13",
)


@needs_extra
def test_missing_endpoint_is_a_clear_error(clean_env: None, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ANQUAN_WECHATY_ENDPOINT"):
        wx.WechatyAdapter.from_settings(_settings(tmp_path))


@needs_extra
def test_from_settings_takes_endpoint_token_and_pacing(clean_env: None, tmp_path: Path) -> None:
    adapter = wx.WechatyAdapter.from_settings(
        _settings(
            tmp_path,
            wechaty_endpoint="127.0.0.1:8788",
            wechaty_token=TOKEN,
            wechaty_min_interval=4.0,
            wechaty_jitter=1.5,
            wechaty_daily_cap=300,
        )
    )
    assert (adapter.endpoint, adapter.token, adapter.platform) == ("127.0.0.1:8788", TOKEN, "wechaty")
    assert adapter.tls is None
    assert (adapter.pacer.min_interval, adapter.pacer.jitter, adapter.pacer.daily_cap) == (4.0, 1.5, 300)
    assert adapter.data_dir == tmp_path


@pytest.mark.parametrize("endpoint", ["", "localhost", "host:", ":8788", "host:port", "host:70000"])
def test_bad_endpoint_is_a_clear_error(endpoint: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        wx.validate_endpoint(endpoint)


def test_endpoint_scheme_is_tolerated() -> None:
    assert wx.validate_endpoint(" grpc://127.0.0.1:8788 ") == "127.0.0.1:8788"


def test_python_313_is_refused_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 13, 0, "final", 0))
    with pytest.raises(RuntimeError, match=r"Python 3\.13"):
        wx.WechatyAdapter.from_settings(_settings(tmp_path, wechaty_endpoint="127.0.0.1:8788"))


def test_missing_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, tmp_path: Path
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("wechaty") else real(name, *a)
    )
    with pytest.raises(RuntimeError, match=r"pip install -e '\.\[wechat\]'"):
        wx.WechatyAdapter.from_settings(_settings(tmp_path, wechaty_endpoint="127.0.0.1:8788"))


def test_importing_the_adapter_does_not_import_the_sdk() -> None:
    code = (
        "import sys, bot.adapters.wechaty; "
        "bad = [m for m in sys.modules if m.startswith(('wechaty', 'grpclib', 'pyee'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


# --- sending without a connection ---------------------------------------------------------------------------


async def test_send_without_a_connection_is_a_delivery_error() -> None:
    adapter = wx.WechatyAdapter("127.0.0.1:1", TOKEN, min_interval=0, jitter=0)
    with pytest.raises(DeliveryError):
        await adapter.send_text("123@chatroom", "hi")


class _FakePuppet:
    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    async def message_send_text(self, conversation_id: str, message: str) -> None:
        self.texts.append((conversation_id, message))


class _FakeBot:
    def __init__(self) -> None:
        self.puppet = _FakePuppet()


async def test_a_very_long_text_goes_as_several_paced_messages_split_by_the_shared_splitter() -> None:
    adapter = wx.WechatyAdapter("127.0.0.1:1", TOKEN, min_interval=0, jitter=0)
    bot = _FakeBot()
    adapter._bot = bot
    adapter.logged_in.set()
    lines = [f"第{i}条：注意防火😀" for i in range(1000)]  # about 12 000 characters
    await adapter.send_text("123@chatroom", "\n".join(lines))
    sent = [text for _, text in bot.puppet.texts]
    assert len(sent) == 2 and all(len(text) <= wx.MAX_SEND_CHARS for text in sent)
    assert "\n".join(sent) == "\n".join(lines)  # cut at a line break, nothing lost
    assert adapter.pacer.sent_today() == 2  # each piece takes its own slot under the daily cap
    await adapter.send_text("123@chatroom", "短消息")
    assert bot.puppet.texts[-1] == ("123@chatroom", "短消息")


async def test_a_stopping_bot_does_not_sit_out_the_pacing() -> None:
    pacer = wx.SendPacer(3600.0, 0.0, 10, SHANGHAI)
    pacer.stop = asyncio.Event()
    await pacer.acquire()
    waiting = asyncio.create_task(pacer.acquire())  # the next send is an hour away
    await asyncio.sleep(0.05)
    assert not waiting.done()
    pacer.stop.set()
    with pytest.raises(RetryLater):
        await asyncio.wait_for(waiting, timeout=2)


def test_grpc_errors_map_to_delivery_errors() -> None:
    pytest.importorskip("grpclib", reason="the wechat extra is not installed")
    from grpclib.const import Status
    from grpclib.exceptions import GRPCError

    assert isinstance(wx._delivery_error(GRPCError(Status.NOT_FOUND, "no room")), ChatUnreachable)
    throttled = wx._delivery_error(GRPCError(Status.RESOURCE_EXHAUSTED))
    assert isinstance(throttled, RetryLater) and throttled.retry_after > 0
    other = wx._delivery_error(ConnectionResetError("x"))
    assert type(other) is DeliveryError


async def test_the_gap_starts_when_a_slow_send_ends() -> None:
    t = FakeTime(datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    pacer = _pacer(t, min_interval=1.0, jitter=0.0)
    async with pacer.slot():
        t.mono += 5.0  # a send that took five seconds
    t.mono += 0.25
    await pacer.acquire()
    assert t.slept == [pytest.approx(0.75)]


# --- the token ------------------------------------------------------------------------------------------------


@needs_extra
@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "   ",
        "anquan-insecure-token",  # the old built-in fallback
        "token",
        "changeme",
        "CHANGEME",
        "网关的token",  # the README's old example value
        "puppet_padlocal_xxxxxxxxxxxxxxxx",  # the providers' documented example
        "<your gateway token here>",
        "my-example-token-1234",
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "short-but-real1",  # 15 characters: guessable
        "a token with spaces 12345",
        "令牌令牌令牌令牌令牌令牌令牌令牌",
    ],
)
def test_no_token_or_a_placeholder_token_refuses_to_start(
    clean_env: None, tmp_path: Path, token: str | None
) -> None:
    with pytest.raises(ValueError, match="ANQUAN_WECHATY_TOKEN") as refused:
        wx.WechatyAdapter.from_settings(
            _settings(tmp_path, wechaty_endpoint="127.0.0.1:8788", wechaty_token=token)
        )
    if token and len(token.strip()) > len("changeme"):  # short ones are words the message may use
        assert token.strip() not in str(refused.value), "the error never repeats the token"


def test_a_random_token_is_accepted() -> None:
    for token in (TOKEN, "insecure_40fc7334-9d1e-4b0a-8f3c-2e6a7b5d9c11", secrets.token_hex(8)):
        assert wx.check_token(f" {token} ") == token


def test_the_adapter_itself_refuses_a_missing_token() -> None:
    with pytest.raises(ValueError, match="未设置 ANQUAN_WECHATY_TOKEN"):
        wx.WechatyAdapter("127.0.0.1:8788", None)


# --- plaintext only to loopback ---------------------------------------------------------------------------------


@needs_extra
@pytest.mark.parametrize(
    "endpoint", ["10.0.0.5:8788", "192.168.1.20:8788", "gateway:8788", "0.0.0.0:8788", "[2001:db8::5]:8788"]
)
def test_plaintext_to_a_non_loopback_gateway_refuses_to_start_and_names_the_options(
    clean_env: None, tmp_path: Path, endpoint: str
) -> None:
    with pytest.raises(ValueError, match="拒绝用明文") as refused:
        wx.WechatyAdapter.from_settings(_settings(tmp_path, wechaty_endpoint=endpoint, wechaty_token=TOKEN))
    message = str(refused.value)
    for option in ("127.0.0.1", "SSH", "WireGuard", "ANQUAN_WECHATY_TLS_CA", "ANQUAN_WECHATY_INSECURE"):
        assert option in message, option


@needs_extra
@pytest.mark.parametrize("endpoint", ["127.0.0.1:8788", "127.8.0.9:8788", "localhost:8788", "[::1]:8788"])
def test_plaintext_to_loopback_is_allowed(clean_env: None, tmp_path: Path, endpoint: str) -> None:
    adapter = wx.WechatyAdapter.from_settings(
        _settings(tmp_path, wechaty_endpoint=endpoint, wechaty_token=TOKEN)
    )
    assert adapter.tls is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("LOCALHOST", True),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("localhost.example.com", False),
        ("127.0.0.1.nip.io", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert wx.is_loopback(host) is loopback


def test_split_endpoint_unwraps_ipv6() -> None:
    assert wx.split_endpoint("[::1]:8788") == ("::1", 8788)
    assert wx.split_endpoint("grpc://gw.example.cn:443") == ("gw.example.cn", 443)


@needs_extra
def test_the_insecure_escape_hatch_allows_plaintext_with_a_warning(
    clean_env: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.adapters.wechaty"):
        adapter = wx.WechatyAdapter.from_settings(
            _settings(tmp_path, wechaty_endpoint="10.8.0.2:8788", wechaty_token=TOKEN, wechaty_insecure=True)
        )
    assert adapter.tls is None
    warned = [r for r in caplog.records if "ANQUAN_WECHATY_INSECURE" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert TOKEN not in caplog.text


# --- TLS settings -------------------------------------------------------------------------------------------------


@needs_extra
def test_a_ca_file_turns_tls_on_for_a_remote_gateway(clean_env: None, tmp_path: Path) -> None:
    from tests.fakes.puppet_service import make_test_pki

    pki = make_test_pki(tmp_path / "pki")
    adapter = wx.WechatyAdapter.from_settings(
        _settings(
            tmp_path,
            wechaty_endpoint="203.0.113.7:8788",
            wechaty_token=TOKEN,
            wechaty_tls_ca=pki.ca_cert,
            wechaty_tls_server_name="wechaty-gateway.test",
        )
    )
    assert adapter.tls == wx.GatewayTLS(pki.ca_cert, "wechaty-gateway.test")
    assert adapter.server_name == "wechaty-gateway.test"
    context = adapter._ssl_context
    assert (
        context is not None and context.check_hostname and context.minimum_version >= ssl.TLSVersion.TLSv1_2
    )
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "anquan test gateway CA"),),)]


@needs_extra
def test_tls_with_the_system_cas_needs_no_ca_file(clean_env: None, tmp_path: Path) -> None:
    adapter = wx.WechatyAdapter.from_settings(
        _settings(
            tmp_path, wechaty_endpoint="wechat-gw.example.cn:443", wechaty_token=TOKEN, wechaty_tls=True
        )
    )
    assert adapter.tls == wx.GatewayTLS(None, None) and adapter.server_name == "wechat-gw.example.cn"


@needs_extra
def test_a_ca_file_that_is_not_a_certificate_is_a_clear_error(clean_env: None, tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("这不是证书\n")
    with pytest.raises(ValueError, match="ANQUAN_WECHATY_TLS_CA"):
        wx.WechatyAdapter.from_settings(
            _settings(tmp_path, wechaty_endpoint="10.0.0.5:8788", wechaty_token=TOKEN, wechaty_tls_ca=bogus)
        )


# --- quote-replies --------------------------------------------------------------------------------------------

DASHES = "- - - - - - - - - - - - - - -"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"「王老汉：电线杆有点斜」\n{DASHES}\n/登记", ("王老汉：电线杆有点斜", "/登记")),
        (
            f"「王老汉：第一行\n第二行」\r\n{DASHES}\r\n@{BOT}\u2005/登记",
            ("王老汉：第一行\n第二行", f"@{BOT}\u2005/登记"),
        ),
        ("「张：甲」\n- - - -\n乙", ("张：甲", "乙")),
        ("「书名号」开头的普通消息", None),
        (f"王老汉：电线杆有点斜\n{DASHES}\n/登记", None),
        ("「王老汉：电线杆有点斜」\n- -\n/登记", None),
    ],
)
def test_split_quote(text: str, expected: tuple[str, str] | None) -> None:
    assert wx.split_quote(text) == expected


def _seen(mid: str, sender: str, name: str, text: str) -> wx.SeenRoomMessage:
    return wx.SeenRoomMessage(message_id=mid, sender_id=sender, sender_name=name, text=text)


def test_a_quote_is_matched_by_name_and_text_newest_first_then_by_text_alone() -> None:
    recent = wx.RecentRoomMessages()
    recent.add("r1", _seen("m1", "wxid_wang", "王老汉", "收到"))
    recent.add("r1", _seen("m2", "wxid_li", "李婶", "收到"))
    recent.add("r1", _seen("m3", "wxid_wang", "王老汉", "电线杆有点斜"))
    recent.add("r2", _seen("m4", "wxid_zhao", "赵", "电线杆有点斜"))
    assert recent.find("r1", "王老汉：收到").message_id == "m1"  # type: ignore[union-attr]
    assert recent.find("r1", "李婶：收到").message_id == "m2"  # type: ignore[union-attr]
    assert recent.find("r1", "老王（村东头）：电线杆有点斜").message_id == "m3"  # type: ignore[union-attr]
    assert recent.find("r2", "赵：电线杆有点斜").message_id == "m4"  # type: ignore[union-attr]
    assert recent.find("r1", "王老汉：没说过的话") is None
    assert recent.find("r3", "王老汉：收到") is None


def test_the_recent_messages_are_bounded_per_room_and_in_rooms() -> None:
    recent = wx.RecentRoomMessages(per_room=2, rooms=2)
    for i in range(3):
        recent.add("r1", _seen(f"m{i}", "u", "甲", f"第{i}条"))
    assert recent.find("r1", "甲：第0条") is None and recent.find("r1", "甲：第2条") is not None
    recent.add("r2", _seen("x", "u", "甲", "二群"))
    recent.add("r3", _seen("y", "u", "甲", "三群"))
    assert recent.find("r1", "甲：第2条") is None, "the least recently active room is forgotten"
    assert recent.find("r3", "甲：三群") is not None


def test_a_quoted_room_message_reaches_the_core_as_reply_to() -> None:
    quoted = wx.QuotedMessage(
        message_id="m1", sender_id="wxid_wang", sender_name="王老汉", text="电线杆有点斜"
    )
    msg = wx.build_incoming(
        message_id="m2", text="/登记", talker_id="wxid_zhang", room_id="r@chatroom", reply_to=quoted
    )
    assert msg is not None and msg.reply_to == quoted
    private = wx.build_incoming(message_id="m3", text="/进度 ABC", talker_id="wxid_li", reply_to=quoted)
    assert private is not None and private.reply_to is None
