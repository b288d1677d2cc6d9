"""Attacks on the anonymity promise, each reproduced and shown failing: numbering, probing, echoes, lost receipts.

Every test runs on SQLite and (when configured) PostgreSQL through the ``router``/``database`` fixtures.
"""

from __future__ import annotations

import itertools
import logging
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from bot.adapters.base import ChatUnreachable, RetryLater
from bot.adapters.wechaty import SendPacer
from bot.app import Database
from bot.bridge import Bridge
from handlers.context import Core
from handlers.messages import Reply
from handlers.router import Router
from scheduler.monthly_report import build_monthly_report
from storage.models import OutboxMessage, Report, Tip, TipEvent
from storage.officials import add_official
from storage.tips import get_tip
from tests.conftest import Clock
from tests.helpers import group_msg, private_msg

HAZARD = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
OTHER_HAZARD = "王家沟村小学门口的电线杆歪了，快倒了"
TIP = "举报 后沟那个煤窑晚上偷偷开采，别说是我说的"
NOTE = "已派人去后沟核查"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _reply(result) -> str:
    assert len(result.replies) == 1, result
    return result.replies[0].text


def _tip_number(reply: str) -> int:
    match = re.search(r"T(\d{6})", reply)
    assert match, reply
    return int(match.group(1))


def _receipt(reply: str) -> str:
    match = re.search(r"回执码：([A-Z0-9-]+)", reply)
    assert match, reply
    return match.group(1)


def _official(core: Core, user: str = "boss") -> None:
    with core.sessions.begin() as s:
        add_official(s, "telegram", user, "张站长", role="admin")


# --- 1. numbers and times cannot place a tip among group reports ------------------------------------------


def test_a_tip_leaves_no_gap_in_the_group_numbers(router: Router, core: Core, clock: Clock) -> None:
    assert "#1" in _reply(router.dispatch(group_msg(HAZARD)))
    clock.now += timedelta(minutes=3, seconds=17)
    tip_reply = _reply(router.dispatch(private_msg(TIP)))
    clock.now += timedelta(minutes=2)
    assert "#2" in _reply(router.dispatch(group_msg(OTHER_HAZARD, chat="-200", title="王家沟村二组")))
    number = _tip_number(tip_reply)
    assert "#" not in tip_reply  # the tip spends no group number
    with core.sessions() as s:
        assert [r.id for r in s.scalars(select(Report).order_by(Report.id))] == [1, 2]
        tip = get_tip(s, number)
        assert tip is not None and 100_000 <= tip.id <= 999_999
        # Nothing finer than the hour, in the tip or its audit trail.
        assert (tip.created_at.minute, tip.created_at.second) == (0, 0)
        assert (tip.updated_at.minute, tip.updated_at.second) == (0, 0)
        (event,) = s.scalars(select(TipEvent)).all()
        assert (event.at.minute, event.at.second, event.actor) == (0, 0, "anonymous")
        assert not re.fullmatch(r"\d+", event.id)  # a random key, not a sequence


def test_tip_numbers_do_not_follow_arrival(router: Router, core: Core) -> None:
    numbers = [
        _tip_number(_reply(router.dispatch(private_msg(f"举报 后沟第{i}个煤窑晚上偷偷开采", sender=f"w{i}"))))
        for i in range(6)
    ]
    assert len(set(numbers)) == 6
    # Consecutive numbers would date the tips; random six-digit numbers almost never are.
    assert sum(1 for a, b in itertools.pairwise(numbers) if b == a + 1) == 0


