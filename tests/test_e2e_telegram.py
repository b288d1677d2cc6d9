"""End to end over the Bot API wire: the real PTB client, a fake Bot API server on loopback, the real core.

Most tests run the adapter in this process on the ``sqlite_database`` fixture; the last one launches a real
``anquan run`` process pointed at the fake server and drives it from outside, then stops it with SIGTERM.
Nothing sleeps for a fixed time: every wait is on a condition, with a timeout.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.telegram import RetryPolicy, SendLimiter, TelegramAdapter
from bot.app import Database
from bot.bridge import Bridge
from handlers.classifier import Classifier
from handlers.profile import Profile
from handlers.router import Router
from handlers.texts import Texts
from storage import groups as group_repo
from storage.models import Report, Tip
from storage.officials import add_official
from tests.conftest import Clock, make_core
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    SentMessage,
    group_chat,
    my_chat_member_update,
    private_chat,
    text_update,
    user,
)

VILLAGE_GROUP = group_chat(-4128856402, "王家沟村安全生产群")
STATION_GROUP = group_chat(-1002231459876, "克虎镇应急管理站工作群", supergroup=True)
VILLAGER = user(5318862197, "建军", "王")
OFFICIAL = user(6120334580, "秀英", "李")
WHISTLEBLOWER = user(7034418823, "匿名", None)

HAZARD = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
TIP = "举报 后沟那个煤窑晚上偷偷开采，别说是我说的"
REPORT_ID = re.compile(r"#(\d+)")
RECEIPT = re.compile(r"回执码：(\S+)")


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` (sync or in a worker thread when it touches the database) until it returns truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@dataclass
class Harness:
    """A running adapter + core against the fake Bot API."""

    api: FakeTelegramAPI
    adapter: TelegramAdapter
    bridge: Bridge
    db: Database
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the adapter until its first long poll is open."""
        self.stop = asyncio.Event()
        polls = len([c for c in self.api.calls if c.method == "getupdates"])
        self.task = asyncio.create_task(self.adapter.run(self.bridge, self.stop))
        await self.api.wait_for(
            lambda: len([c for c in self.api.calls if c.method == "getupdates"]) > polls or self.task.done(),
            timeout=10,
        )
        if self.task.done():
            self.task.result()

    async def halt(self) -> None:
        """Stop the adapter as the app does on SIGTERM."""
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 15)
            self.task = None

    async def say(
        self, chat: dict[str, Any], sender: dict[str, Any], text: str
    ) -> tuple[int, dict[str, Any]]:
        """Push a text message; returns its message id and the update."""
        update = text_update(chat, sender, text)
        self.api.push_update(update)
        return update["message"]["message_id"], update

    async def reply_to(self, message_id: int, timeout: float = 10.0) -> SentMessage:
        """Wait for the bot's reply quoting ``message_id``."""
        await self.api.wait_for(
            lambda: any(s.reply_to_message_id == message_id for s in self.api.sent), timeout
        )
        return next(s for s in self.api.sent if s.reply_to_message_id == message_id)

    async def next_send(self, chat_id: int, after: int, timeout: float = 10.0) -> SentMessage:
        """Wait for the first message to ``chat_id`` after the first ``after`` sends."""

        def found() -> bool:
            return any(s.chat_id == str(chat_id) for s in self.api.sent[after:])

        await self.api.wait_for(found, timeout)
        return next(s for s in self.api.sent[after:] if s.chat_id == str(chat_id))

    def report(self, report_id: int) -> Report | None:
        """Read a report from the database."""
        with self.db.sessions() as session:
            report = session.get(Report, report_id)
            if report is not None:
                session.expunge(report)
            return report

    def reports(self) -> list[Report]:
        """All reports."""
        with self.db.sessions() as session:
            rows = list(session.query(Report).order_by(Report.id))
            session.expunge_all()
            return rows

    def group_active(self, chat_id: int) -> bool | None:
        """Whether the bot still counts this group as active (None: unknown group)."""
        with self.db.sessions() as session:
            group = group_repo.get_group(session, "telegram", str(chat_id))
            return None if group is None else group.active


