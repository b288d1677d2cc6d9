"""Tests for handlers.dispatch: a message in, one transaction, the right replies and ledger changes out."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from handlers.chat_memory import ChatMemory
from handlers.context import Core
from handlers.dispatch import Dispatcher
from storage.groups import get_group
from storage.models import Report, Tip
from storage.officials import add_official
from storage.reports import get_report
from storage.tips import get_tip
from tests.conftest import Clock
from tests.helpers import group_msg, private_msg

HAZARD = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
TIP = "举报 后沟那个煤窑晚上偷偷开采，别说是我说的"


@pytest.fixture
def dispatcher(core: Core) -> Dispatcher:
    """The message dispatcher on each test database, with its own in-memory stores."""
    return Dispatcher(core, ChatMemory(core))


def _only_reply(result) -> str:
    assert len(result.replies) == 1, result
    return result.replies[0].text


def _report_id(reply: str) -> int:
    match = re.search(r"#(\d+)", reply)
    assert match, reply
    return int(match.group(1))


def _tip_id(reply: str) -> int:
    match = re.search(r"T(\d{6})", reply)
    assert match, reply
    return int(match.group(1))


def test_group_hazard_is_filed_and_answered_with_its_number(dispatcher: Dispatcher, core: Core) -> None:
    msg = group_msg(HAZARD)
    result = dispatcher.dispatch(msg)
    reply = _only_reply(result)
    assert reply.startswith("已登记隐患 #")
    assert result.replies[0].quote_message_id == msg.message_id
    with core.sessions() as s:
        r = get_report(s, _report_id(reply))
        assert (r.kind, r.category, r.status, r.village) == ("hazard", "building", "reported", "王家沟村")
        assert r.reporter_id == "u1" and not r.anonymous
        assert r.deadline == r.created_at + timedelta(days=30)


def test_chatter_gets_no_answer_and_files_nothing(dispatcher: Dispatcher, core: Core) -> None:
    for chatter in ("收到", "明天几点开会", "热炸了", "好的👍", "@安全员 收到，表格今晚交"):
        assert dispatcher.dispatch(group_msg(chatter)).replies == []
    with core.sessions() as s:
        assert s.scalars(select(Report)).all() == []


def test_redelivered_message_files_nothing_new(dispatcher: Dispatcher, core: Core) -> None:
    msg = group_msg(HAZARD, message_id="777")
    first = dispatcher.dispatch(msg)
    second = dispatcher.dispatch(msg)
    assert first.replies and second.replies == []
    with core.sessions() as s:
        assert len(s.scalars(select(Report)).all()) == 1


def test_same_message_id_in_another_chat_is_a_new_message(dispatcher: Dispatcher) -> None:
    assert dispatcher.dispatch(group_msg(HAZARD, message_id="5", chat="-1")).replies
    assert dispatcher.dispatch(
        group_msg("庙坪村小学门口的电线杆歪了，快倒了", message_id="5", chat="-2")
    ).replies


def test_same_hazard_again_in_the_same_village_is_linked(dispatcher: Dispatcher, core: Core) -> None:
    first = _report_id(_only_reply(dispatcher.dispatch(group_msg(HAZARD, sender="a"))))
    reply = _only_reply(
        dispatcher.dispatch(group_msg("王家沟村东头那个老窑洞裂缝越来越宽了，怕塌", sender="b"))
    )
    assert reply.startswith(f"已有相同隐患 #{first} 正在处理")
    with core.sessions() as s:
        dup = s.scalars(select(Report).where(Report.duplicate_of == first)).one()
        assert dup.status == "duplicate"
        assert [e.action for e in get_report(s, first).events] == ["filed", "reported-again"]


def test_flood_limit_stops_filing_for_one_sender(dispatcher: Dispatcher, core: Core) -> None:
    places = ["克虎村", "庙坪村", "寨则山村", "前青塘村", "后青塘村", "刘家峁村", "高家塔村"]
    replies = [
        _only_reply(dispatcher.dispatch(group_msg(f"{p}小学门口的电线断了掉在地上", sender="spam")))
        for p in places
    ]
    assert all(r.startswith("已登记") for r in replies[:6]), replies
    assert "暂停登记" in replies[6]
    assert (
        dispatcher.dispatch(group_msg("马家湾村小学门口的电线断了掉在地上", sender="other"))
        .replies[0]
        .text.startswith("已登记")
    )


def test_private_tip_is_anonymous_with_a_receipt_that_reports_progress(
    dispatcher: Dispatcher, core: Core
) -> None:
    reply = _only_reply(dispatcher.dispatch(private_msg(TIP, sender="wxid_whistle")))
    code = re.search(r"回执码：([A-Z0-9-]+)", reply).group(1)
    assert len(code.replace("-", "")) >= 17  # >= 80 bits from a 31-letter alphabet
    rid = _tip_id(reply)
    with core.sessions() as s:
        tip = get_tip(s, rid)
        assert (tip.kind, tip.status) == ("tip", "reported")
        assert s.scalars(select(Report)).all() == []  # tips never enter the group reports' table
        dump = " ".join(
            str(row)
            for table in (
                "reports",
                "report_events",
                "tips",
                "tip_events",
                "processed_messages",
                "groups",
                "officials",
                "audit_events",
            )
            for row in s.execute(text(f"select * from {table}"))
        )
        assert "wxid_whistle" not in dump and "匿名者" not in dump
        assert code.replace("-", "") not in dump
    progress = _only_reply(dispatcher.dispatch(private_msg(f"/进度 {code.lower()}")))
    assert f"T{rid}" in progress and "待核实" in progress


def test_tip_in_a_group_is_not_filed_and_points_to_a_private_chat(dispatcher: Dispatcher, core: Core) -> None:
    reply = _only_reply(dispatcher.dispatch(group_msg(TIP)))
    assert "私聊" in reply and "回执码" not in reply
    with core.sessions() as s:
        assert s.scalars(select(Report)).all() == []


def test_private_redelivery_files_once(dispatcher: Dispatcher, core: Core) -> None:
    msg = private_msg(TIP, message_id="42")
    assert dispatcher.dispatch(msg).replies
    assert dispatcher.dispatch(msg).replies == []
    with core.sessions() as s:
        assert len(s.scalars(select(Tip)).all()) == 1


def test_private_idempotency_key_does_not_contain_the_sender(dispatcher: Dispatcher) -> None:
    key = dispatcher.idempotency_key(private_msg("x", sender="wxid_secret", message_id="1"))
    assert "wxid_secret" not in key and key.startswith("p:")


def test_official_closes_a_hazard_and_a_villager_cannot(dispatcher: Dispatcher, core: Core) -> None:
    rid = _report_id(_only_reply(dispatcher.dispatch(group_msg(HAZARD))))
    with core.sessions.begin() as s:
        add_official(s, "telegram", "boss", "张站长")
    refused = _only_reply(dispatcher.dispatch(group_msg(f"/整改完成 {rid}", sender="u1")))
    assert "只有登记过的" in refused
    with core.sessions() as s:
        assert get_report(s, rid).status == "reported"
    done = _only_reply(dispatcher.dispatch(group_msg(f"／整改完成{rid} 已加固", sender="boss")))
    assert f"#{rid}" in done
    with core.sessions() as s:
        r = get_report(s, rid)
        assert (r.status, r.rectification_note) == ("rectified", "已加固")
        assert r.events[-1].actor.startswith("张站长")


def test_ascii_alias_with_bot_suffix_works(dispatcher: Dispatcher, core: Core) -> None:
    rid = _report_id(_only_reply(dispatcher.dispatch(group_msg(HAZARD))))
    with core.sessions.begin() as s:
        add_official(s, "telegram", "boss", "张站长")
    assert f"#{rid}" in _only_reply(dispatcher.dispatch(group_msg(f"/done@anquan_bot {rid}", sender="boss")))


def test_bad_command_arguments_get_a_clear_answer(dispatcher: Dispatcher, core: Core) -> None:
    with core.sessions.begin() as s:
        add_official(s, "telegram", "boss", "张站长")
    assert "编号" in _only_reply(dispatcher.dispatch(group_msg("/整改完成", sender="boss")))
    assert "没有找到隐患 #999" in _only_reply(dispatcher.dispatch(group_msg("/整改完成 999", sender="boss")))
    assert "回执码" in _only_reply(dispatcher.dispatch(private_msg("/进度")))
    assert "没有找到" in _only_reply(dispatcher.dispatch(private_msg("/进度 NOPE")))
    assert "没有 /飞 这个命令" in _only_reply(dispatcher.dispatch(private_msg("/飞")))
    assert dispatcher.dispatch(group_msg("/someotherbot_cmd")).replies == []


def test_query_hides_tip_text_from_groups_and_villagers(dispatcher: Dispatcher, core: Core) -> None:
    rid = _tip_id(_only_reply(dispatcher.dispatch(private_msg(TIP))))
    with core.sessions.begin() as s:
        add_official(s, "telegram", "boss", "张站长", role="admin")
    in_group = _only_reply(dispatcher.dispatch(group_msg(f"/查询 T{rid}", sender="boss")))
    assert "偷偷开采" not in in_group and "匿名" not in in_group and "没有找到" in in_group
    in_private = _only_reply(dispatcher.dispatch(private_msg(f"/查询 T{rid}", sender="boss")))
    assert "偷偷开采" in in_private


def test_list_shows_open_hazards_of_a_village(dispatcher: Dispatcher, core: Core) -> None:
    a = _report_id(_only_reply(dispatcher.dispatch(group_msg(HAZARD))))
    b = _report_id(
        _only_reply(
            dispatcher.dispatch(group_msg("庙坪村小学门口的电线杆歪了，快倒了", chat="-2", title="庙坪村群"))
        )
    )
    listing = _only_reply(dispatcher.dispatch(group_msg("/清单")))
    assert f"#{a}" in listing and f"#{b}" not in listing
    everything = _only_reply(dispatcher.dispatch(group_msg("/清单 庙坪村")))
    assert f"#{b}" in everything and f"#{a}" not in everything


def test_binding_code_makes_the_sender_an_official(dispatcher: Dispatcher, core: Core) -> None:
    from storage.officials import create_binding_code

    with core.sessions.begin() as s:
        code, _ = create_binding_code(s, core.secret, "李主任", "village", "王家沟村", now=core.clock())
    assert "私聊" in _only_reply(dispatcher.dispatch(group_msg("/绑定 ABCD-EFGH-JKMN", sender="li")))
    assert "绑定成功" in _only_reply(dispatcher.dispatch(private_msg(f"/绑定 {code}", sender="li")))
    assert "绑定码无效" in _only_reply(dispatcher.dispatch(private_msg(f"/绑定 {code}", sender="li2")))
    rid = _report_id(_only_reply(dispatcher.dispatch(group_msg(HAZARD))))
    assert f"#{rid}" in _only_reply(dispatcher.dispatch(group_msg(f"/整改完成 {rid}", sender="li")))


def test_group_is_tagged_from_its_title_or_by_an_official(dispatcher: Dispatcher, core: Core) -> None:
    dispatcher.dispatch(group_msg("收到", chat="-5", title="克虎镇庙坪村村民群"))
    dispatcher.dispatch(group_msg("收到", chat="-6", title="安全生产交流群"))
    with core.sessions() as s:
        assert (get_group(s, "telegram", "-5").kind, get_group(s, "telegram", "-5").unit) == (
            "village",
            "庙坪村",
        )
        assert get_group(s, "telegram", "-6").kind is None
    with core.sessions.begin() as s:
        add_official(s, "telegram", "boss", "张站长", role="admin")
    reply = _only_reply(
        dispatcher.dispatch(group_msg("/登记群 应急站", chat="-6", title="安全生产交流群", sender="boss"))
    )
    assert "应急管理站" in reply
    with core.sessions() as s:
        assert get_group(s, "telegram", "-6").kind == "station"


def test_empty_and_huge_messages_do_not_crash(dispatcher: Dispatcher) -> None:
    assert dispatcher.dispatch(group_msg("   ")).replies == []
    dispatcher.dispatch(group_msg("塌" * 20000))  # must return, whatever it decides


def test_private_chatter_gets_a_short_guide(dispatcher: Dispatcher) -> None:
    assert "随手报" in _only_reply(dispatcher.dispatch(private_msg("你好")))


def test_deadline_follows_severity(dispatcher: Dispatcher, core: Core, clock: Clock) -> None:
    rid = _report_id(
        _only_reply(dispatcher.dispatch(group_msg("王家沟村小卖部里液化气罐漏气了，满屋子都是味")))
    )
    with core.sessions() as s:
        r = get_report(s, rid)
        assert r.severity == "major"
        assert r.deadline == clock.now + timedelta(days=7)


def test_logs_carry_no_text_and_no_private_sender(dispatcher: Dispatcher, caplog) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        dispatcher.dispatch(private_msg(TIP, sender="wxid_whistle"))
        dispatcher.dispatch(group_msg(HAZARD, sender="villager7"))
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "private message handled" not in logged  # private chats only feed the hourly counter
    assert "group message handled" in logged
    assert "wxid_whistle" not in logged and "偷偷开采" not in logged and "窑洞" not in logged


def test_private_dedup_record_cannot_be_lined_up_with_the_tip(
    dispatcher: Dispatcher, core: Core, clock: Clock
) -> None:
    from storage.models import ProcessedMessage

    clock.now = clock.now.replace(minute=37, second=12)
    rid = _tip_id(_only_reply(dispatcher.dispatch(private_msg(TIP))))
    with core.sessions() as s:
        row = s.scalars(select(ProcessedMessage).where(ProcessedMessage.private.is_(True))).one()
        assert row.report_id is None
        assert (row.created_at.minute, row.created_at.second) == (0, 0)
        assert get_tip(s, rid).created_at.minute == 0


def test_an_emergency_is_answered_with_the_safety_advice_first(dispatcher: Dispatcher, core: Core) -> None:
    reply = _only_reply(dispatcher.dispatch(group_msg("山上的火往村里烧过来了，快来人")))
    first, rest = reply.split("\n", 1)
    assert first == core.texts("advice.fire")
    assert "重大隐患" in rest
    report = get_report_by_reply(core, rest)
    assert (report.severity, report.category) == ("major", "fire")


def test_an_emergency_is_never_flood_limited(dispatcher: Dispatcher, core: Core) -> None:
    for i in range(core.profile.reports_per_hour):
        dispatcher.dispatch(group_msg(f"第{i}个路口的电线杆歪了快倒了", sender="busy"))
    assert "暂停登记" in _only_reply(dispatcher.dispatch(group_msg("村口电线断了掉在地上", sender="busy")))
    reply = _only_reply(dispatcher.dispatch(group_msg("井下透水了人没上来", sender="busy")))
    assert reply.startswith(core.texts("advice.mining"))


def test_a_private_emergency_gets_the_advice_and_a_receipt(dispatcher: Dispatcher, core: Core) -> None:
    reply = _only_reply(dispatcher.dispatch(private_msg("娃娃掉水库里了快来人")))
    assert reply.startswith(core.texts("advice.water"))
    assert "回执码" in reply


def get_report_by_reply(core: Core, reply: str) -> Report:
    """The report whose number a reply names."""
    with core.sessions() as session:
        report = get_report(session, _report_id(reply))
        assert report is not None
        session.expunge(report)
        return report


def test_a_receipt_reply_is_marked_so_a_refused_one_can_be_held(dispatcher: Dispatcher) -> None:
    filed = dispatcher.dispatch(private_msg(TIP))
    assert filed.outcome == "anonymous-filed"
    assert filed.replies[0].receipt and filed.replies[0].quote_message_id is None
    guide = dispatcher.dispatch(private_msg("你好"))
    assert guide.outcome == "guide" and not guide.replies[0].receipt


def test_a_held_receipt_comes_first_on_the_senders_next_private_message(
    dispatcher: Dispatcher, core: Core
) -> None:
    dispatcher.memory.held_receipts.hold("telegram", "wxid_a", "回执码：ABC", core.clock())
    replies = dispatcher.dispatch(private_msg("你好", sender="wxid_a")).replies
    assert [r.receipt for r in replies] == [True, False]
    assert replies[0].text == f"{core.texts('replies.receipt_again')}\n回执码：ABC"
    assert len(dispatcher.dispatch(private_msg("你好", sender="wxid_a")).replies) == 1  # shown once


def test_an_unknown_command_is_answered_in_private_only(dispatcher: Dispatcher) -> None:
    in_group = dispatcher.dispatch(group_msg("/whatever 1"))
    assert (in_group.outcome, in_group.replies) == ("unknown-command", [])
    assert "whatever" in _only_reply(dispatcher.dispatch(private_msg("/whatever 1")))


def test_a_command_for_another_bot_is_ignored(dispatcher: Dispatcher) -> None:
    msg = replace(group_msg("/help@other_bot"), bot_username="anquan_bot")
    result = dispatcher.dispatch(msg)
    assert (result.outcome, result.replies) == ("other-bot", [])


def test_a_villager_is_refused_an_official_command_by_name(dispatcher: Dispatcher) -> None:
    result = dispatcher.dispatch(group_msg("/整改完成 1", sender="villager"))
    assert result.outcome == "refused"
    assert "整改完成" in _only_reply(result)


def test_the_menu_lists_general_commands_before_official_ones(dispatcher: Dispatcher, core: Core) -> None:
    menu = dict(dispatcher.menu())
    general = [c for c in dispatcher.registry if c.aliases and not c.official_only]
    official = [c for c in dispatcher.registry if c.aliases and c.official_only]
    assert list(menu)[: len(general)] == [c.aliases[0] for c in general]
    assert set(list(menu)[len(general) :]) == {c.aliases[0] for c in official}
    assert menu[general[0].aliases[0]] == core.texts(f"help.{general[0].name}")