def test_existing_anonymous_reports_move_to_the_tip_store(database: Database) -> None:
    from alembic import command

    from storage.db import alembic_config, upgrade

    config = alembic_config(database.engine)
    command.downgrade(config, "0004")
    at = datetime(2026, 6, 10, 2, 37, 12)
    with database.engine.begin() as conn:
        for rid, anonymous, duplicate_of in ((1, False, None), (2, True, None), (3, False, 2)):
            conn.execute(
                text(
                    "INSERT INTO reports (id, kind, category, severity, status, text, confidence, evidence,"
                    " anonymous, receipt_hash, duplicate_of, created_at, updated_at)"
                    " VALUES (:id, 'hazard', 'building', 'general', :status, :text, 0.9, '', :anon, :hash,"
                    " :dup, :at, :at)"
                ),
                {
                    "id": rid,
                    "status": "duplicate" if duplicate_of else "reported",
                    "text": f"第{rid}条",
                    "anon": anonymous,
                    "hash": "h" * 64 if anonymous else None,
                    "dup": duplicate_of,
                    "at": at,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO report_events (report_id, at, actor, action, to_status)"
                    " VALUES (:id, :at, :actor, 'filed', 'reported')"
                ),
                {"id": rid, "at": at, "actor": "anonymous" if anonymous else "villager(x)"},
            )
    upgrade(database.engine)
    with database.sessions() as s:
        reports = list(s.scalars(select(Report).order_by(Report.id)))
        assert [(r.id, r.duplicate_of, r.status) for r in reports] == [
            (1, None, "reported"),
            (3, None, "reported"),
        ]
        (tip,) = s.scalars(select(Tip)).all()
        assert tip.text == "第2条" and tip.receipt_hash == "h" * 64
        assert (tip.created_at.minute, tip.created_at.second) == (0, 0)
        (event,) = tip.events
        assert event.at.minute == 0 and event.action == "filed"
        assert s.scalar(text("SELECT count(*) FROM report_events")) == 2


# --- 2. /查询 never tells a group that a number is a tip ----------------------------------------------------


def test_query_in_a_group_answers_a_tip_number_like_an_unknown_one(router: Router, core: Core) -> None:
    number = _tip_number(_reply(router.dispatch(private_msg(TIP))))
    _official(core)
    unknown = 100_000 if number != 100_000 else 100_001
    for sender in ("u1", "boss"):  # a villager, and an official (but in a group)
        real = _reply(router.dispatch(group_msg(f"/查询 T{number}", sender=sender)))
        fake = _reply(router.dispatch(group_msg(f"/查询 T{unknown}", sender=sender)))
        assert real.replace(str(number), "N") == fake.replace(str(unknown), "N")
        assert "匿名" not in real and "偷偷开采" not in real
    # The plain number space is the group reports' only: no number is "a tip".
    assert _reply(router.dispatch(group_msg("/查询 1"))) == core.texts("commands.report_not_found", id=1)
    # A villager in private learns nothing either; an official in private sees the tip.
    villager = _reply(router.dispatch(private_msg(f"/查询 T{number}", sender="u5")))
    assert "偷偷开采" not in villager and "匿名" not in villager
    admin = _reply(router.dispatch(private_msg(f"/查询 T{number}", sender="boss")))
    assert "偷偷开采" in admin and f"T{number}" in admin


def test_open_list_shows_tips_only_to_officials_in_private(router: Router, core: Core) -> None:
    number = _tip_number(_reply(router.dispatch(private_msg(TIP))))
    _official(core)
    in_group = _reply(router.dispatch(group_msg("/清单", sender="boss")))
    assert f"T{number}" not in in_group and "匿名" not in in_group
    assert f"T{number}" in _reply(router.dispatch(private_msg("/清单", sender="boss")))


# --- 3. no duplicate probing --------------------------------------------------------------------------------


def test_a_group_message_like_a_private_hazard_is_filed_on_its_own(router: Router, core: Core) -> None:
    private = _reply(router.dispatch(private_msg(HAZARD)))
    assert "回执码" in private
    in_group = _reply(router.dispatch(group_msg(HAZARD, sender="u7")))
    assert in_group.startswith("已登记隐患 #1")
    assert "已有相同隐患" not in in_group
    with core.sessions() as s:
        (report,) = s.scalars(select(Report)).all()
        assert (report.status, report.duplicate_of) == ("reported", None)