@pytest.fixture
async def tg(
    sqlite_database: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock
) -> AsyncIterator[Harness]:
    """The core on a fresh SQLite database behind the Telegram adapter, polling a fake Bot API."""
    with sqlite_database.sessions.begin() as session:
        add_official(session, "telegram", str(OFFICIAL["id"]), "李秀英")
    bridge = Bridge(*Router(make_core(sqlite_database, classifier, texts, profile, clock)).parts)
    async with FakeTelegramAPI() as api:
        adapter = TelegramAdapter(
            api.token,
            base_url=api.base_url,
            poll_timeout=2.0,
            limiter=SendLimiter(chat_interval=0.05),
            retry=RetryPolicy(base_delay=0.05, max_seconds=20.0),
        )
        harness = Harness(api, adapter, bridge, sqlite_database, asyncio.Event())
        await harness.start()
        try:
            yield harness
        finally:
            await harness.halt()


# --- in-process scenarios -------------------------------------------------------------------------------


async def test_start_sets_command_menu(tg: Harness) -> None:
    commands = {c["command"]: c["description"] for c in tg.api.commands}
    assert {"done", "progress", "help"} <= set(commands)
    assert all(d for d in commands.values())
    polls = [c for c in tg.api.calls if c.method == "getupdates"]
    assert '"my_chat_member"' in polls[-1].params["allowed_updates"]


async def test_group_hazard_then_close_by_villager_and_official(tg: Harness) -> None:
    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    filed = await tg.reply_to(mid)
    assert filed.chat_id == str(VILLAGE_GROUP["id"])
    assert filed.allow_sending_without_reply
    report_id = int(REPORT_ID.search(filed.text).group(1))  # type: ignore[union-attr]
    report = tg.report(report_id)
    assert report is not None and report.status == "reported" and report.village == "王家沟村"

    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, f"/整改完成 {report_id} 已加固")
    refused = await tg.reply_to(mid)
    assert "/整改完成" in refused.text and f"#{report_id}" not in refused.text
    assert tg.report(report_id).status == "reported"  # type: ignore[union-attr]

    mid, _ = await tg.say(VILLAGE_GROUP, OFFICIAL, f"/整改完成 {report_id} 已加固")
    done = await tg.reply_to(mid)
    assert f"#{report_id}" in done.text
    assert tg.report(report_id).status == "rectified"  # type: ignore[union-attr]


async def test_leaked_binding_code_is_voided_and_a_village_official_stays_in_their_village(
    tg: Harness,
) -> None:
    """Over the wire: a code pasted in a group dies there; a fresh code binds a village official who is then
    refused on another village's hazard and nothing changes."""
    from storage.officials import create_binding_code, format_binding_code

    secret = tg.bridge.dispatcher.core.secret
    with tg.db.sessions.begin() as session:
        leaked, _ = create_binding_code(session, secret, "赵主任", "village", "庙坪村")
        fresh, _ = create_binding_code(session, secret, "赵主任", "village", "庙坪村")
    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, f"赵主任的码：{format_binding_code(leaked)}")
    assert "已作废" in (await tg.reply_to(mid)).text
    before = len(tg.api.sent)
    await tg.say(private_chat(VILLAGER), VILLAGER, f"/bind {leaked}")
    assert "绑定码无效" in (await tg.next_send(VILLAGER["id"], before)).text

    zhao = user(6500000001, "主任", "赵")
    before = len(tg.api.sent)
    await tg.say(private_chat(zhao), zhao, f"/bind {fresh}")
    assert "绑定成功" in (await tg.next_send(zhao["id"], before)).text

    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    report_id = int(REPORT_ID.search((await tg.reply_to(mid)).text).group(1))  # type: ignore[union-attr]
    mid, _ = await tg.say(VILLAGE_GROUP, zhao, f"/done {report_id}")
    assert "只能处理本村的隐患" in (await tg.reply_to(mid)).text
    assert tg.report(report_id).status == "reported"  # type: ignore[union-attr]


