"""Tests for handlers.ledger: the officials' 台账 workflow through the router, as they would type it.

Registered → assigned → measures and funds → 五落实 (major) → rectified → accepted by someone else → closed; a
failed acceptance sends it back and counts. Every refusal changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.context import Core
from handlers.messages import DispatchResult
from handlers.router import Router
from storage.ledger import five_items
from storage.models import Report
from storage.officials import add_official
from storage.reports import get_report
from tests.helpers import file_report, group_msg, private_msg


def _reply(result: DispatchResult) -> str:
    assert len(result.replies) == 1, result
    return result.replies[0].text


def _say(router: Router, sender: str, text: str) -> str:
    return _reply(router.dispatch(private_msg(text, sender=sender)))


def _report(core: Core, rid: int) -> Report:
    with core.sessions() as s:
        report = get_report(s, rid)
        assert report is not None
        s.expunge(report)
        return report


@pytest.fixture
def town(core: Core) -> dict[str, int]:
    """An admin, two station officials, a village official, and a major and a general hazard in 王家沟村."""
    with core.sessions.begin() as s:
        add_official(s, "telegram", "admin", "刘主任", "admin", "应急管理站")
        add_official(s, "telegram", "zhang", "张站长", "station", "应急管理站")
        add_official(s, "telegram", "li", "李所长", "station", "派出所")
        add_official(s, "telegram", "wang", "王书记", "village", "王家沟村")
        deadline = core.clock() + timedelta(days=7)
        major = file_report(
            s, text="王家沟村后山煤窑巷道顶板裂缝", severity="major", village="王家沟村", deadline=deadline
        ).id
        general = file_report(s, text="王家沟村口路灯杆歪了", village="王家沟村", deadline=deadline).id
    return {"major": major, "general": general}


def test_a_major_hazard_goes_from_registration_to_closing(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    rid = town["major"]
    assert (
        _say(router, "zhang", f"/指派 {rid} 克虎煤业 赵矿长")
        == f"隐患 #{rid} 已指派给 克虎煤业，责任人 赵矿长。"
    )
    assert "加装锚杆支护" in _say(router, "wang", f"/措施 {rid} 停产撤人，加装锚杆支护")
    assert "¥50,000" in _say(router, "wang", f"/资金 {rid} 5万")
    assert "镇安委会" in _say(router, "admin", f"/督办 {rid} 镇领导")
    assert "2026-06-30" in _say(router, "zhang", f"/延期 {rid} 6月30日 锚杆材料未到货")
    report = _report(core, rid)
    assert (report.responsible_unit, report.responsible_person, report.funds_fen) == (
        "克虎煤业",
        "赵矿长",
        5_000_000,
    )
    assert report.supervising_unit == "镇安委会"
    assert (
        report.deadline is not None and report.deadline.astimezone(core.tz).date().isoformat() == "2026-06-30"
    )

    assert "已整改" in _say(router, "wang", f"/整改完成 {rid} 支护完成")
    refused = _say(router, "zhang", f"/验收 {rid} 合格")
    assert refused == (
        f"隐患 #{rid} 是重大隐患，五落实还差：目标任务、经费物资、机构人员、时间要求、安全措施和应急预案，全部落实后才能验收。"
    )
    assert _report(core, rid).status == "rectified"
    for word in ("目标", "经费", "人员", "时限"):
        _say(router, "wang", f"/五落实 {rid} {word} 已落实")
    assert "还差：安全措施和应急预案" in _say(router, "wang", f"/五落实 {rid} 预案 未落实 正在编制")
    assert "全部落实" in _say(router, "wang", f"/五落实 {rid} 应急预案 已落实 已报备")

    failed = _say(router, "zhang", f"/验收 {rid} 不合格 两处锚杆间距超标")
    assert failed == f"隐患 #{rid} 验收不合格（第 1 次）：两处锚杆间距超标。已退回“整改中”，继续挂账。"
    report = _report(core, rid)
    assert (report.status, report.failed_acceptances, report.acceptance_verdict) == (
        "rectifying",
        1,
        "failed",
    )

    _say(router, "wang", f"/整改完成 {rid} 补打锚杆")
    assert _say(router, "zhang", f"/验收 {rid} 合格 复查合格") == f"隐患 #{rid} 验收合格，已销号。"
    report = _report(core, rid)
    assert (
        report.status == "closed"
        and report.closed_at is not None
        and report.accepted_by == "张站长(telegram:zhang)"
    )
    with core.sessions() as s:
        assert all(item.done for item in five_items(s, rid).values()) and len(five_items(s, rid)) == 5
        actions = [(e.action, e.actor) for e in get_report(s, rid).events]  # type: ignore[union-attr]
    assert ("assign", "张站长(telegram:zhang)") in actions and ("five", "王书记(telegram:wang)") in actions
    assert [a for a, _ in actions].count("status") == 4  # rectified, failed → rectifying, rectified, closed


def test_the_card_shows_the_whole_ledger_entry_and_its_timeline(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    rid = town["major"]
    _say(router, "zhang", f"/指派 {rid} 克虎煤业 赵矿长")
    _say(router, "wang", f"/资金 {rid} 12500.5")
    _say(router, "wang", f"/五落实 {rid} 经费 已落实")
    _say(router, "zhang", f"/延期 {rid} 2026-07-01 等设备")
    card = _say(router, "zhang", f"/查询 {rid}")
    for shown in (
        "责任单位：克虎煤业 赵矿长",
        "资金：¥12,500.50",
        "经费物资✓",
        "目标任务✗",
        "延期 1 次",
        "经过：",
        "指派",
    ):
        assert shown in card, shown
    assert "顶板裂缝" in card and "（张站长）" in card
    # Villagers see the public card only.
    public = _reply(router.dispatch(group_msg(f"/查询 {rid}")))
    assert "克虎煤业" not in public and "顶板裂缝" not in public


def test_who_may_do_what_and_that_refusals_change_nothing(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    rid = town["major"]
    assert _say(router, "wang", f"/指派 {rid} 克虎煤业") == "只有镇安全办或站所干部才能指派责任单位。"
    assert _say(router, "wang", f"/延期 {rid} 6月30日 等") == "只有镇安全办或站所干部才能延长整改期限。"
    assert _say(router, "wang", f"/督办 {rid} 镇领导") == "只有镇安全办或站所干部才能指定督办单位。"
    before = _report(core, rid)
    assert before.responsible_unit is None and before.supervising_unit is None
    _say(router, "zhang", f"/整改完成 {rid}")
    assert "要由另一名干部验收" in _say(router, "zhang", f"/验收 {rid} 不合格 自己验")
    assert "只有镇安全办或站所干部才能验收" in _say(router, "wang", f"/验收 {rid} 合格")
    assert _report(core, rid).status == "rectified"
    villager = _reply(router.dispatch(group_msg(f"/验收 {rid} 合格", sender="someone")))
    assert "只有登记过的镇村干部" in villager


def test_general_hazards_close_by_acceptance_without_five_items(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    rid = town["general"]
    assert "五落实只用于重大隐患" in _say(router, "wang", f"/五落实 {rid} 经费 已落实")
    assert "要先 /整改完成" in _say(router, "li", f"/销号 {rid}")
    _say(router, "wang", f"/整改完成 {rid}")
    assert _say(router, "li", f"/销号 {rid}") == f"隐患 #{rid} 验收合格，已销号。"
    assert "不能再改" in _say(router, "wang", f"/措施 {rid} 再加固")


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("/资金 {rid} 很多钱", "看不懂金额“很多钱”"),
        ("/延期 {rid} 下个月 等", "看不懂日期“下个月”"),
        ("/延期 {rid} 2026-01-01 等", "早于今天"),
        ("/延期 {rid} 6月30日", "延期要写理由"),
        ("/五落实 {rid} 钱 已落实", "五落实里没有“钱”这一项"),
        ("/五落实 {rid} 经费 差不多", "请写“已落实”或“未落实”"),
        ("/验收 {rid} 还行", "请写“合格”或“不合格 原因”"),
        ("/指派 {rid}", "用法：/指派 <编号> <单位> [责任人]"),
        ("/措施 abc", "用法：/措施 <编号> <内容>"),
    ],
)
def test_bad_arguments_get_a_clear_answer_and_change_nothing(
    router: Router, core: Core, town: dict[str, int], typed: str, answer: str
) -> None:
    rid = town["major"]
    before = _report(core, rid)
    assert answer in _say(router, "zhang", typed.format(rid=rid))
    after = _report(core, rid)
    assert (after.deadline, after.funds_fen, after.status, after.responsible_unit) == (
        before.deadline,
        before.funds_fen,
        before.status,
        before.responsible_unit,
    )


def test_several_numbers_are_each_confirmed_and_loose_ones_refused(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    a, b = town["major"], town["general"]
    answer = _say(router, "zhang", f"/整改完成 {a}，{b} 都修好了")
    assert answer.splitlines() == [
        f"隐患 #{a} 已标记为已整改。整改说明：都修好了",
        f"隐患 #{b} 已标记为已整改。整改说明：都修好了",
    ]
    assert _report(core, a).rectification_note == "都修好了"
    for loose in (f"{b}.5", "1234567890", f"{b}号"):
        refused = _say(router, "zhang", f"/不属实 {loose}")
        assert "请在命令后面写上隐患编号" in refused, loose
    assert _report(core, b).status == "rectified"


def test_the_list_shows_what_awaits_acceptance_apart_and_all_of_the_town_on_request(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    major, general = town["major"], town["general"]
    with core.sessions.begin() as s:
        other = file_report(s, text="庙坪村小学门口电线杆歪了", village="庙坪村").id
    _say(router, "wang", f"/整改完成 {general}")
    _say(router, "zhang", f"/验收 {general} 不合格 灯杆基础没浇")
    _say(router, "wang", f"/整改完成 {general} 补浇了基础")
    listing = _reply(router.dispatch(group_msg("/清单")))  # the 王家沟村 group: its own village
    head, _, awaiting = listing.partition("已整改待验收 1 条：")
    assert f"#{major}" in head and f"#{general}" not in head and f"#{other}" not in listing
    assert f"#{general}" in awaiting and "验收不合格 1 次" in awaiting
    everything = _reply(router.dispatch(group_msg("/清单 全部")))
    assert everything.startswith("全镇") and f"#{other}" in everything and f"#{major}" in everything