# --- 4. /进度 outside a private chat ----------------------------------------------------------------------------


def test_progress_in_a_group_is_refused_voids_the_code_and_private_use_reissues(
    router: Router, core: Core
) -> None:
    receipt = _reply(router.dispatch(private_msg(TIP, sender="w1")))
    code, number = _receipt(receipt), _tip_number(receipt)
    in_group = _reply(router.dispatch(group_msg(f"/进度 {code}")))
    assert in_group == core.texts("commands.progress_private_only")
    assert f"T{number}" not in in_group and "待核实" not in in_group and "举报" not in in_group.split("。")[0]
    # An unknown code in a group gets the very same answer: the refusal confirms nothing.
    assert _reply(router.dispatch(group_msg("/进度 AAAAAA-BBBBBB-CCCCCC"))) == in_group
    with core.sessions() as s:
        assert get_tip(s, number).receipt_voided is True

    again = _reply(router.dispatch(private_msg(f"/进度 {code}", sender="w1")))
    assert "已作废" in again and f"T{number}" in again and "待核实" in again
    new_code = _receipt(again.replace("新回执码：", "回执码："))
    assert new_code.replace("-", "") != code.replace("-", "")
    # The old code is dead for good; the new one works and is not voided.
    assert _reply(router.dispatch(private_msg(f"/进度 {code}", sender="w1"))) == core.texts(
        "commands.receipt_not_found"
    )
    fresh = _reply(router.dispatch(private_msg(f"/进度 {new_code}", sender="w1")))
    assert "已作废" not in fresh and f"T{number}" in fresh


# --- 5. nothing about a tip reaches a group -------------------------------------------------------------------


def test_status_notes_on_tips_never_reach_a_group(router: Router, core: Core, clock: Clock) -> None:
    number = _tip_number(_reply(router.dispatch(private_msg(TIP))))
    _official(core)
    in_group = _reply(router.dispatch(group_msg(f"/整改中 T{number} {NOTE}", sender="boss")))
    assert NOTE not in in_group and "匿名" not in in_group
    with core.sessions() as s:
        assert get_tip(s, number).status == "reported"  # nothing changed from the group
    done = _reply(router.dispatch(private_msg(f"/整改中 T{number} {NOTE}", sender="boss")))
    assert f"T{number}" in done and NOTE in done
    router.housekeeping()
    with core.sessions() as s:
        tip = get_tip(s, number)
        assert (tip.status, tip.public_note) == ("rectifying", NOTE)
        assert tip.events[-1].actor.startswith("张站长")
        pushed = " ".join(row.text for row in s.scalars(select(OutboxMessage)))
        assert NOTE not in pushed and f"T{number}" not in pushed and "偷偷开采" not in pushed
        monthly = build_monthly_report(s, "2026-06", SHANGHAI, now=clock.now + timedelta(days=1))
    assert monthly.tips_received == 1 and monthly.tips_verified == 1
    assert monthly.filed_total == 0 and monthly.by_village == {}  # no village list ever counts a tip


# --- 6. an undelivered receipt is kept in memory and shown again -----------------------------------------


@pytest.mark.parametrize("refusal", [RetryLater(86_400, "daily cap"), ChatUnreachable("403")])
async def test_an_undelivered_receipt_is_shown_on_the_next_private_message(
    router: Router, core: Core, clock: Clock, refusal: Exception
) -> None:
    bridge = Bridge(*router.parts)
    delivered: list[Reply] = []

    async def refuse(reply: Reply) -> None:
        raise refusal

    async def accept(reply: Reply) -> None:
        delivered.append(reply)

    await bridge.process(private_msg(TIP, sender="wxid_lost"), refuse)
    assert len(router.held_receipts) == 1
    key = next(iter(router.held_receipts._items))
    assert "wxid_lost" not in key  # keyed by an HMAC, never by the chat id
    with core.sessions() as s:
        (tip,) = s.scalars(select(Tip)).all()
        dump = " ".join(str(row) for row in s.execute(text("select * from tips")))
    assert "wxid_lost" not in dump

    clock.now += timedelta(minutes=29)
    await bridge.process(private_msg("你好", sender="wxid_lost"), accept)
    assert delivered[0].text.startswith(core.texts("replies.receipt_again"))
    assert f"T{tip.id}" in delivered[0].text and "回执码：" in delivered[0].text
    assert len(router.held_receipts) == 0  # shown once, then forgotten