async def test_the_ledger_workflow_over_the_wire(tg: Harness) -> None:
    """Assign, measures, 五落实, rectified, a failed and a passed acceptance, each refusal, over the Bot API."""
    with tg.db.sessions.begin() as session:
        add_official(session, "telegram", "6500000002", "张站长", "station", "应急管理站")
        add_official(session, "telegram", "6500000003", "王书记", "village", "王家沟村")
    zhang, wang = user(6500000002, "站长", "张"), user(6500000003, "书记", "王")

    async def ask(who: dict[str, Any], text: str) -> str:
        before = len(tg.api.sent)
        await tg.say(private_chat(who), who, text)
        return (await tg.next_send(who["id"], before)).text

    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, "王家沟村后山煤窑巷道顶板掉渣，裂缝越来越大，随时会塌")
    rid = int(REPORT_ID.search((await tg.reply_to(mid)).text).group(1))  # type: ignore[union-attr]
    with tg.db.sessions.begin() as session:
        session.get(Report, rid).severity = "major"  # type: ignore[union-attr]

    assert "只有镇安全办或站所干部" in await ask(wang, f"/assign {rid} 克虎煤业")
    assert "克虎煤业" in await ask(zhang, f"/assign {rid} 克虎煤业 赵矿长")
    assert "锚杆" in await ask(wang, f"/measures {rid} 停产撤人，打锚杆")
    for word in ("目标", "经费", "人员", "时限", "预案"):
        await ask(wang, f"/five {rid} {word} 已落实")
    assert "已整改" in await ask(wang, f"/done {rid} 支护完成")
    assert "另一名干部" not in await ask(zhang, f"/accept {rid} 不合格 锚杆间距超标")
    assert tg.report(rid).status == "rectifying"  # type: ignore[union-attr]
    await ask(wang, f"/done {rid} 补打锚杆")
    assert "已销号" in await ask(zhang, f"/accept {rid} 合格")
    card = await ask(zhang, f"/status {rid}")
    assert "累计不合格 1 次" in card and "克虎煤业 赵矿长" in card
    assert tg.report(rid).status == "closed"  # type: ignore[union-attr]


async def test_a_tip_thread_and_its_reward_over_the_wire(tg: Harness) -> None:
    """Ask, /progress shows the question, an answer inside the window, the official's card, verify, claim."""
    with tg.db.sessions.begin() as session:
        add_official(session, "telegram", "6500000004", "刘主任", "admin", "应急管理站")
    admin = user(6500000004, "主任", "刘")

    async def ask(who: dict[str, Any], text: str) -> str:
        before = len(tg.api.sent)
        await tg.say(private_chat(who), who, text)
        return (await tg.next_send(who["id"], before)).text

    receipt = await ask(WHISTLEBLOWER, TIP)
    code = RECEIPT.search(receipt).group(1)  # type: ignore[union-attr]
    number = re.search(r"T\d{6}", receipt).group(0)  # type: ignore[union-attr]
    assert "追问" in await ask(admin, f"/ask {number} 具体在后沟哪个位置？")
    progress = await ask(WHISTLEBLOWER, f"/progress {code}")
    assert "1. 具体在后沟哪个位置？" in progress
    assert "已补充到您的举报" in await ask(WHISTLEBLOWER, "第三个岔口往里")
    card = await ask(admin, f"/status {number}")
    assert "（已读）" in card and "举报人 答：第三个岔口往里" in card
    assert "奖励 ¥30,000" in await ask(admin, f"/verify {number} 违法行为 20万")
    assert "身份证件" in await ask(WHISTLEBLOWER, f"/claim {code}")
    sent_to_tipster = [s.text for s in tg.api.sent if s.chat_id == str(WHISTLEBLOWER["id"])]
    assert len(sent_to_tipster) == 4  # only answers to what the tipster wrote: nothing is ever pushed


