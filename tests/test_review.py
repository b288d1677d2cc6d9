"""Tests for handlers.review and storage.review: the officials' review queue and the corrections it stores.

The classifier is a tiny double here (the real one is being reworked): ``UNSURE`` always goes to review, ``SURE``
is always a hazard, everything else is chatter. ``tests/test_e2e_review.py`` runs the real classifier.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text

from bot.app import Database
from handlers.classifier import Classification
from handlers.context import Core
from handlers.messages import DispatchResult, QuotedMessage
from handlers.profile import Profile
from handlers.review import NOTICE_BATCH_DELAY, REVIEW_TTL, excerpt, is_confirmation
from handlers.router import Router
from handlers.texts import Texts
from storage import review as review_repo
from storage.corrections import list_corrections
from storage.groups import upsert_group
from storage.models import OutboxMessage, Report, ReviewItem
from storage.officials import add_official
from storage.outbox import list_outbox
from storage.reports import get_report
from storage.tips import get_tip
from tests.conftest import Clock
from tests.helpers import file_report, group_msg, private_msg

UNSURE = "村口那堆东西看着不太对劲，也说不好"
SURE = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
VILLAGE_CHAT = "-100"
STATION_CHAT = "-200"


class FixedClassifier:
    """A classifier double: ``UNSURE`` (and texts starting with it) to review, ``SURE`` a hazard, else chatter."""

    def classify(self, text: str, chat: str = "group") -> Classification:
        if text.startswith(UNSURE):
            return Classification("chatter", "building", "general", None, 0.5, review=True, reason="证据不足")
        if text == SURE:
            return Classification("hazard", "building", "general", "王家沟村", 0.9, ("窑洞+裂",))
        return Classification("chatter", None, None, None, 0.9)


@pytest.fixture
def rcore(database: Database, texts: Texts, profile: Profile, clock: Clock) -> Core:
    """A core with the classifier double, a village official, an official of another village, a station group."""
    with database.sessions.begin() as s:
        add_official(s, "telegram", "vo1", "王村长", unit="王家沟村")
        add_official(s, "telegram", "other", "庙坪村干部", unit="庙坪村")
        add_official(s, "wechaty", "wx_admin", "安全办", role="admin", unit="应急管理站")
        upsert_group(s, "telegram", STATION_CHAT, title="应急管理站工作群", kind="station", unit="应急管理站")
    return Core(
        sessions=database.sessions,
        classifier=FixedClassifier(),  # type: ignore[arg-type]
        texts=texts,
        profile=profile,
        secret=b"test-secret",
        clock=clock,
    )


@pytest.fixture
def rrouter(rcore: Core) -> Router:
    """The router with the classifier double."""
    return Router(rcore)


def _reply(result: DispatchResult) -> str:
    assert len(result.replies) == 1, result
    return result.replies[0].text


def _items(core: Core) -> list[ReviewItem]:
    with core.sessions() as s:
        return review_repo.list_items(s)


def _notices(core: Core) -> dict[str, list[str]]:
    with core.sessions() as s:
        rows = [r for r in list_outbox(s) if r.event == "review-notice"]
    found: dict[str, list[str]] = {}
    for r in reversed(rows):
        found.setdefault(f"{r.platform}:{r.chat_id}", []).append(r.text)
    return found


def _official(text_: str, *, chat: str = "vo1", sender: str = "vo1") -> object:
    """A message from the village official: privately by default, or into a group when ``chat`` is a group id."""
    if chat.startswith("-"):
        return group_msg(text_, sender=sender, chat=chat)
    return replace(private_msg(text_, sender=sender), chat_id=chat)


# --- queueing -----------------------------------------------------------------------------------------


def test_uncertain_group_message_is_queued_silently_with_its_sender(rrouter: Router, rcore: Core) -> None:
    msg = group_msg(UNSURE, sender="villager7", message_id="55")
    result = rrouter.dispatch(msg)
    assert result.replies == [] and result.outcome == "review-queued"
    assert rrouter.dispatch(msg).outcome == "redelivered"
    (item,) = _items(rcore)
    assert (item.id, item.status, item.sender_id, item.sender_name, item.message_id) == (
        1,
        "pending",
        "villager7",
        "老王",
        "55",
    )
    assert (item.category, item.severity, item.text) == ("building", "general", UNSURE)
    with rcore.sessions() as s:
        assert s.scalars(select(Report)).all() == []


def test_add_item_is_once_per_message(rcore: Core) -> None:
    with rcore.sessions.begin() as s:
        group = upsert_group(s, "telegram", VILLAGE_CHAT, title="王家沟村民群")
        fields = dict(platform="telegram", chat_id=VILLAGE_CHAT, group_id=group.id, message_id="9")
        first = review_repo.add_item(
            s, **fields, sender_id="a", sender_name="", text="x", category=None, severity=None
        )
        again = review_repo.add_item(
            s, **fields, sender_id="a", sender_name="", text="x", category=None, severity=None
        )
        assert first.id == again.id and first.sender_name is None


def test_decide_is_first_come_first_served(rcore: Core) -> None:
    with rcore.sessions.begin() as s:
        group = upsert_group(s, "telegram", VILLAGE_CHAT, title="王家沟村民群")
        item = review_repo.add_item(
            s,
            platform="telegram",
            chat_id=VILLAGE_CHAT,
            group_id=group.id,
            message_id="1",
            sender_id="a",
            sender_name="老王",
            text=UNSURE,
            category=None,
            severity=None,
        )
        assert review_repo.decide(s, item, "ignored", "甲")
        assert not review_repo.decide(s, item, "filed", "乙")
        assert (item.status, item.decided_by) == ("ignored", "甲")
        with pytest.raises(ValueError):
            review_repo.decide(s, item, "pending", "丙")


# --- batched notices ------------------------------------------------------------------------------------


def test_two_items_make_one_notice_per_target_and_nothing_twice(
    rrouter: Router, rcore: Core, clock: Clock
) -> None:
    rrouter.dispatch(group_msg(UNSURE + "一"))
    clock.now += timedelta(minutes=1)
    rrouter.dispatch(group_msg(UNSURE + "二"))
    rrouter.housekeeping()
    assert _notices(rcore) == {}  # the first item has not waited the batch delay yet

    clock.now += NOTICE_BATCH_DELAY
    rrouter.housekeeping()
    notices = _notices(rcore)
    # The village's official privately, the station group; not the other village's official, not the admin.
    assert set(notices) == {"telegram:vo1", f"telegram:{STATION_CHAT}"}
    for texts_ in notices.values():
        assert len(texts_) == 1
        assert "R1" in texts_[0] and "R2" in texts_[0] and "/登记 R1" in texts_[0] and "/忽略 R2" in texts_[0]
        assert "可能的隐患（未登记）R1：" in texts_[0] and "王家沟村民群 10:00" in texts_[0]

    rrouter.housekeeping()
    clock.now += NOTICE_BATCH_DELAY
    rrouter.housekeeping()
    assert {k: len(v) for k, v in _notices(rcore).items()} == {
        "telegram:vo1": 1,
        f"telegram:{STATION_CHAT}": 1,
    }

    rrouter.dispatch(group_msg(UNSURE + "三"))
    clock.now += NOTICE_BATCH_DELAY
    rrouter.housekeeping()
    later = _notices(rcore)["telegram:vo1"]
    assert len(later) == 2 and "R3" in later[1] and "R1" not in later[1]
    with rcore.sessions() as s:
        station = s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == STATION_CHAT)).first()
        assert station is not None and station.group_id is not None  # pushes to a group name it


def test_a_long_batch_is_capped_and_says_how_many_more(rrouter: Router, rcore: Core, clock: Clock) -> None:
    for n in range(11):
        rrouter.dispatch(group_msg(f"{UNSURE}{n}"))
    clock.now += NOTICE_BATCH_DELAY
    rrouter.housekeeping()
    (notice,) = _notices(rcore)["telegram:vo1"]
    assert notice.startswith("有 11 条消息可能是隐患")
    assert "R8：" in notice and "R9：" not in notice
    assert "另有 3 条（R9–R11）" in notice


def test_untagged_group_notifies_only_the_stations(rrouter: Router, rcore: Core, clock: Clock) -> None:
    rrouter.dispatch(group_msg(UNSURE, chat="-300", title="跑车拉货群"))
    clock.now += NOTICE_BATCH_DELAY
    rrouter.housekeeping()
    assert set(_notices(rcore)) == {f"telegram:{STATION_CHAT}"}


def test_excerpt_cuts_long_texts_to_one_short_line() -> None:
    assert excerpt("第一行\n第二行") == "第一行 第二行"
    cut = excerpt("很" * 100)
    assert len(cut) == 40 and cut.endswith("…")


# --- expiry ---------------------------------------------------------------------------------------------


def test_items_nobody_decides_expire_after_a_week_without_a_correction(
    rrouter: Router, rcore: Core, clock: Clock
) -> None:
    rrouter.dispatch(group_msg(UNSURE))
    clock.now += REVIEW_TTL - timedelta(minutes=1)
    rrouter.housekeeping()
    assert _items(rcore)[0].status == "pending"
    clock.now += timedelta(minutes=2)
    rrouter.housekeeping()
    assert _items(rcore)[0].status == "expired"
    assert "已经处理过了（已过期）" in _reply(rrouter.dispatch(_official("/登记 R1")))
    with rcore.sessions() as s:
        assert list_corrections(s) == [] and s.scalars(select(Report)).all() == []


# --- /登记 and /忽略 ----------------------------------------------------------------------------------


def test_file_from_a_private_chat_files_for_the_sender_and_answers_the_group(
    rrouter: Router, rcore: Core
) -> None:
    rrouter.dispatch(group_msg(UNSURE, sender="villager7"))
    answer = _reply(rrouter.dispatch(_official("／登记r1")))
    rid = int(re.search(r"#(\d+)", answer).group(1))  # type: ignore[union-attr]
    assert answer.startswith("R1 已登记为隐患 #") and "王家沟村民群" in answer
    with rcore.sessions() as s:
        report = get_report(s, rid)
        assert report is not None
        assert (report.reporter_id, report.reporter_name, report.platform, report.category) == (
            "villager7",
            "老王",
            "telegram",
            "building",
        )
        assert report.village == "王家沟村"
        (push,) = [r for r in list_outbox(s) if r.event == "review-filed"]
        assert push.chat_id == VILLAGE_CHAT and f"已登记隐患 #{rid}（经干部确认）" in push.text
        assert "老王反映的“村口那堆东西" in push.text
        item = review_repo.get_item(s, 1)
        assert item is not None
        assert (item.status, item.report_id, item.decided_by) == ("filed", rid, "王村长(telegram:vo1)")
        (c,) = list_corrections(s)
        assert (c.text, c.chat, c.intent, c.category, c.severity, c.source) == (
            UNSURE,
            "group",
            "hazard",
            "building",
            "general",
            "review_file",
        )
    again = _reply(rrouter.dispatch(_official("/登记 R1")))
    assert again == "R1 已经处理过了（已登记），不再重复处理。"
    assert "已经处理过了（已登记）" in _reply(rrouter.dispatch(_official("/ignore R1")))


def test_file_typed_in_the_original_group_answers_there_directly(rrouter: Router, rcore: Core) -> None:
    rrouter.dispatch(group_msg(UNSURE))
    answer = _reply(rrouter.dispatch(_official("/file R1", chat=VILLAGE_CHAT)))
    assert "已登记隐患 #1（经干部确认）" in answer
    with rcore.sessions() as s:
        assert [r for r in list_outbox(s) if r.event == "review-filed"] == []


def test_ignore_stores_chatter_and_files_nothing(rrouter: Router, rcore: Core) -> None:
    rrouter.dispatch(group_msg(UNSURE))
    assert _reply(rrouter.dispatch(_official("/忽略 R1"))).startswith("R1 已忽略")
    with rcore.sessions() as s:
        assert s.scalars(select(Report)).all() == []
        (c,) = list_corrections(s)
        assert (c.intent, c.category, c.source, c.decided_by) == (
            "chatter",
            None,
            "review_ignore",
            "王村长(telegram:vo1)",
        )
    assert _items(rcore)[0].status == "ignored"


def test_file_that_intake_refuses_leaves_the_item_pending(rrouter: Router, rcore: Core, clock: Clock) -> None:
    rrouter.dispatch(group_msg(UNSURE, sender="villager7"))
    with rcore.sessions.begin() as s:
        for _ in range(rcore.profile.reports_per_hour):
            file_report(s, platform="telegram", reporter_id="villager7", created_at=clock.now)
    answer = _reply(rrouter.dispatch(_official("/登记 R1")))
    assert answer.startswith("R1 没能登记：") and "暂停登记" in answer
    (item,) = _items(rcore)
    assert (item.status, item.decided_by, item.report_id) == ("pending", None, None)
    with rcore.sessions() as s:
        assert list_corrections(s) == []


def test_bad_input_gets_a_clear_answer_and_changes_nothing(rrouter: Router, rcore: Core) -> None:
    rrouter.dispatch(group_msg(UNSURE))
    refused = _reply(rrouter.dispatch(private_msg("/登记 R1", sender="villager7")))
    assert "只有登记过的镇村干部" in refused
    assert "没有找到待确认的消息 R99" in _reply(rrouter.dispatch(_official("/登记 R99")))
    assert "请写上待确认消息的编号" in _reply(rrouter.dispatch(_official("/登记")))
    assert "请写上待确认消息的编号" in _reply(rrouter.dispatch(_official("/忽略 十二")))
    assert _items(rcore)[0].status == "pending"
    with rcore.sessions() as s:
        assert list_corrections(s) == []


# --- reply-/登记 ---------------------------------------------------------------------------------------


def _quote(text_: str, message_id: str = "m-1", sender: str = "villager7") -> QuotedMessage:
    return QuotedMessage(message_id=message_id, sender_id=sender, sender_name="王建军", text=text_)


def test_reply_file_files_the_quoted_message_for_its_sender_once(rrouter: Router, rcore: Core) -> None:
    quoted = _quote("路边电线杆有点斜")
    command = replace(_official("/登记", chat=VILLAGE_CHAT), reply_to=quoted)
    answer = _reply(rrouter.dispatch(command))
    assert answer.startswith("王建军反映的“路边电线杆有点斜”已登记隐患 #1（经干部确认）")
    with rcore.sessions() as s:
        report = get_report(s, 1)
        assert report is not None and (report.reporter_id, report.category) == ("villager7", "other")
        (c,) = list_corrections(s)
        assert (c.text, c.intent, c.source) == ("路边电线杆有点斜", "hazard", "reply_file")
    again = replace(_official("/登记", chat=VILLAGE_CHAT), reply_to=quoted)
    assert _reply(rrouter.dispatch(again)) == "这条消息已经登记为隐患 #1，不用重复登记。"


def test_reply_file_of_a_message_the_bot_filed_itself_is_not_filed_again(
    rrouter: Router, rcore: Core
) -> None:
    first = group_msg(SURE, sender="villager7", message_id="m-7", chat=VILLAGE_CHAT)
    assert "#1" in _reply(rrouter.dispatch(first))
    command = replace(_official("/登记", chat=VILLAGE_CHAT), reply_to=_quote(SURE, "m-7"))
    assert _reply(rrouter.dispatch(command)) == "这条消息已经登记为隐患 #1，不用重复登记。"


def test_reply_file_decides_a_pending_review_item(rrouter: Router, rcore: Core) -> None:
    rrouter.dispatch(group_msg(UNSURE, message_id="m-3", chat=VILLAGE_CHAT, sender="villager7"))
    command = replace(_official("/登记", chat=VILLAGE_CHAT), reply_to=_quote(UNSURE, "m-3"))
    assert "已登记隐患 #1" in _reply(rrouter.dispatch(command))
    (item,) = _items(rcore)
    assert (item.status, item.report_id) == ("filed", 1)
    assert "已经处理过了" in _reply(rrouter.dispatch(_official("/登记 R1")))


def test_reply_file_is_refused_outside_groups_and_for_commands(rrouter: Router, rcore: Core) -> None:
    private = replace(_official("/登记"), reply_to=_quote("路边电线杆有点斜"))
    assert "只能在群里用" in _reply(rrouter.dispatch(private))
    command = replace(_official("/登记", chat=VILLAGE_CHAT), reply_to=_quote("/清单"))
    assert "回复的是一条命令" in _reply(rrouter.dispatch(command))
    by_villager = replace(group_msg("/登记", sender="villager8"), reply_to=_quote("路边电线杆有点斜"))
    assert "只有登记过的镇村干部" in _reply(rrouter.dispatch(by_villager))
    with rcore.sessions() as s:
        assert s.scalars(select(Report)).all() == [] and list_corrections(s) == []


# --- /不是隐患 -------------------------------------------------------------------------------------------


def test_not_a_hazard_rejects_the_report_and_stores_chatter(rrouter: Router, rcore: Core) -> None:
    with rcore.sessions.begin() as s:
        group_report = file_report(s, text="院里的电线有点乱")
        tip = file_report(s, text="后沟好像有人挖煤", kind="tip", anonymous=True)
    answer = _reply(rrouter.dispatch(_official(f"/不是隐患 {group_report.id}")))
    assert answer == f"隐患 #{group_report.id} 已标记为不是隐患（不属实）。这次判断会用来改进识别。"
    assert _reply(rrouter.dispatch(_official(f"/notahazard #{tip.id} 核实是正规施工")))
    with rcore.sessions() as s:
        report = get_report(s, group_report.id)
        assert report is not None and report.status == "rejected"
        assert (report.events[-1].actor, report.events[-1].to_status) == ("王村长(telegram:vo1)", "rejected")
        assert get_report(s, tip.id).public_note == "核实是正规施工"  # type: ignore[union-attr]
        rows = list_corrections(s)
        assert [(c.text, c.chat, c.intent, c.source) for c in rows] == [
            ("院里的电线有点乱", "group", "chatter", "false_alarm"),
            ("后沟好像有人挖煤", "private", "chatter", "false_alarm"),
        ]
        assert rows[1].created_at.minute == 0
    twice = _reply(rrouter.dispatch(_official(f"/不是隐患 {group_report.id}")))
    assert "不能改为" in twice
    assert "没有找到隐患 #404" in _reply(rrouter.dispatch(_official("/不是隐患 404")))
    assert "请在命令后面写上隐患编号" in _reply(rrouter.dispatch(_official("/不是隐患")))
    with rcore.sessions() as s:
        assert len(list_corrections(s)) == 2


# --- private uncertain messages --------------------------------------------------------------------------


def _dump(db_core: Core) -> str:
    with db_core.sessions() as s:
        tables = inspect(s.get_bind()).get_table_names()
        return " ".join(str(row) for t in tables for row in s.execute(text(f"select * from {t}")))


def test_private_uncertain_message_is_asked_then_filed_anonymously_on_1(
    rrouter: Router, rcore: Core, clock: Clock
) -> None:
    sender = "whistle-4711"
    asked = _reply(rrouter.dispatch(private_msg(UNSURE, sender=sender)))
    assert asked == "要作为匿名举报登记吗？回复 1 确认"
    assert _items(rcore) == []
    assert UNSURE not in _dump(rcore)  # held in memory only until confirmed
    clock.now += timedelta(minutes=9)
    filed = _reply(rrouter.dispatch(private_msg("１", sender=sender)))
    assert "回执码：" in filed
    rid = int(re.search(r"T(\d{6})", filed).group(1))  # type: ignore[union-attr]
    with rcore.sessions() as s:
        tip = get_tip(s, rid)
        assert tip is not None and tip.kind == "hazard" and tip.text == UNSURE
        assert s.scalars(select(Report)).all() == []  # filed in the tip store, not among group reports
        (c,) = list_corrections(s)
        assert (c.text, c.chat, c.intent, c.category, c.source, c.decided_by) == (
            UNSURE,
            "private",
            "hazard",
            "building",
            "private_confirm",
            None,
        )
        assert c.created_at.minute == 0 and c.created_at.second == 0
    dump = _dump(rcore)
    assert sender not in dump and "匿名者" not in dump
    assert len(rrouter.pending) == 0
    # A second "1" files nothing more.
    assert "回执码：" not in _reply(rrouter.dispatch(private_msg("1", sender=sender)))


def test_private_question_lapses_after_ten_minutes_or_another_message(
    rrouter: Router, rcore: Core, clock: Clock
) -> None:
    rrouter.dispatch(private_msg(UNSURE, sender="p1"))
    clock.now += timedelta(minutes=11)
    late = _reply(rrouter.dispatch(private_msg("1", sender="p1")))
    assert "回执码：" not in late and "安全生产隐患随手报" in late

    rrouter.dispatch(private_msg(UNSURE, sender="p2"))
    rrouter.dispatch(private_msg("算了不说了", sender="p2"))
    assert "回执码：" not in _reply(rrouter.dispatch(private_msg("1", sender="p2")))

    rrouter.dispatch(private_msg(UNSURE, sender="p3"))
    assert "回执码：" not in _reply(rrouter.dispatch(private_msg("1", sender="someone-else")))
    with rcore.sessions() as s:
        assert s.scalars(select(Report)).all() == [] and list_corrections(s) == []


def test_housekeeping_forgets_expired_questions(rrouter: Router, clock: Clock) -> None:
    rrouter.dispatch(private_msg(UNSURE, sender="p1"))
    assert len(rrouter.pending) == 1
    clock.now += timedelta(minutes=11)
    rrouter.housekeeping()
    assert len(rrouter.pending) == 0


def test_confirmation_words() -> None:
    assert is_confirmation("1") and is_confirmation(" １ ") and is_confirmation("确认。")
    assert not is_confirmation("11") and not is_confirmation("好的")