async def test_a_held_receipt_is_gone_after_thirty_minutes_and_never_shown_to_others(
    router: Router, core: Core, clock: Clock
) -> None:
    bridge = Bridge(*router.parts)
    delivered: list[Reply] = []

    async def refuse(reply: Reply) -> None:
        raise RetryLater(60)

    async def accept(reply: Reply) -> None:
        delivered.append(reply)

    await bridge.process(private_msg(TIP, sender="wxid_a"), refuse)
    await bridge.process(private_msg("你好", sender="wxid_b"), accept)
    assert all("回执码：" not in r.text for r in delivered)
    clock.now += timedelta(minutes=31)
    delivered.clear()
    await bridge.process(private_msg("你好", sender="wxid_a"), accept)
    assert all("回执码：" not in r.text for r in delivered)


async def test_wechat_keeps_send_budget_for_receipts() -> None:
    pacer = SendPacer(0.0, 0.0, 10, SHANGHAI, reserve=2, now=lambda: datetime(2026, 6, 10, 2, tzinfo=UTC))
    for _ in range(8):
        await pacer.acquire()
    with pytest.raises(RetryLater):
        await pacer.acquire()  # pushes and ordinary replies stop short of the reserve
    for _ in range(2):
        async with pacer.slot(reserved=True):
            pass
    with pytest.raises(RetryLater):
        async with pacer.slot(reserved=True):
            pass


# --- 7. the receipt warns against identifying details -----------------------------------------------------


def test_receipts_tell_tipsters_not_to_identify_themselves(router: Router, core: Core) -> None:
    warning = core.texts("replies.no_identity").strip()
    assert warning in _reply(router.dispatch(private_msg(TIP, sender="t1")))
    assert warning in _reply(router.dispatch(private_msg(HAZARD, sender="t2")))


# --- 8. no per-message log line for private chats -----------------------------------------------------------


def test_private_messages_only_feed_an_hourly_count(
    router: Router, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        router.dispatch(private_msg(TIP, sender="wxid_x"))
        router.dispatch(private_msg("你好", sender="wxid_y"))
        during = [r for r in caplog.records if r.name.startswith("handlers")]
        assert during == []  # nothing at the time of the message
        clock.now += timedelta(hours=1)
        router.housekeeping()
    lines = [r for r in caplog.records if r.getMessage() == "private messages in the past hour"]
    assert len(lines) == 1
    record = lines[0].__dict__
    assert record["total"] == 2 and record["hour"].endswith("02:00:00+00:00")
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "wxid_x" not in logged and "wxid_y" not in logged and "偷偷开采" not in logged


async def test_a_refused_private_reply_is_counted_not_logged(
    router: Router, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = Bridge(*router.parts)

    async def refuse(reply: Reply) -> None:
        raise ChatUnreachable("403")

    with caplog.at_level(logging.DEBUG):
        await bridge.process(private_msg(TIP, sender="wxid_q"), refuse)
        assert [r for r in caplog.records if r.name.startswith(("handlers", "bot"))] == []
        clock.now += timedelta(hours=1)
        router.housekeeping()
    (line,) = [r for r in caplog.records if r.getMessage() == "private messages in the past hour"]
    assert line.__dict__["outcomes"] == {"anonymous-filed": 1, "reply-undelivered": 1}