async def test_ascii_alias_with_bot_name_from_supergroup(tg: Harness) -> None:
    mid, _ = await tg.say(STATION_GROUP, VILLAGER, "克虎镇加油站后面的液化气罐漏气了，味道很大")
    filed = await tg.reply_to(mid)
    report_id = int(REPORT_ID.search(filed.text).group(1))  # type: ignore[union-attr]
    mid, _ = await tg.say(STATION_GROUP, OFFICIAL, f"/done@anquan_test_bot {report_id}")
    done = await tg.reply_to(mid)
    assert f"#{report_id}" in done.text
    assert tg.report(report_id).status == "rectified"  # type: ignore[union-attr]


async def test_chatter_gets_no_reply(tg: Harness) -> None:
    chatter_ids = [
        (await tg.say(VILLAGE_GROUP, VILLAGER, text))[0] for text in ("收到", "明天几点开会", "热炸了")
    ]
    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    await tg.reply_to(mid)
    await tg.bridge.drain()  # everything received before the hazard has been handled by now
    assert len(tg.api.sent) == 1
    assert not any(s.reply_to_message_id in chatter_ids for s in tg.api.sent)


async def test_private_tip_receipt_then_progress(tg: Harness) -> None:
    chat = private_chat(WHISTLEBLOWER)
    await tg.say(chat, WHISTLEBLOWER, TIP)
    receipt = await tg.next_send(WHISTLEBLOWER["id"], 0)
    assert "回执码" in receipt.text
    assert receipt.reply_to_message_id is None  # private replies do not quote
    code = RECEIPT.search(receipt.text).group(1)  # type: ignore[union-attr]
    tip_id = int(re.search(r"T(\d{6})", receipt.text).group(1))  # type: ignore[union-attr]
    with tg.db.sessions() as session:
        tip = session.get(Tip, tip_id)
        assert tip is not None and tip.kind == "tip"
        assert session.get(Report, tip_id) is None  # tips live in their own store
    assert "#" not in receipt.text  # no group-report number is spent on a tip

    await tg.say(chat, WHISTLEBLOWER, f"/进度 {code}")
    status = await tg.next_send(WHISTLEBLOWER["id"], 1)
    assert f"T{tip_id}" in status.text and "待核实" in status.text


async def test_same_update_delivered_twice_files_one_report(tg: Harness) -> None:
    mid, update = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    await tg.reply_to(mid)
    # The bot restarts before the offset reached Telegram: the very same update comes again.
    await tg.halt()
    tg.api.push_update(update | {"update_id": tg.api.served_update_ids[-1]})
    await tg.start()
    await tg.api.wait_until_confirmed(tg.api.served_update_ids[-1])
    await tg.halt()  # processes and answers everything received
    assert tg.api.served_update_ids.count(tg.api.served_update_ids[-1]) == 2
    assert len(tg.reports()) == 1
    assert len(tg.api.sent) == 1


async def test_429_and_502_on_send_still_reply_exactly_once(tg: Harness) -> None:
    tg.api.fail_sends(1, 429, retry_after=1)
    tg.api.fail_sends(2, 502)
    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    reply = await tg.reply_to(mid, timeout=15)
    assert "#" in reply.text
    sends = [c for c in tg.api.calls if c.method == "sendmessage"]
    assert [c.status for c in sends] == [429, 502, 502, 200]
    assert sends[1].t - sends[0].t >= 1.0  # retry_after honoured
    await tg.bridge.drain()
    assert len(tg.api.sent) == 1


async def test_429_pauses_other_chats_too(tg: Harness) -> None:
    tg.api.fail_sends(1, 429, retry_after=1, chat_id=str(VILLAGE_GROUP["id"]))
    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    await tg.api.wait_for(lambda: any(c.status == 429 for c in tg.api.calls))
    blocked_at = next(c.t for c in tg.api.calls if c.status == 429)
    await tg.say(private_chat(WHISTLEBLOWER), WHISTLEBLOWER, TIP)
    receipt = await tg.next_send(WHISTLEBLOWER["id"], 0, timeout=15)
    assert receipt.t - blocked_at >= 1.0
    await tg.reply_to(mid)


