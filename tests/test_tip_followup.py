"""Tests for handlers.tip_followup: the anonymous two-way thread and the reward ledger, through the router.

The tipster is "whistle" on Telegram; after a whole thread, no table and no log line may hold that id.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text

from handlers.context import Core
from handlers.messages import DispatchResult
from handlers.router import Router
from storage.models import OutboxMessage
from storage.officials import add_official
from storage.tip_threads import get_reward, thread
from storage.tips import get_tip
from tests.conftest import Clock
from tests.helpers import group_msg, private_msg

TIP = "举报 后沟那个煤窑晚上偷偷开采，别说是我说的"
TIPSTER = "whistle"


def _reply(result: DispatchResult) -> str:
    assert result.replies, result
    return result.replies[-1].text


def _say(router: Router, sender: str, words: str) -> str:
    return _reply(router.dispatch(private_msg(words, sender=sender)))


@pytest.fixture
def officials(core: Core) -> None:
    with core.sessions.begin() as s:
        add_official(s, "telegram", "admin", "刘主任", "admin", "应急管理站")
        add_official(s, "telegram", "tipper", "李站长", "station", "应急管理站", tips=True)
        add_official(s, "telegram", "station", "张所长", "station", "派出所")


def _file_tip(router: Router) -> tuple[str, str]:
    answer = _say(router, TIPSTER, TIP)
    number = re.search(r"(T\d{6})", answer)
    code = re.search(r"回执码：(\S+)", answer)
    assert number and code, answer
    return number.group(1), code.group(1)


def test_a_question_reaches_the_tipster_on_progress_and_the_answer_reaches_the_officials(
    router: Router, core: Core, clock: Clock, officials: None
) -> None:
    number, code = _file_tip(router)
    asked = _say(router, "tipper", f"/追问 {number} 具体在后沟哪个位置？从哪条路进去？")
    assert f"已在举报 {number} 下追问" in asked and "不会主动联系举报人" in asked
    assert _say(router, "station", f"/追问 {number} 谁在挖？").startswith("举报线索只有镇安全办管理员")
    in_group = _reply(router.dispatch(group_msg(f"/追问 {number} 谁？", sender="admin")))
    assert "没有找到" in in_group

    progress = _say(router, TIPSTER, f"/进度 {code}")
    assert "干部有 1 个问题想请您补充" in progress and "1. 具体在后沟哪个位置？从哪条路进去？" in progress
    answered = _say(router, TIPSTER, "在后沟第三个岔口往里走，晚上十点以后开工")
    assert answered == f"已补充到您的举报 {number}，谢谢。干部会看到，但不会知道您是谁。"

    clock.now += timedelta(minutes=11)  # the window has closed: plain text is a message again
    assert "已补充" not in _say(router, TIPSTER, "你好")
    assert "已补充" in _say(router, TIPSTER, f"/补充 {code} 还有两辆三轮车拉煤")

    card = _say(router, "admin", f"/查询 {number}")
    lines = card.splitlines()
    head = lines.index("追问与补充：")
    assert "李站长 问：具体在后沟哪个位置？从哪条路进去？（已读）" in lines[head + 1]
    assert (
        "举报人 答：在后沟第三个岔口往里走" in lines[head + 2]
        and "举报人 答：还有两辆三轮车拉煤" in lines[head + 3]
    )
    with core.sessions() as s:
        assert [m.kind for m in thread(s, int(number[1:]))] == ["question", "answer", "answer"]
        notices = list(s.scalars(select(OutboxMessage).where(OutboxMessage.event == "tip-supplement")))
    # One notice per tip-permitted official and hour, sent at the next full hour, naming only the number.
    assert sorted(n.chat_id for n in notices) == ["admin", "tipper"]
    assert all(
        n.not_before.minute == 0 and n.not_before > core.clock() - timedelta(minutes=11) for n in notices
    )
    assert all(n.text == f"举报 {number} 有新的补充，请私聊发 /查询 {number} 查看。" for n in notices)


def test_supplements_only_in_private_and_a_code_shown_in_a_group_dies(
    router: Router, core: Core, officials: None
) -> None:
    number, code = _file_tip(router)
    refused = _reply(router.dispatch(group_msg(f"/补充 {code} 其实我是老王")))
    assert "只能私聊" in refused and number not in refused
    assert (
        _say(router, TIPSTER, f"/补充 {code} 其实我是老王")
        == "没有找到这个回执码，请核对后再试（不区分大小写，可以不写横线）。"
    )
    with core.sessions() as s:
        assert thread(s, int(number[1:])) == []


def test_no_trace_of_the_tipster_after_a_full_thread(
    router: Router, core: Core, officials: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number, code = _file_tip(router)
    _say(router, "admin", f"/追问 {number} 在哪？")
    _say(router, TIPSTER, f"/进度 {code}")
    _say(router, TIPSTER, "后沟")
    _say(router, "admin", f"/属实 {number} 违法行为 20万")
    _say(router, TIPSTER, f"/领奖 {code}")
    router.housekeeping()
    with core.sessions() as s:
        tables = inspect(s.get_bind()).get_table_names()
        dump = " ".join(str(row) for t in tables for row in s.execute(text(f"select * from {t}")))
    assert TIPSTER not in dump and "匿名者" not in dump
    assert TIPSTER not in caplog.text and "匿名者" not in caplog.text


@pytest.mark.parametrize(
    ("words", "amount"),
    [
        ("违法行为 20万", "¥30,000"),  # 15% of the fine
        ("违法行为 1万", "¥3,000"),  # the minimum
        ("重大隐患 500万", "¥300,000"),  # the maximum
        ("重大隐患", "¥3,000"),  # no fine: the minimum
        ("一般隐患", "¥500"),  # the town's flat amount
    ],
)
def test_rewards_follow_the_tariff(
    router: Router, core: Core, officials: None, words: str, amount: str
) -> None:
    number, code = _file_tip(router)
    verified = _say(router, "admin", f"/属实 {number} {words}")
    assert f"奖励 {amount}" in verified and "2026-08-09" in verified  # 60 days after 2026-06-10
    assert f"奖励 {amount}" in _say(router, TIPSTER, f"/进度 {code}")
    with core.sessions() as s:
        assert get_tip(s, int(number[1:])).status == "rectifying"


def test_only_an_admin_verifies_overrides_and_pays(router: Router, core: Core, officials: None) -> None:
    number, code = _file_tip(router)
    assert (
        _say(router, "tipper", f"/属实 {number} 违法行为 20万")
        == "举报的核实、奖励和兑付只有镇安全办管理员才能办理。"
    )
    assert "还没有奖励记录" in _say(router, "admin", f"/已兑付 {number}")
    _say(router, "admin", f"/属实 {number} 违法行为 20万")
    assert "请这样写" in _say(router, "admin", f"/奖励 {number} 50000")
    overridden = _say(router, "admin", f"/奖励 {number} 5万 线索关键，县里同意提高")
    assert "改为 ¥50,000" in overridden and "按标准算是 ¥30,000" in overridden
    claim = _say(router, TIPSTER, f"/领奖 {code}")
    assert "¥50,000" in claim and "身份证件" in claim  # the profile's claiming instructions
    assert "已记为兑付" in _say(router, "admin", f"/已兑付 {number} 现金已领")
    assert "不能再兑付" in _say(router, "admin", f"/已兑付 {number}")
    assert "已兑付" in _say(router, TIPSTER, f"/进度 {code}")
    card = _say(router, "admin", f"/查询 {number}")
    assert (
        "奖励：违法行为｜罚款 ¥200,000｜奖励 ¥50,000（按标准 ¥30,000，改动理由：线索关键，县里同意提高）｜已兑付"
        in card
    )


def test_an_unclaimed_reward_expires_after_sixty_days(
    router: Router, core: Core, clock: Clock, officials: None
) -> None:
    number, code = _file_tip(router)
    _say(router, "admin", f"/属实 {number} 一般隐患")
    clock.now += timedelta(days=59)
    router.housekeeping()
    assert "请在 2026-08-09 前" in _say(router, TIPSTER, f"/领奖 {code}")
    clock.now += timedelta(days=2)
    router.housekeeping()
    assert "已超过领取期限" in _say(router, TIPSTER, f"/领奖 {code}")
    with core.sessions() as s:
        assert get_reward(s, int(number[1:])).status == "expired"  # type: ignore[union-attr]


def test_the_first_reporter_keeps_the_reward_of_one_matter(
    router: Router, core: Core, clock: Clock, officials: None
) -> None:
    first, _ = _file_tip(router)
    clock.now += timedelta(hours=3)
    later, later_code = _file_tip(router)
    _say(router, "admin", f"/属实 {first} 违法行为 20万")
    _say(router, "admin", f"/属实 {later} 违法行为 20万")
    linked = _say(router, "admin", f"/同一事项 {later} {first}")
    assert linked == f"已记为同一事项：奖励归先受理的 {first}，{later} 不再单独奖励。"
    with core.sessions() as s:
        assert get_reward(s, int(later[1:])).status == "void"  # type: ignore[union-attr]
        assert get_reward(s, int(first[1:])).status == "pending"  # type: ignore[union-attr]
    assert "奖励已取消" in _say(router, TIPSTER, f"/进度 {later_code}")


def test_an_untrue_tip_ends_its_reward(router: Router, core: Core, officials: None) -> None:
    number, code = _file_tip(router)
    _say(router, "admin", f"/属实 {number} 一般隐患")
    _say(router, "admin", f"/不属实 {number} 复查是正规施工")
    with core.sessions() as s:
        assert get_reward(s, int(number[1:])).status == "void"  # type: ignore[union-attr]
    assert "已取消" in _say(router, TIPSTER, f"/领奖 {code}")
    assert "没有核实结果" in _say(router, TIPSTER, f"/领奖 {_file_tip(router)[1]}")


def test_closed_tips_are_purged_after_the_retention_period_once_a_day(
    router: Router, core: Core, clock: Clock, officials: None
) -> None:
    number, code = _file_tip(router)
    _say(router, "admin", f"/追问 {number} 在哪？")
    _say(router, "admin", f"/属实 {number} 一般隐患")
    _say(router, "admin", f"/销号 {number}")
    clock.now += timedelta(days=729)
    router.housekeeping()
    with core.sessions() as s:
        assert get_tip(s, int(number[1:])).text == TIP  # type: ignore[union-attr]
    clock.now += timedelta(days=2)
    router.housekeeping()
    with core.sessions() as s:
        tip = get_tip(s, int(number[1:]))
        assert tip is not None and tip.text == "" and tip.purged_at is not None
        assert thread(s, tip.id) == [] and get_reward(s, tip.id) is not None  # the statistics stay
    assert "原文已删除" in _say(router, "admin", f"/查询 {number}")
    assert "偷偷开采" not in _say(router, TIPSTER, f"/进度 {code}")
