"""End to end over WeChat: the real wechaty + wechaty-puppet-service client talks gRPC on loopback to a fake
puppet service gateway, and the real core answers on a fresh SQLite database.

Scenario: a room hazard is filed and answered with its number in the room; chatter gets silence; an official
(by contact id) closes a hazard and a villager is refused; a private tip gets a receipt code that ``/进度``
understands, and the whistleblower's contact id and name end up in no table and no log; the bot's own and
non-text messages are ignored; a log-out alerts the leadership group on another platform; sends are paced; a
dropped event stream makes ``run`` raise, and the next ``run`` works again.

Quote-replies: an official quoting a villager's room message with ``/登记`` files it for the villager, once; a
quote of a message the bot never saw files nothing; quoting a hazard to comment on it does not file it again.

Over TLS (a throw-away CA and server certificate made at test time): a room hazard and a private tip round-trip
with every gRPC call encrypted and carrying the token; a wrong CA, a wrong server name or a gateway without TLS
stop the adapter with a clear Chinese error before any call is made, and no message is handled.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.wechaty import (
    GatewayTLS,
    GatewayTLSError,
    WechatyAdapter,
    check_environment,
    load_wechaty,
)

try:
    check_environment()
except RuntimeError as exc:  # Python >= 3.13, the extra missing, or wrong pins
    pytest.skip(f"wechat extra unusable: {exc}", allow_module_level=True)
# The import shim, before anything imports wechaty.
load_wechaty(Path(tempfile.gettempdir()) / "anquan-wechaty-tests")
pytest.importorskip("wechaty", reason="the wechat extra is not installed: pip install -e '.[wechat]'")
pytest.importorskip("wechaty_grpc", reason="the wechat extra is not installed: pip install -e '.[wechat]'")

from sqlalchemy import inspect, select, text  # noqa: E402

from bot.app import Database, supervise  # noqa: E402
from bot.bridge import Bridge  # noqa: E402
from bot.config import Settings  # noqa: E402
from handlers.classifier import Classifier  # noqa: E402
from handlers.messages import IncomingMessage  # noqa: E402
from handlers.profile import Profile  # noqa: E402
from handlers.router import Router  # noqa: E402
from handlers.texts import Texts  # noqa: E402
from storage.groups import upsert_group  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from storage.officials import add_official  # noqa: E402
from storage.reports import get_report  # noqa: E402
from tests.conftest import Clock, make_core  # noqa: E402
from tests.fakes.puppet_service import FakePuppetService, GatewayPKI, make_test_pki  # noqa: E402

pytestmark = pytest.mark.wechat

HAZARD = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
TIP = "举报 后沟那个煤窑晚上偷偷开采，别说是我说的"
ROOM = "20260610wangjiagou@chatroom"
ROOM_TOPIC = "王家沟村民群"
BOT_ID, BOT_NAME = "wxid_anquan_bot", "克虎镇安全助手"
VILLAGER_ID, VILLAGER_NAME = "wxid_villager_wang", "王老汉"
OFFICIAL_ID, OFFICIAL_NAME = "wxid_official_zhang", "张站长"
TIPSTER_ID, TIPSTER_NAME = "wxid_whistle_8812", "后沟李二娃"
WAIT = 10.0
TOKEN = secrets.token_urlsafe(
    24
)  # the adapter refuses placeholder tokens: a real random one, as in production


class RecordingBridge(Bridge):
    """The real bridge, noting which messages were fully handled (replies sent) so tests can wait on it."""

    def __init__(self, router: Router) -> None:
        super().__init__(*router.parts)
        self.handled: list[str] = []

    async def process(self, msg: IncomingMessage, deliver: Any, *senders: Any) -> None:
        await super().process(msg, deliver, *senders)
        self.handled.append(msg.message_id)


@dataclass
class WeChat:
    """One bot connected to the fake gateway, and what the test needs to drive and inspect it."""

    fake: FakePuppetService
    adapter: WechatyAdapter
    bridge: RecordingBridge
    db: Database
    stop: asyncio.Event
    task: asyncio.Task[None]
    translated: dict[str, IncomingMessage | None] = field(default_factory=dict)

    async def handled(self, message_id: str) -> None:
        """Wait until the core handled the message and its replies went out."""
        await until(lambda: message_id in self.bridge.handled, f"message {message_id} handled")

    async def skipped(self, message_id: str) -> None:
        """Wait until the adapter looked at the message and handed nothing to the core."""
        await until(lambda: message_id in self.translated, f"message {message_id} seen")
        assert self.translated[message_id] is None

    async def room_says(
        self, text: str, sender: tuple[str, str] = (VILLAGER_ID, VILLAGER_NAME), **kw: Any
    ) -> list[str]:
        """A room member writes; returns what the bot answered in the room."""
        before = len(self.fake.sent_to(ROOM))
        message_id = self.fake.push_room_text(ROOM, ROOM_TOPIC, sender[0], sender[1], text, **kw)
        await self.handled(message_id)
        return self.fake.sent_to(ROOM)[before:]

    async def private_says(self, text: str) -> list[str]:
        """The whistleblower writes privately; returns what the bot answered in that chat."""
        before = len(self.fake.sent_to(TIPSTER_ID))
        message_id = self.fake.push_private_text(TIPSTER_ID, TIPSTER_NAME, text)
        await self.handled(message_id)
        return self.fake.sent_to(TIPSTER_ID)[before:]


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` every 10 ms until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def _report_id(reply: str) -> int:
    match = re.search(r"#(\d+)", reply)
    assert match, reply
    return int(match.group(1))


StartBot = Callable[..., Awaitable[WeChat]]


@pytest.fixture
async def start_bot(
    bridge: RecordingBridge,
    sqlite_database: Database,
    tmp_path: Path,
) -> AsyncIterator[StartBot]:
    """Start the fake gateway and the bot on it (logged in); everything is shut down in the right order after."""
    fake = FakePuppetService()
    started: list[WeChat] = []

    async def start(
        *,
        min_interval: float = 0.0,
        jitter: float = 0.0,
        daily_cap: int = 100,
        adapter: WechatyAdapter | None = None,
        supervised: bool = False,
        serve_tls: GatewayPKI | None = None,
        make_adapter: Callable[[str], WechatyAdapter] | None = None,
    ) -> WeChat:
        """Start the gateway (first call; over TLS with ``serve_tls``) and a bot on it, and log it in."""
        if not fake.port:
            await fake.start(ssl=serve_tls.server_context() if serve_tls else None)
        if make_adapter is not None:
            adapter = make_adapter(fake.endpoint)
        adapter = adapter or WechatyAdapter(
            fake.endpoint,
            TOKEN,
            min_interval=min_interval,
            jitter=jitter,
            daily_cap=daily_cap,
            data_dir=tmp_path,
        )
        stop = asyncio.Event()
        runner = supervise(adapter, bridge, stop) if supervised else adapter.run(bridge, stop)
        task = asyncio.create_task(runner)
        wechat = WeChat(fake, adapter, bridge, sqlite_database, stop, task)
        original = adapter._translate

        async def spy(message: Any) -> IncomingMessage | None:
            result = await original(message)
            wechat.translated[message.message_id] = result
            return result

        adapter._translate = spy  # type: ignore[method-assign]
        started.append(wechat)
        await fake.login(BOT_ID, BOT_NAME, timeout=WAIT)
        await asyncio.wait_for(adapter.logged_in.wait(), WAIT)
        return wechat

    yield start
    for wechat in started:
        wechat.stop.set()
        await asyncio.wait_for(asyncio.gather(wechat.task, return_exceptions=True), WAIT)
    await fake.close()


@pytest.fixture
def pki(tmp_path: Path) -> GatewayPKI:
    """A throw-away CA and a certificate it signed for the gateway's name (not for 127.0.0.1)."""
    return make_test_pki(tmp_path / "pki")