async def test_bot_kicked_marks_group_inactive(tg: Harness) -> None:
    bot = tg.api.bot_user
    tg.api.push_update(my_chat_member_update(VILLAGE_GROUP, VILLAGER, bot, "left", "member"))
    await eventually(lambda: tg.group_active(VILLAGE_GROUP["id"]) is True)
    tg.api.push_update(my_chat_member_update(VILLAGE_GROUP, VILLAGER, bot, "member", "kicked"))
    await eventually(lambda: tg.group_active(VILLAGE_GROUP["id"]) is False)


async def test_403_on_send_marks_group_inactive(tg: Harness) -> None:
    tg.api.forbid_chat(VILLAGE_GROUP["id"])
    await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    await tg.api.wait_for(lambda: any(c.status == 403 for c in tg.api.calls))
    await eventually(lambda: tg.group_active(VILLAGE_GROUP["id"]) is False)
    assert len([c for c in tg.api.calls if c.method == "sendmessage"]) == 1  # 403 is not retried
    assert tg.api.sent == []


async def test_group_upgraded_to_supergroup_keeps_its_replies_and_pushes(tg: Harness) -> None:
    from storage.groups import get_group
    from storage.outbox import enqueue, list_outbox

    old_id, new_id = str(VILLAGE_GROUP["id"]), -1009999999
    await tg.say(VILLAGE_GROUP, VILLAGER, "收到")
    await eventually(
        lambda: tg.group_active(VILLAGE_GROUP["id"]) is True
    )  # the group is known (and committed)
    with tg.db.sessions.begin() as s:
        enqueue(s, dedup_key="queued-before", event="t", platform="telegram", chat_id=old_id, text="推送")
    tg.api.migrate_chat(VILLAGE_GROUP["id"], new_id)
    await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    await tg.api.wait_for(lambda: bool(tg.api.sent_to(new_id)))
    assert "已登记隐患 #" in tg.api.sent_to(new_id)[0].text
    await eventually(lambda: tg.group_active(new_id) is True)
    with tg.db.sessions() as s:
        assert get_group(s, "telegram", old_id) is None
        assert [r.chat_id for r in list_outbox(s)] == [str(new_id)]
    await tg.adapter.send_text(old_id, "另一条推送")  # a push addressed before the change still arrives
    assert tg.api.sent_to(new_id)[-1].text == "另一条推送"


async def test_long_reply_is_split(tg: Harness) -> None:
    from handlers.messages import Reply

    await tg.adapter.deliver(Reply(str(STATION_GROUP["id"]), "行\n" * 3000, "77"))
    assert [len(s.text) for s in tg.api.sent] == [4095, 1904]  # cut at the last line break
    assert tg.api.sent[0].reply_to_message_id == 77 and tg.api.sent[1].reply_to_message_id is None


# --- a real `anquan run` process, driven from outside --------------------------------------------------------


def _anquan() -> str:
    return str(Path(sys.executable).with_name("anquan"))


