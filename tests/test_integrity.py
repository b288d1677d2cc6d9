"""Integrity under concurrency, commands meant for other bots, /清单 wording, floods and smaller transport hardening."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from telegram import Bot, Update

from bot.adapters import build_adapter
from bot.adapters.console import OFFICIAL_ID as CONSOLE_OFFICIAL_ID
from bot.adapters.console import ConsoleAdapter
from bot.adapters.telegram import to_incoming
from bot.adapters.wechaty import strip_mention
from bot.bridge import Bridge
from bot.config import Settings
from handlers.chat_events import GROUP_KEY_TTL
from handlers.context import Core
from handlers.dispatch import DISPATCH_ATTEMPTS
from handlers.messages import DispatchResult
from handlers.router import Router
from storage.groups import upsert_group
from storage.models import Group, ProcessedMessage, Report
from storage.officials import add_official
from tests.conftest import Clock
from tests.fakes.telegram_api import DEFAULT_TOKEN
from tests.helpers import group_msg, private_msg
from tests.test_e2e_telegram import OFFICIAL, REPORT_ID, VILLAGE_GROUP, VILLAGER, Harness, tg  # noqa: F401 (the tg fixture)

HAZARDS = [
    "王家沟村东头那个老窑洞裂缝越来越宽了，怕塌",
    "马家湾村小学门口的电线断了掉在地上",
    "庙坪村小学门口的电线杆歪了，快倒了",
    "小卖部里液化气罐漏气了，满屋子都是味",
    "河上那座桥的栏杆断了好几根，娃娃上学要过",
    "后山的土坡裂开一道大口子，下雨怕滑坡",
    "砖厂那边的锅炉压力表坏了还在烧",
    "加油站旁边有人在卖散装汽油",
    "村委会后面那堵墙歪了，随时要倒",
    "路口的井盖没了，晚上黑看不见",
]


def test_ten_hazards_at_once_from_an_unseen_group_file_ten_reports(router: Router) -> None:
    start = threading.Barrier(len(HAZARDS))

    def send(i: int) -> DispatchResult:
        msg = group_msg(HAZARDS[i], sender=f"v{i}", chat="-777", title="王家沟村民群", message_id=f"m{i}")
        start.wait()
        return router.dispatch(msg)

    with ThreadPoolExecutor(len(HAZARDS)) as pool:
        results = list(pool.map(send, range(len(HAZARDS))))
    assert [r.outcome for r in results if r.outcome == "redelivered"] == []
    with router.core.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Group)) == 1
        filed = session.scalar(select(func.count()).select_from(Report))
    assert filed == len(HAZARDS), [r.outcome for r in results]
    assert sum(1 for r in results if r.replies) == len(HAZARDS), [r.outcome for r in results]


def test_the_same_message_delivered_twice_at_once_files_once(router: Router) -> None:
    start = threading.Barrier(2)

    def send(_: int) -> DispatchResult:
        start.wait()
        return router.dispatch(group_msg(HAZARDS[0], chat="-778", message_id="twice"))

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(r.outcome for r in pool.map(send, range(2)))
    assert outcomes == ["filed", "redelivered"]
    with router.core.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 1


def test_a_database_error_other_than_the_key_is_logged_without_text_and_not_taken_for_a_redelivery(
    router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    msg = group_msg(HAZARDS[1], chat="-779", message_id="broken")
    with router.core.sessions.begin() as session:
        upsert_group(session, "telegram", "-779", title="王家沟村民群")
    original = router.dispatcher._handle

    def failing(session, m):  # type: ignore[no-untyped-def]
        session.add(Group(platform="telegram", chat_id="-779", title="x"))  # the unique pair already exists
        return original(session, m)

    router.dispatcher._handle = failing  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING), pytest.raises(IntegrityError):
        router.dispatch(msg)
    failures = [r for r in caplog.records if r.getMessage().startswith("message handling failed")]
    assert len(failures) == DISPATCH_ATTEMPTS
    assert all(HAZARDS[1] not in r.getMessage() and "老王" not in str(r.__dict__) for r in failures)
    router.dispatcher._handle = original  # type: ignore[method-assign]
    assert router.dispatch(msg).outcome == "filed"


def test_housekeeping_forgets_group_keys_after_the_redelivery_window_but_keeps_filed_ones(
    router: Router, clock: Clock
) -> None:
    router.dispatch(group_msg("收到", chat="-780", message_id="chatter"))
    filed = router.dispatch(group_msg(HAZARDS[2], chat="-780", message_id="hazard"))
    assert filed.report_id is not None
    clock.now += GROUP_KEY_TTL + timedelta(hours=1)
    router.housekeeping()
    with router.core.sessions() as session:
        keys = {row.key: row.report_id for row in session.scalars(select(ProcessedMessage))}
    assert keys == {"g:telegram:-780:hazard": filed.report_id}


def test_filed_outcomes_of_the_concurrent_hazards_are_new_reports_not_duplicates(router: Router) -> None:
    outcomes = [
        router.dispatch(group_msg(text, sender=f"w{i}", chat="-781")).outcome
        for i, text in enumerate(HAZARDS)
    ]
    assert outcomes == ["filed"] * len(HAZARDS)


# --- item 12: commands addressed to another bot ------------------------------------------------------------


def _status(router: Router, report_id: int) -> str:
    with router.core.sessions() as session:
        report = session.get(Report, report_id)
        assert report is not None
        return report.status


def test_a_command_for_another_bot_changes_nothing_and_says_nothing(router: Router) -> None:
    rid = router.dispatch(group_msg(HAZARDS[0], chat="-782")).report_id
    assert rid is not None
    with router.core.sessions.begin() as session:
        add_official(session, "telegram", "boss", "张站长", role="admin")
    ours = "anquan_bot"
    for text in (f"/close@SomeOtherBot {rid}", f"/done@SomeOtherBot {rid}", f"/整改完成@other_bot {rid}"):
        msg = replace(group_msg(text, sender="boss", chat="-782"), bot_username=ours)
        result = router.dispatch(msg)
        assert (result.replies, result.outcome) == ([], "other-bot")
    assert _status(router, rid) == "reported"
    mine = replace(group_msg(f"/done@AnQuan_Bot {rid}", sender="boss", chat="-782"), bot_username=ours)
    assert f"#{rid}" in router.dispatch(mine).replies[0].text
    assert _status(router, rid) == "rectified"


def test_the_telegram_adapter_tells_the_core_its_own_username() -> None:
    update = Update.de_json(_telegram_update(), Bot(DEFAULT_TOKEN))
    msg = to_incoming(update, bot_username="anquan_bot")
    assert msg is not None and msg.bot_username == "anquan_bot"


# --- item 13: /清单 never echoes -------------------------------------------------------------------------


def test_list_with_an_unknown_village_names_the_choices_and_never_echoes(router: Router) -> None:
    fake = "紧急通知：明天全村停水，请到村委会领补贴"
    reply = router.dispatch(group_msg(f"/清单 {fake}", chat="-783")).replies[0].text
    assert "没有这个村" in reply
    assert fake not in reply and "补贴" not in reply
    assert all(v.name in reply for v in router.core.profile.villages)
    known = router.dispatch(group_msg("/清单 庙坪", chat="-783")).replies[0].text
    assert "庙坪村" in known and "没有这个村" not in known


# --- item 15: floods ---------------------------------------------------------------------------------------


def test_a_private_flood_files_one_burst_and_says_the_limit_once_per_window(
    router: Router, clock: Clock
) -> None:
    burst = router.core.profile.private_burst
    results = [router.dispatch(private_msg(HAZARDS[i % len(HAZARDS)], sender="flooder")) for i in range(60)]
    filed = [r for r in results if r.report_id is not None]
    told = [r for r in results if r.replies and "太快" in r.replies[0].text]
    assert len(filed) <= burst
    assert len(told) == 1
    assert all(not r.replies for r in results[burst + 1 :])
    # Another sender is not affected.
    assert router.dispatch(private_msg(HAZARDS[0], sender="someone-else")).replies
    # After the window the sender is heard again, and a new flood is told once again.
    clock.now += timedelta(minutes=1)
    again = [router.dispatch(private_msg(HAZARDS[1], sender="flooder")) for _ in range(20)]
    assert again[0].replies and "太快" not in again[0].replies[0].text
    assert sum(1 for r in again if r.replies and "太快" in r.replies[0].text) == 1


def test_wrong_binding_and_receipt_guesses_count_against_the_private_limit(router: Router) -> None:
    burst = router.core.profile.private_burst
    answers = [
        router.dispatch(
            private_msg(f"/绑定 WRONG{i:04d}" if i % 2 else f"/进度 GUESS{i:04d}", sender="guesser")
        )
        for i in range(1000)
    ]
    answered = [a for a in answers if a.replies]
    assert len(answered) == burst + 1  # the burst, then one notice; the other guesses get nothing at all
    assert "太快" in answered[-1].replies[0].text


def test_the_private_limiter_keeps_no_sender_id_and_forgets_idle_senders(
    router: Router, clock: Clock
) -> None:
    router.dispatch(private_msg("你好", sender="wxid_secret_person"))
    limiter = router.private_limiter
    assert len(limiter) == 1
    assert all("wxid_secret_person" not in key for key in limiter._buckets)
    clock.now += timedelta(hours=1)
    router.housekeeping()
    assert len(limiter) == 0


def test_merged_duplicates_do_not_count_against_the_group_limit(router: Router) -> None:
    limit = router.core.profile.reports_per_hour
    first = router.dispatch(group_msg(HAZARDS[0], sender="busy", chat="-784"))
    assert first.outcome == "filed"
    again = [router.dispatch(group_msg(HAZARDS[0], sender="busy", chat="-784")).outcome for _ in range(limit)]
    assert set(again) == {"duplicate"}
    fresh = [router.dispatch(group_msg(t, sender="busy", chat="-784")).outcome for t in HAZARDS[1:limit]]
    assert fresh == ["filed"] * (limit - 1)
    # (HAZARDS[6] burns "still" — an emergency, never refused; the wall is not.)
    assert router.dispatch(group_msg(HAZARDS[8], sender="busy", chat="-784")).outcome == "flood-limited"


async def test_the_console_villager_is_never_flood_limited(core: Core) -> None:
    lines = [*HAZARDS[:8], ":私聊", *(["你好"] * 30)]
    out = io.StringIO()
    adapter = ConsoleAdapter(
        core.profile, core.texts, io.StringIO("\n".join(lines) + "\n"), out, interactive=False
    )
    await asyncio.wait_for(adapter.run(Bridge(*Router(core).parts), asyncio.Event()), timeout=60)
    text = out.getvalue()
    assert "暂停登记" not in text and "太快" not in text
    with core.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 8


# --- item 18: smaller ones --------------------------------------------------------------------------------


def test_a_long_display_name_is_cut_and_the_report_still_files(router: Router) -> None:
    msg = replace(group_msg(HAZARDS[3], chat="-785"), sender_name="王" * 300)
    result = router.dispatch(msg)
    assert result.outcome == "filed"
    with router.core.sessions() as session:
        report = session.get(Report, result.report_id)
        assert report is not None and report.reporter_name == "王" * 128


def test_automatic_channel_forwards_are_not_handed_to_the_core() -> None:
    forwarded = _telegram_update(is_automatic_forward=True, sender=777000, first_name="Telegram")
    assert to_incoming(Update.de_json(forwarded, Bot(DEFAULT_TOKEN))) is None
    from_777000 = _telegram_update(sender=777000, first_name="Telegram")
    assert to_incoming(Update.de_json(from_777000, Bot(DEFAULT_TOKEN))) is None
    long_name = _telegram_update(first_name="建" * 100, last_name="军" * 100)
    msg = to_incoming(Update.de_json(long_name, Bot(DEFAULT_TOKEN)))
    assert msg is not None and len(msg.sender_name) == 128


def test_stripping_the_wechat_mention_is_linear_on_hostile_input() -> None:
    hostile = [" " * 200_000 + "x", "\u2005" * 200_000 + "@bo", "@" * 200_000]
    started = time.perf_counter()
    for text in hostile:
        strip_mention(text, ["bot", "安全助手"])
    assert time.perf_counter() - started < 0.5
    assert strip_mention("@安全助手\u2005村口电线断了", ["安全助手"]) == "村口电线断了"
    assert strip_mention("村口电线断了 @安全助手", ["安全助手"]) == "村口电线断了"


def _telegram_update(
    *,
    is_automatic_forward: bool = False,
    sender: int = 5318862197,
    first_name: str = "建军",
    last_name: str = "王",
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 412,
        "from": {"id": sender, "is_bot": False, "first_name": first_name, "last_name": last_name},
        "chat": {"id": -1001234567890, "title": "王家沟村安全生产群", "type": "supergroup"},
        "date": 1749520800,
        "text": "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌",
    }
    if is_automatic_forward:
        message["is_automatic_forward"] = True
    return {"update_id": 815520301, "message": message}


async def test_over_the_bot_api_a_command_for_another_bot_gets_no_answer(tg: Harness) -> None:  # noqa: F811
    mid, _ = await tg.say(VILLAGE_GROUP, VILLAGER, HAZARDS[0])
    report_id = int(REPORT_ID.search((await tg.reply_to(mid)).text).group(1))  # type: ignore[union-attr]
    other, _ = await tg.say(VILLAGE_GROUP, OFFICIAL, f"/close@SomeOtherBot {report_id}")
    ours, _ = await tg.say(VILLAGE_GROUP, OFFICIAL, "/清单@anquan_test_bot")
    assert f"#{report_id}" in (await tg.reply_to(ours)).text
    assert not any(s.reply_to_message_id == other for s in tg.api.sent)
    assert tg.report(report_id).status == "reported"  # type: ignore[union-attr]


def test_the_classifier_mention_pattern_stays_fast_on_hostile_input(router: Router) -> None:
    started = time.perf_counter()
    for text in ("@" * 200_000, "@a" + " " * 200_000 + "x", "＠" * 100_000 + "\u2005" * 100_000):
        router.core.classifier.normalize(text)
    assert time.perf_counter() - started < 0.5


def test_the_console_admin_exists_only_on_the_console(router: Router) -> None:
    build_adapter("console", Settings(), router.core)
    rid = router.dispatch(group_msg(HAZARDS[9], chat="-786")).report_id
    assert rid is not None
    for platform in ("telegram", "wechaty"):
        msg = group_msg(f"/整改完成 {rid}", sender=CONSOLE_OFFICIAL_ID, chat="-786", platform=platform)
        assert router.dispatch(msg).outcome == "refused"
    assert _status(router, rid) == "reported"