async def test_room_hazard_is_answered_with_its_number_and_chatter_gets_silence(start_bot: StartBot) -> None:
    wechat = await start_bot()
    replies = await wechat.room_says(HAZARD)
    assert len(replies) == 1 and "#" in replies[0]
    rid = _report_id(replies[0])
    with wechat.db.sessions() as s:
        report = get_report(s, rid)
        assert report is not None
        assert (report.kind, report.status, report.village) == ("hazard", "reported", "王家沟村")
    for chatter in ("收到", "明天几点开会", "热炸了"):
        assert await wechat.room_says(chatter) == []
    assert len(wechat.fake.sent) == 1


async def test_an_official_closes_a_hazard_and_a_villager_is_refused(start_bot: StartBot) -> None:
    wechat = await start_bot()
    with wechat.db.sessions.begin() as s:
        add_official(s, "wechaty", OFFICIAL_ID, OFFICIAL_NAME)
    rid = _report_id((await wechat.room_says(HAZARD))[0])

    refused = await wechat.room_says(f"/整改完成 {rid} 已加固")
    assert len(refused) == 1 and "只有登记过的" in refused[0]
    with wechat.db.sessions() as s:
        assert get_report(s, rid).status == "reported"

    # An official who happens to share the villager's display name is still a villager: ids decide.
    impostor = await wechat.room_says(f"/整改完成 {rid} 已加固", sender=("wxid_other", OFFICIAL_NAME))
    assert "只有登记过的" in impostor[0]

    # The official @-mentions the bot the way WeChat does (U+2005 after the name).
    done = await wechat.room_says(
        f"/整改完成 {rid} 已加固", sender=(OFFICIAL_ID, OFFICIAL_NAME), mention_self=True
    )
    assert len(done) == 1 and f"#{rid}" in done[0]
    with wechat.db.sessions() as s:
        report = get_report(s, rid)
        assert (report.status, report.rectification_note) == ("rectified", "已加固")