async def _run_cli(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        _anquan(), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_anquan_run_process_scenario_and_clean_sigterm(tmp_path: Path) -> None:
    async with FakeTelegramAPI() as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANQUAN_")}
        env.update(
            ANQUAN_PLATFORMS="telegram",
            ANQUAN_TELEGRAM_TOKEN=api.token,
            ANQUAN_TELEGRAM_BASE_URL=api.base_url,
            ANQUAN_DATA_DIR=str(tmp_path),
            ANQUAN_LOG_LEVEL="INFO",
        )
        await _run_cli(
            env,
            "officials",
            "add",
            "--platform",
            "telegram",
            "--user-id",
            str(OFFICIAL["id"]),
            "--name",
            "李秀英",
            "--role",
            "station",
        )
        proc = await asyncio.create_subprocess_exec(
            _anquan(), "run", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            await api.wait_for(lambda: any(c.method == "getupdates" for c in api.calls), timeout=30)
            assert any(c["command"] == "done" for c in api.commands)

            def say(chat: dict[str, Any], sender: dict[str, Any], text: str) -> int:
                update = text_update(chat, sender, text)
                api.push_update(update)
                return int(update["message"]["message_id"])

            async def reply_to(mid: int) -> SentMessage:
                await api.wait_for(lambda: any(s.reply_to_message_id == mid for s in api.sent), timeout=15)
                return next(s for s in api.sent if s.reply_to_message_id == mid)

            chatter = say(VILLAGE_GROUP, VILLAGER, "收到")
            filed = await reply_to(say(VILLAGE_GROUP, VILLAGER, HAZARD))
            report_id = int(REPORT_ID.search(filed.text).group(1))  # type: ignore[union-attr]

            refused = await reply_to(say(VILLAGE_GROUP, VILLAGER, f"/整改完成 {report_id}"))
            assert f"#{report_id}" not in refused.text
            done = await reply_to(say(VILLAGE_GROUP, OFFICIAL, f"/整改完成 {report_id} 已加固"))
            assert f"#{report_id}" in done.text

            dm = private_chat(WHISTLEBLOWER)
            say(dm, WHISTLEBLOWER, TIP)
            await api.wait_for(lambda: len(api.sent_to(WHISTLEBLOWER["id"])) == 1, timeout=15)
            code = RECEIPT.search(api.sent_to(WHISTLEBLOWER["id"])[0].text).group(1)  # type: ignore[union-attr]
            say(dm, WHISTLEBLOWER, f"/进度 {code}")
            await api.wait_for(lambda: len(api.sent_to(WHISTLEBLOWER["id"])) == 2, timeout=15)
            assert "待核实" in api.sent_to(WHISTLEBLOWER["id"])[1].text

            # A message arrives; its first send attempt fails, and SIGTERM comes while the retry is pending.
            api.fail_sends(1, 502)
            attempts = len([c for c in api.calls if c.method == "sendmessage"])
            last = say(STATION_GROUP, VILLAGER, "克虎镇加油站后面的液化气罐漏气了，味道很大")
            await api.wait_for(
                lambda: len([c for c in api.calls if c.method == "sendmessage"]) > attempts, timeout=15
            )
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        stderr = err.decode()
        assert proc.returncode == 0, stderr
        final = [s for s in api.sent if s.reply_to_message_id == last]
        assert len(final) == 1 and "#" in final[0].text
        assert not any(s.reply_to_message_id == chatter for s in api.sent)
        assert api.limit_violations == []
        # Logs never carry message text, the token, or the whistleblower's id.
        for secret in ("窑洞", "煤窑", api.token, str(WHISTLEBLOWER["id"])):
            assert secret not in stderr
        # The last updates were confirmed on the way out: a restart would not see them again.
        assert api.updates == []


async def test_push_with_a_chart_arrives_as_photo_then_text(tg: Harness) -> None:
    from bot.delivery import DeliveryLoop
    from storage.outbox import enqueue

    png = b"\x89PNG\r\n\x1a\n" + b"0" * 200
    chat = str(STATION_GROUP["id"])
    with tg.db.sessions.begin() as s:
        enqueue(
            s,
            dedup_key="report",
            event="monthly_progress_report",
            platform="telegram",
            chat_id=chat,
            text="月报",
            image=png,
        )
    assert await DeliveryLoop(tg.db.sessions, tg.adapter).drain_once() == 1
    assert [(c, p) for _, c, p in tg.api.photos] == [(chat, png)]
    assert tg.api.sent_to(chat)[-1].text == "月报"


async def test_ledger_command_sends_an_xlsx_document(tg: Harness) -> None:
    """An official's /台账 in private arrives as an .xlsx document that opens; in a group it is refused."""
    import io

    from openpyxl import load_workbook

    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    rid = int(REPORT_ID.search((await tg.reply_to(mid)).text).group(1))  # type: ignore[union-attr]
    before = len(tg.api.sent)
    await tg.say(private_chat(OFFICIAL), OFFICIAL, "/台账")
    assert "共 1 条" in (await tg.next_send(OFFICIAL["id"], before)).text
    await tg.api.wait_for(lambda: len(tg.api.documents) == 1)
    _, chat, name, data = tg.api.documents[0]
    assert chat == str(OFFICIAL["id"]) and name.endswith(".xlsx") and "隐患台账" in name
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["隐患台账", "重大隐患"]
    rows = list(wb["隐患台账"].iter_rows(min_row=3, values_only=True))
    assert [(r[1], r[2]) for r in rows] == [(f"#{rid}", "王家沟村")]
    assert rows[0][4] == "群报"

    mid, _ = await tg.say(VILLAGE_GROUP, OFFICIAL, "/ledger")
    assert "私聊" in (await tg.reply_to(mid)).text
    assert len(tg.api.documents) == 1  # nothing was sent into the group


# --- photo evidence over the wire ---------------------------------------------------------------------------


def _phone_jpeg(color: tuple[int, int, int] = (170, 60, 30)) -> bytes:
    """A phone JPEG with a capture time and a GPS position."""
    import io

    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = "2026:06:09 17:42:05"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2] = "N", (38.0, 1.0, 12.5)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _attachments(tg: Harness) -> list[tuple[int | None, int | None, str, str | None]]:
    from storage.models import Attachment

    with tg.db.sessions() as session:
        return [(a.report_id, a.tip_id, a.role, a.added_by) for a in session.query(Attachment).all()]


async def _file_hazard(tg: Harness) -> tuple[int, SentMessage]:
    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)
    card = await tg.reply_to(mid)
    return int(REPORT_ID.search(card.text).group(1)), card  # type: ignore[union-attr]


async def _send_photo(tg: Harness, chat: dict[str, Any], sender: dict[str, Any], **kwargs: Any) -> int:
    from tests.fakes.telegram_api import photo_update

    big = tg.api.add_file(b"\xff" * 64, file_size=6 * 1024 * 1024)  # a version over the 5 MB cap
    big.update(width=4000, height=3000)
    fitting = tg.api.add_file(kwargs.pop("data", None) or _phone_jpeg())
    update = photo_update(chat, sender, [fitting, big], **kwargs)
    tg.api.push_update(update)
    return int(update["message"]["message_id"])


async def test_a_photo_with_a_report_number_is_kept_before_rectification_without_gps(
    tg: Harness, tmp_path: Path
) -> None:
    tg.bridge.dispatcher.core.data_dir = tmp_path
    report_id, _ = await _file_hazard(tg)
    mid = await _send_photo(tg, VILLAGE_GROUP, VILLAGER, caption=f"#{report_id} 就是这孔")
    reply = await tg.reply_to(mid)
    assert f"#{report_id}" in reply.text and "整改前" in reply.text
    assert tg.api.downloads == ["photos/file_2.jpg"]  # the largest version within the cap, not the 6 MB one
    assert _attachments(tg) == [(report_id, None, "before", f"villager(telegram:{VILLAGER['id']})")]
    [stored] = list((tmp_path / "photos").rglob("*.jpg"))
    assert b"HUAWEI" not in stored.read_bytes() and b"2026:06:09 17:42:05" in stored.read_bytes()

    # A reply to the bot's card works the same way, without any caption.
    card = next(s for s in tg.api.sent if s.text.startswith("已登记") or f"#{report_id}" in s.text)
    quoted = {
        "message_id": card.message_id,
        "from": tg.api.bot_user,
        "chat": VILLAGE_GROUP,
        "date": int(time.time()),
        "text": card.text,
    }
    mid = await _send_photo(tg, VILLAGE_GROUP, VILLAGER, data=_phone_jpeg((10, 200, 10)), reply_to=quoted)
    assert "整改前共 2 张" in (await tg.reply_to(mid)).text