def _dump_database(db: Database) -> str:
    """Every row of every table, as text."""
    lines: list[str] = []
    with db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                lines.append(f"{table}: {tuple(row)}")
    return "\n".join(lines)


async def test_private_tip_gets_a_receipt_and_leaves_no_trace_of_the_sender(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger at DEBUG: whatever anyone logs is captured
    wechat = await start_bot()

    receipt = await wechat.private_says(TIP)
    assert len(receipt) == 1 and "回执码" in receipt[0]
    code = re.search(r"回执码：(\S+)", receipt[0])
    assert code, receipt[0]
    progress = await wechat.private_says(f"/进度 {code.group(1)}")
    assert len(progress) == 1 and re.search(r"T\d{6}", progress[0]) and "#" not in progress[0]
    assert not wechat.fake.sent_to(ROOM), "a tip never echoes into a group"

    dump = _dump_database(wechat.db)
    assert "后沟" in dump, "the tip itself is on the ledger"
    for secret in (TIPSTER_ID, TIPSTER_NAME):
        assert secret not in dump, f"{secret} stored in the database"
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert caplog.records, "logging was captured"
    for secret in (TIPSTER_ID, TIPSTER_NAME, TIP, "偷偷开采", code.group(1)):
        assert secret not in logged, f"{secret!r} leaked into the logs"


async def test_own_non_text_and_official_account_messages_are_ignored(start_bot: StartBot) -> None:
    wechat = await start_bot()
    fake = wechat.fake
    fake.add_room(ROOM, ROOM_TOPIC)
    own_in_room = fake.push_message(from_id=BOT_ID, text=HAZARD, room_id=ROOM)
    own_private = fake.push_message(from_id=BOT_ID, text=TIP, to_id=TIPSTER_ID)
    image = fake.push_room_text(ROOM, ROOM_TOPIC, VILLAGER_ID, VILLAGER_NAME, HAZARD, message_type=6)
    fake.add_contact("gh_news_account", "临县发布", official_account=True)
    official_account_push = fake.push_message(from_id="gh_news_account", text=HAZARD, to_id=BOT_ID)
    for message_id in (own_in_room, own_private, official_account_push):
        await wechat.skipped(message_id)
    await wechat.handled(image)  # an image goes in as a photo; with no report named, it is ignored silently
    await wechat.bridge.drain()
    assert fake.sent == []
    # The bot still answers others afterwards.
    assert len(await wechat.room_says(HAZARD)) == 1


async def test_logout_alerts_the_leadership_group_on_another_platform(start_bot: StartBot) -> None:
    wechat = await start_bot()
    with wechat.db.sessions.begin() as s:
        upsert_group(s, "telegram", "-100777", title="克虎镇安全生产领导组", kind="leadership")
        upsert_group(s, "wechaty", "leaders@chatroom", title="领导组微信群", kind="leadership")

    def queued() -> list[tuple[str, str, str]]:
        with wechat.db.sessions() as s:
            return [(o.platform, o.chat_id, o.event) for o in s.scalars(select(OutboxMessage))]

    wechat.fake.logout()
    await until(lambda: bool(queued()), "an outbox notice")
    assert queued() == [("telegram", "-100777", "platform-logout")]  # not to the WeChat group it cannot reach
    assert not wechat.adapter.logged_in.is_set()
    assert wechat.fake.sent == []

    # The operator scans the QR code again: the same connection logs in and the bot answers again.
    await wechat.fake.login(BOT_ID, BOT_NAME)
    await asyncio.wait_for(wechat.adapter.logged_in.wait(), WAIT)
    assert len(await wechat.room_says(HAZARD)) == 1


async def test_sends_are_paced_with_jitter(start_bot: StartBot) -> None:
    wechat = await start_bot(min_interval=0.2, jitter=0.05)
    texts = [f"通知 {i}" for i in range(4)]
    await asyncio.gather(*(wechat.adapter.send_text(ROOM, t) for t in texts))
    sent = await wechat.fake.wait_for_sends(4)
    assert sorted(s.text for s in sent) == sorted(texts)
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
    assert all(0.19 <= g <= 0.25 + 0.1 for g in gaps), gaps


async def test_daily_cap_holds_further_sends(start_bot: StartBot) -> None:
    from bot.adapters.base import RetryLater

    wechat = await start_bot(daily_cap=1)
    await wechat.adapter.send_text(ROOM, "第一条")
    with pytest.raises(RetryLater) as held:
        await wechat.adapter.send_text(ROOM, "第二条")
    assert 0 < held.value.retry_after <= 86400
    assert [s.text for s in wechat.fake.sent] == ["第一条"]


async def test_a_dropped_stream_raises_and_the_next_run_works(start_bot: StartBot) -> None:
    first = await start_bot()
    first.fake.end_stream()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(first.task, WAIT)
    assert not first.stop.is_set()

    # What the supervisor does next: run the same adapter again (a new Wechaty in the same process).
    second = await start_bot(adapter=first.adapter)
    assert second.fake.streams_opened == 2
    replies = await second.room_says(HAZARD)
    assert len(replies) == 1 and "#" in replies[0]


async def test_the_supervisor_reconnects_after_the_stream_drops(start_bot: StartBot) -> None:
    wechat = await start_bot(supervised=True)
    wechat.fake.end_stream()
    await until(lambda: not wechat.adapter.logged_in.is_set(), "the adapter noticing the drop")
    await wechat.fake.login(BOT_ID, BOT_NAME, timeout=WAIT)  # after the supervisor's 1 s back-off
    await asyncio.wait_for(wechat.adapter.logged_in.wait(), WAIT)
    assert wechat.fake.streams_opened == 2
    assert len(await wechat.room_says(HAZARD)) == 1
    assert not wechat.task.done()


async def test_stop_answers_messages_already_received_before_closing(start_bot: StartBot) -> None:
    wechat = await start_bot(min_interval=0.3)
    await wechat.adapter.send_text(ROOM, "预热")  # the pacer now holds the next send for 0.3 s
    message_id = wechat.fake.push_room_text(ROOM, ROOM_TOPIC, VILLAGER_ID, VILLAGER_NAME, HAZARD)
    await until(lambda: message_id in wechat.translated, "the message reaching the core")
    wechat.stop.set()
    await asyncio.wait_for(wechat.task, WAIT)
    room = wechat.fake.sent_to(ROOM)
    assert len(room) == 2 and "#" in room[1]
    assert wechat.fake.calls[-1] == "Stop"


# --- quote-replies ---------------------------------------------------------------------------------------------

UNSURE = (
    # the classifier is not sure (the bundled model scores it between its review and auto-file thresholds):
    # it goes to the officials' review queue, no answer
    "后山那块石头好像有点悬"
)


async def test_an_official_files_a_quoted_room_message_with_a_reply_of_登记(start_bot: StartBot) -> None:
    wechat = await start_bot()
    with wechat.db.sessions.begin() as s:
        add_official(s, "wechaty", OFFICIAL_ID, OFFICIAL_NAME, role="admin")
    assert await wechat.room_says(UNSURE) == []

    async def official_quotes(quoted_name: str, quoted_text: str, typed: str = "/登记") -> list[str]:
        before = len(wechat.fake.sent_to(ROOM))
        message_id = wechat.fake.push_room_quote(
            ROOM, ROOM_TOPIC, OFFICIAL_ID, OFFICIAL_NAME, quoted_name, quoted_text, typed
        )
        await wechat.handled(message_id)
        return wechat.fake.sent_to(ROOM)[before:]

    filed = await official_quotes(VILLAGER_NAME, UNSURE)
    assert len(filed) == 1 and "#" in filed[0] and VILLAGER_NAME in filed[0], filed
    rid = _report_id(filed[0])
    with wechat.db.sessions() as s:
        report = get_report(s, rid)
        assert report is not None
        assert (report.reporter_id, report.text) == (VILLAGER_ID, UNSURE), (
            "filed for the villager, not the official"
        )

    # The room nickname may differ from the contact name: the quoted text still finds the message.
    again = await official_quotes("老王（村东头）", UNSURE)
    assert len(again) == 1 and f"#{rid}" in again[0] and "不用重复登记" in again[0]

    # A message the bot never saw (sent before it joined, or before a restart) is not guessed at.
    unknown = await official_quotes(VILLAGER_NAME, "前天说的那个水渠")
    assert len(unknown) == 1 and "#" not in unknown[0]
    with wechat.db.sessions() as s:
        assert get_report(s, rid + 1) is None


async def test_quoting_a_hazard_to_comment_on_it_files_nothing_new(start_bot: StartBot) -> None:
    wechat = await start_bot()
    rid = _report_id((await wechat.room_says(HAZARD))[0])
    message_id = wechat.fake.push_room_quote(
        ROOM, ROOM_TOPIC, "wxid_neighbour", "李婶", VILLAGER_NAME, HAZARD, "我也看到了"
    )
    await wechat.handled(message_id)
    incoming = wechat.translated[message_id]
    assert incoming is not None and incoming.text == "我也看到了"
    assert incoming.reply_to is not None and incoming.reply_to.sender_id == VILLAGER_ID
    assert len(wechat.fake.sent) == 1, "no answer to the comment"
    with wechat.db.sessions() as s:
        assert get_report(s, rid + 1) is None


# --- TLS to the gateway ---------------------------------------------------------------------------------------


async def test_over_tls_a_hazard_and_a_tip_round_trip_with_every_call_encrypted(
    start_bot: StartBot, pki: GatewayPKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def from_settings(endpoint: str) -> WechatyAdapter:
        # What an operator configures: the gateway's CA file and the name in its certificate.
        return WechatyAdapter.from_settings(
            Settings(
                data_dir=tmp_path,
                wechaty_endpoint=endpoint,
                wechaty_token=TOKEN,
                wechaty_tls_ca=pki.ca_cert,
                wechaty_tls_server_name=pki.server_name,
                wechaty_min_interval=0,
                wechaty_jitter=0,
            )
        )

    started = time.perf_counter()
    wechat = await start_bot(serve_tls=pki, make_adapter=from_settings)
    login_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    replies = await wechat.room_says(HAZARD)
    round_trip_ms = (time.perf_counter() - started) * 1000
    assert len(replies) == 1 and "#" in replies[0]
    receipt = await wechat.private_says(TIP)
    assert len(receipt) == 1 and "回执码" in receipt[0]

    seen = wechat.fake.requests_seen
    assert seen and all(over_tls for _, over_tls in seen), "every gRPC call came over TLS"
    assert {authorization for authorization, _ in seen} == {f"Wechaty {TOKEN}"}
    assert TOKEN not in caplog.text, "the token never reaches a log"
    print(f"TLS: login {login_ms:.0f} ms, room message to reply {round_trip_ms:.0f} ms")


@pytest.fixture
async def tls_gateway(pki: GatewayPKI) -> AsyncIterator[FakePuppetService]:
    """The fake gateway over TLS, with a room message already waiting for whoever connects."""
    fake = FakePuppetService()
    await fake.start(ssl=pki.server_context())
    fake.push_room_text(ROOM, ROOM_TOPIC, VILLAGER_ID, VILLAGER_NAME, HAZARD)
    yield fake
    await fake.close()


@pytest.fixture
def bridge(
    sqlite_database: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock
) -> RecordingBridge:
    """The real core behind a bridge that notes what it handled."""
    return RecordingBridge(Router(make_core(sqlite_database, classifier, texts, profile, clock)))


async def _run_until_refused(adapter: WechatyAdapter, bridge: RecordingBridge) -> BaseException:
    with pytest.raises(ConnectionError) as refused:
        await asyncio.wait_for(adapter.run(bridge, asyncio.Event()), WAIT)
    await bridge.drain()
    return refused.value


async def test_a_wrong_ca_stops_the_adapter_with_a_clear_error_and_nothing_is_handled(
    tls_gateway: FakePuppetService,
    tmp_path: Path,
    bridge: RecordingBridge,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = make_test_pki(tmp_path / "other", prefix="other-")  # a CA that did not sign the gateway's cert
    adapter = WechatyAdapter(
        tls_gateway.endpoint,
        TOKEN,
        data_dir=tmp_path,
        tls=GatewayTLS(other.ca_cert, "wechaty-gateway.test"),
    )
    error = await _run_until_refused(adapter, bridge)
    assert isinstance(error, GatewayTLSError)
    assert "证书校验失败" in str(error) and "ANQUAN_WECHATY_TLS_CA" in str(error)
    assert any("证书校验失败" in str(r.__dict__.get("hint", "")) for r in caplog.records), (
        "explained in the log"
    )
    assert tls_gateway.requests_seen == [] and tls_gateway.calls == [], "no gRPC call reached the gateway"
    assert bridge.handled == [] and tls_gateway.sent == []


async def test_a_certificate_for_another_name_is_refused_and_the_error_names_the_server_name_setting(
    tls_gateway: FakePuppetService,
    tmp_path: Path,
    bridge: RecordingBridge,
    pki: GatewayPKI,
) -> None:
    adapter = WechatyAdapter(tls_gateway.endpoint, TOKEN, data_dir=tmp_path, tls=GatewayTLS(pki.ca_cert))
    error = await _run_until_refused(adapter, bridge)
    assert isinstance(error, GatewayTLSError)
    assert "ANQUAN_WECHATY_TLS_SERVER_NAME" in str(error) and "127.0.0.1" in str(error)
    assert tls_gateway.calls == [] and bridge.handled == []


async def test_tls_to_a_gateway_without_tls_fails_with_a_clear_error(
    tmp_path: Path,
    bridge: RecordingBridge,
    pki: GatewayPKI,
) -> None:
    plain = FakePuppetService()
    await plain.start()
    try:
        adapter = WechatyAdapter(
            plain.endpoint, TOKEN, data_dir=tmp_path, tls=GatewayTLS(pki.ca_cert, pki.server_name)
        )
        error = await _run_until_refused(adapter, bridge)
    finally:
        await plain.close()
    assert isinstance(error, GatewayTLSError) and "TLS" in str(error)
    assert plain.calls == [] and bridge.handled == []


async def test_a_private_image_joins_the_tip_and_reaches_an_admin_as_a_file_without_metadata(
    start_bot: StartBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import io

    from PIL import ExifTags, Image

    from storage.models import Attachment

    caplog.set_level(logging.DEBUG)
    wechat = await start_bot()
    wechat.bridge.dispatcher.core.data_dir = tmp_path / "data"
    with wechat.db.sessions.begin() as s:
        add_official(s, "wechaty", OFFICIAL_ID, OFFICIAL_NAME, role="admin")
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = "2026:06:09 17:42:05"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[2] = (38.0, 1.0, 12.5)
    raw = io.BytesIO()
    Image.new("RGB", (64, 48), (150, 90, 20)).save(raw, "JPEG", exif=exif.tobytes())

    image_id = wechat.fake.push_image(TIPSTER_ID, TIPSTER_NAME, raw.getvalue())
    await wechat.handled(image_id)
    assert "暂存" in wechat.fake.sent_to(TIPSTER_ID)[-1]
    receipt = await wechat.private_says(TIP)
    assert "回执码" in receipt[0] and "已附照片 1 张" in receipt[0]
    with wechat.db.sessions() as s:
        [row] = s.query(Attachment).all()
        assert row.tip_id is not None and row.added_by is None and row.report_id is None
        tip_id = row.tip_id

    before = len(wechat.fake.sent_to(OFFICIAL_ID))
    message_id = wechat.fake.push_private_text(OFFICIAL_ID, OFFICIAL_NAME, f"/照片 T{tip_id}")
    await wechat.handled(message_id)
    [(conversation, name, data)] = await wechat.fake.wait_for_files(1)
    assert conversation == OFFICIAL_ID and name.endswith(".jpg")
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and dict(img.getexif()) == {} and b"HUAWEI" not in data
    assert f"T{tip_id} 的照片 1 张" in wechat.fake.sent_to(OFFICIAL_ID)[before]
    for secret in (TIPSTER_ID, TIPSTER_NAME):
        assert secret not in caplog.text


async def test_a_room_image_followed_by_its_report_number_joins_that_report(
    start_bot: StartBot, tmp_path: Path
) -> None:
    import io

    from PIL import Image

    from storage.models import Attachment

    wechat = await start_bot()
    wechat.bridge.dispatcher.core.data_dir = tmp_path / "data"
    report_id = _report_id((await wechat.room_says(HAZARD))[0])
    raw = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 140, 60)).save(raw, "JPEG")
    image_id = wechat.fake.push_image(
        VILLAGER_ID, VILLAGER_NAME, raw.getvalue(), room_id=ROOM, topic=ROOM_TOPIC
    )
    await wechat.handled(image_id)
    assert len(wechat.fake.sent_to(ROOM)) == 1  # a photo alone gets no answer: it waits for its words
    answer = await wechat.room_says(f"#{report_id} 就是这孔窑洞")
    assert len(answer) == 1 and f"#{report_id}" in answer[0] and "整改前" in answer[0]
    with wechat.db.sessions() as s:
        [row] = s.query(Attachment).all()
        assert (row.report_id, row.role, row.added_by) == (
            report_id,
            "before",
            f"villager(wechaty:{VILLAGER_ID})",
        )