async def test_a_rectified_caption_attaches_after_and_rectifies_and_photos_go_to_the_official_in_private(
    tg: Harness, tmp_path: Path
) -> None:
    tg.bridge.dispatcher.core.data_dir = tmp_path
    report_id, _ = await _file_hazard(tg)
    await tg.reply_to(await _send_photo(tg, VILLAGE_GROUP, VILLAGER, caption=f"#{report_id}"))
    mid = await _send_photo(
        tg, VILLAGE_GROUP, OFFICIAL, data=_phone_jpeg((20, 20, 220)), caption=f"/整改完成 {report_id} 已加固"
    )
    done = await tg.reply_to(mid)
    assert "已整改" in done.text and "整改后" in done.text
    assert tg.report(report_id).status == "rectified"  # type: ignore[union-attr]
    assert sorted(a[2] for a in _attachments(tg)) == ["after", "before"]

    mid, _ = await tg.say(VILLAGE_GROUP, OFFICIAL, f"/照片 {report_id}")
    assert "私聊" in (await tg.reply_to(mid)).text
    assert tg.api.photos == []  # nothing into the group

    official_chat = private_chat(OFFICIAL)
    before = len(tg.api.sent)
    await tg.say(official_chat, OFFICIAL, f"/照片 {report_id}")
    await tg.api.wait_for(lambda: len(tg.api.photos) == 2, timeout=15)
    assert {chat for _, chat, _ in tg.api.photos} == {str(OFFICIAL["id"])}
    texts = [s.text for s in tg.api.sent[before:] if s.chat_id == str(OFFICIAL["id"])]
    assert (
        texts[0].startswith(f"#{report_id} 的照片") and "整改前 1 张：" in texts and "整改后 1 张：" in texts
    )


async def test_a_villagers_photo_with_chatter_gets_nothing_and_keeps_nothing(
    tg: Harness, tmp_path: Path
) -> None:
    tg.bridge.dispatcher.core.data_dir = tmp_path
    mid = await _send_photo(tg, VILLAGE_GROUP, VILLAGER, caption="今天的晚霞真好看")
    chatter_done, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARD)  # a later message, answered
    await tg.reply_to(chatter_done)
    assert not any(s.reply_to_message_id == mid for s in tg.api.sent)
    assert _attachments(tg) == [] and not (tmp_path / "photos").exists()


async def test_a_private_photo_joins_the_tip_filed_next_with_nothing_about_the_sender(
    tg: Harness, tmp_path: Path
) -> None:
    tg.bridge.dispatcher.core.data_dir = tmp_path
    chat = private_chat(WHISTLEBLOWER)
    await _send_photo(tg, chat, WHISTLEBLOWER)
    held = await tg.next_send(WHISTLEBLOWER["id"], 0)
    assert "暂存" in held.text
    before = len(tg.api.sent)
    await tg.say(chat, WHISTLEBLOWER, TIP)
    receipt = await tg.next_send(WHISTLEBLOWER["id"], before)
    assert "回执码" in receipt.text and "已附照片 1 张" in receipt.text
    [(report_id, tip_id, _role, added_by)] = _attachments(tg)
    assert report_id is None and tip_id is not None and added_by is None
    [stored] = list((tmp_path / "photos").rglob("*.jpg"))
    assert b"Exif" not in stored.read_bytes() and b"HUAWEI" not in stored.read_bytes()


async def test_a_private_photo_that_cannot_be_fetched_is_said_plainly_and_never_logged(
    tg: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from tests.fakes.telegram_api import photo_update

    caplog.set_level(logging.DEBUG)
    tg.bridge.dispatcher.core.data_dir = tmp_path
    gone = {
        "file_id": "AgACAgIAAxkBAAIgone",
        "file_unique_id": "gone",
        "file_size": 1000,
        "width": 9,
        "height": 9,
    }
    tg.api.push_update(photo_update(private_chat(WHISTLEBLOWER), WHISTLEBLOWER, [gone]))
    reply = await tg.next_send(WHISTLEBLOWER["id"], 0)
    assert "没有收下来" in reply.text

    def ours() -> str:  # the bot's own log lines (the test captures the libraries' DEBUG chatter too)
        return "\n".join(
            f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith("bot.")
        )

    assert "download failed" not in ours() and str(WHISTLEBLOWER["id"]) not in ours()
    tg.api.push_update(photo_update(VILLAGE_GROUP, VILLAGER, [gone], caption="#1"))
    await eventually(lambda: "download failed" in ours())  # a group's failure is logged, its type only
