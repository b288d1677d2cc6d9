"""Tests for handlers.permissions, through the router as officials would meet them: roles, scopes, clear refusals.

Every refusal must leave the ledger, the groups and the outbox exactly as they were.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from handlers.context import Core
from handlers.messages import DispatchResult, MembershipChange
from handlers.router import Router
from storage.audit import list_events
from storage.groups import get_group, upsert_group
from storage.models import Broadcast, OutboxMessage
from storage.officials import add_official, create_binding_code, find_official, set_active
from storage.reports import get_report
from storage.review import add_item, get_item
from storage.tips import get_tip
from tests.helpers import file_report, group_msg, private_msg

TIP = "举报 后沟那个煤窑晚上偷偷开采，别说是我说的"


def _reply(result: DispatchResult) -> str:
    assert len(result.replies) == 1, result
    return result.replies[0].text


@pytest.fixture
def town(core: Core) -> dict[str, int]:
    """Officials of every role, a hazard in two villages, and the groups of both villages."""
    with core.sessions.begin() as s:
        add_official(s, "telegram", "admin", "镇安全办刘主任", "admin", "应急管理站")
        add_official(s, "telegram", "station", "派出所张所长", "station", "派出所")
        add_official(s, "telegram", "tipstation", "应急站李站长", "station", "应急管理站", tips=True)
        add_official(s, "telegram", "wang", "王家沟村王书记", "village", "王家沟村")
        upsert_group(s, "telegram", "-100", title="王家沟村民群", kind="village", unit="王家沟村")
        upsert_group(s, "telegram", "-200", title="庙坪村民群", kind="village", unit="庙坪村")
        own = file_report(s, text="王家沟村东头老窑洞裂了", village="王家沟村").id
        other = file_report(s, text="庙坪村小学门口电线杆歪了", village="庙坪村").id
    return {"own": own, "other": other}


def _status(core: Core, rid: int) -> str:
    with core.sessions() as s:
        report = get_report(s, rid)
        assert report is not None
        return report.status


def test_a_village_official_closes_only_their_own_village_hazards(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    done = _reply(router.dispatch(private_msg(f"/整改完成 {town['own']}", sender="wang")))
    assert f"#{town['own']}" in done and _status(core, town["own"]) == "rectified"
    refused = _reply(router.dispatch(private_msg(f"/整改完成 {town['other']} 已处理", sender="wang")))
    assert refused == (
        f"您是王家沟村的村干部，只能处理本村的隐患；#{town['other']} 在庙坪村，请联系镇安全办。"
    )
    assert _status(core, town["other"]) == "reported"
    for command in ("销号", "不属实", "不是隐患"):
        router.dispatch(private_msg(f"/{command} {town['other']}", sender="wang"))
    assert _status(core, town["other"]) == "reported"


def test_stations_and_admins_act_town_wide(router: Router, core: Core, town: dict[str, int]) -> None:
    router.dispatch(private_msg(f"/整改中 {town['other']}", sender="station"))
    assert _status(core, town["other"]) == "rectifying"
    router.dispatch(private_msg(f"/整改完成 {town['own']}", sender="admin"))
    assert _status(core, town["own"]) == "rectified"


def test_a_village_official_sees_other_villages_only_as_the_public_does(
    router: Router, town: dict[str, int]
) -> None:
    own = _reply(router.dispatch(private_msg(f"/查询 {town['own']}", sender="wang")))
    other = _reply(router.dispatch(private_msg(f"/查询 {town['other']}", sender="wang")))
    assert "老窑洞" in own
    assert "电线杆" not in other and f"#{town['other']}" in other
    assert "王家沟村" in _reply(router.dispatch(private_msg("/清单", sender="wang")))


def _file_tip(router: Router) -> int:
    reply = _reply(router.dispatch(private_msg(TIP, sender="whistle")))
    match = re.search(r"T(\d{6})", reply)
    assert match, reply
    return int(match.group(1))


def test_tips_are_read_and_closed_only_by_admins_and_granted_officials(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    number = _file_tip(router)
    for sender in ("station", "wang"):
        answer = _reply(router.dispatch(private_msg(f"/查询 T{number}", sender=sender)))
        assert answer == "举报线索只有镇安全办管理员（或经管理员授权的干部）才能查看和处理。"
        router.dispatch(private_msg(f"/整改中 T{number} 去看了", sender=sender))
        assert f"T{number}" not in _reply(router.dispatch(private_msg("/清单", sender=sender)))
    with core.sessions() as s:
        assert get_tip(s, number).status == "reported"
    assert "偷偷开采" in _reply(router.dispatch(private_msg(f"/查询 T{number}", sender="tipstation")))
    assert "偷偷开采" in _reply(router.dispatch(private_msg(f"/查询 T{number}", sender="admin")))
    assert f"T{number}" in _reply(router.dispatch(private_msg("/清单", sender="admin")))
    router.dispatch(private_msg(f"/整改中 T{number}", sender="tipstation"))
    with core.sessions() as s:
        assert get_tip(s, number).status == "rectifying"


def _broadcasts(core: Core) -> int:
    with core.sessions() as s:
        return s.scalar(select(func.count()).select_from(Broadcast)) or 0


def test_a_village_official_broadcasts_only_to_their_own_village(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    refused = _reply(router.dispatch(private_msg("/广播 全部 明天停电检修", sender="wang")))
    assert refused == "您只能向本村（王家沟村）的群广播，例如：/广播 王家沟村 内容"
    assert _reply(router.dispatch(private_msg("/广播 庙坪村 你好", sender="wang"))) == refused
    assert _broadcasts(core) == 0
    preview = _reply(router.dispatch(private_msg("/广播 王家沟村 明天停电检修", sender="wang")))
    assert "王家沟村" in preview and _broadcasts(core) == 1
    assert "庙坪村" in _reply(router.dispatch(private_msg("/广播 全部 防溺水", sender="station")))


def _kind(core: Core, chat: str) -> tuple[str | None, str | None]:
    with core.sessions() as s:
        group = get_group(s, "telegram", chat)
        assert group is not None
        return group.kind, group.unit


@pytest.mark.parametrize("title", ["老乡们的领导群", "家长学校交流群", "应急管理站家属群", "克虎煤业职工群"])
def test_a_title_never_makes_a_leadership_station_or_enterprise_group(
    router: Router, core: Core, title: str
) -> None:
    router.membership(MembershipChange("telegram", "-9", title, joined=True))
    router.dispatch(group_msg("大家好", chat="-9", title=title))
    assert _kind(core, "-9")[0] in (None, "village")


def test_only_an_admin_grants_leadership_station_or_enterprise_tags(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    for sender in ("station", "wang"):
        answer = _reply(
            router.dispatch(group_msg("/登记群 镇领导", chat="-9", title="随便聊", sender=sender))
        )
        assert answer == "只有镇安全办管理员才能把群登记为“领导”，或改动这类群的登记。"
        assert _kind(core, "-9") == (None, None)
    assert "镇安委会" in _reply(
        router.dispatch(group_msg("/登记群 镇领导", chat="-9", title="随便聊", sender="admin"))
    )
    assert _kind(core, "-9") == ("leadership", "镇安委会")
    # Nobody but an admin turns it back into something else.
    router.dispatch(group_msg("/登记群 王家沟村", chat="-9", title="随便聊", sender="wang"))
    router.dispatch(group_msg("/登记群 庙坪村", chat="-9", title="随便聊", sender="station"))
    assert _kind(core, "-9") == ("leadership", "镇安委会")
    with core.sessions() as s:
        tags = [e for e in list_events(s) if e.action == "group.tagged"]
        assert [(e.actor, e.detail) for e in tags] == [
            ("镇安全办刘主任(telegram:admin)", "-/- -> leadership/镇安委会")
        ]


def test_a_village_official_tags_only_their_own_village(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    answer = _reply(router.dispatch(group_msg("/登记群 庙坪村", chat="-8", title="村务群", sender="wang")))
    assert answer == "您只能把群登记为本村（王家沟村）的群。"
    assert _kind(core, "-8") == (None, None)
    router.dispatch(group_msg("/登记群 王家沟", chat="-8", title="村务群", sender="wang"))
    assert _kind(core, "-8") == ("village", "王家沟村")
    # Another village's group stays theirs.
    router.dispatch(group_msg("/登记群 王家沟村", chat="-200", title="庙坪村民群", sender="wang"))
    assert _kind(core, "-200") == ("village", "庙坪村")


def test_review_items_of_another_village_are_out_of_reach(
    router: Router, core: Core, town: dict[str, int]
) -> None:
    with core.sessions.begin() as s:
        group = get_group(s, "telegram", "-200")
        assert group is not None
        item = add_item(
            s,
            platform="telegram",
            chat_id="-200",
            group_id=group.id,
            message_id="55",
            sender_id="u5",
            sender_name="老李",
            text="庙坪村桥头护栏好像松了",
            category="traffic",
            severity="general",
            now=core.clock(),
        ).id
    answer = _reply(router.dispatch(private_msg(f"/忽略 R{item}", sender="wang")))
    assert answer == "您是王家沟村的村干部，只能处理本村群里的消息。"
    router.dispatch(private_msg(f"/登记 R{item}", sender="wang"))
    with core.sessions() as s:
        assert get_item(s, item).status == "pending"
    router.dispatch(private_msg(f"/忽略 R{item}", sender="station"))
    with core.sessions() as s:
        assert get_item(s, item).status == "ignored"


def test_a_disabled_official_has_no_powers_left(router: Router, core: Core, town: dict[str, int]) -> None:
    with core.sessions.begin() as s:
        official = find_official(s, "telegram", "station")
        assert official is not None
        set_active(s, official, False)
    answer = _reply(router.dispatch(private_msg(f"/整改完成 {town['other']}", sender="station")))
    assert "只有登记过的镇村干部" in answer and _status(core, town["other"]) == "reported"


def _outbox(core: Core) -> list[OutboxMessage]:
    with core.sessions() as s:
        return list(s.scalars(select(OutboxMessage)))


@pytest.mark.parametrize("typed", ["张三的绑定码 {code}", "/绑定 {code}", "/bind {code}", "{lower}"])
def test_a_binding_code_seen_in_a_group_is_voided_and_the_admins_are_told(
    router: Router, core: Core, town: dict[str, int], typed: str
) -> None:
    with core.sessions.begin() as s:
        code, row = create_binding_code(s, core.secret, "赵主任", "village", "庙坪村", now=core.clock())
    text = typed.format(code=code, lower="-".join(code[i : i + 4] for i in (0, 4, 8)).lower())
    warning = _reply(router.dispatch(group_msg(text, sender="nosy")))
    assert warning == "绑定码只能私聊机器人使用。刚才群里出现的绑定码已作废，请向镇安全办重新索取。"
    assert "绑定码无效" in _reply(router.dispatch(private_msg(f"/绑定 {code}", sender="nosy")))
    with core.sessions() as s:
        assert find_official(s, "telegram", "nosy") is None
        assert [e.action for e in list_events(s)] == ["code.leaked"]
    alerts = [m for m in _outbox(core) if m.event == "code-leaked"]
    assert [(m.platform, m.chat_id) for m in alerts] == [("telegram", "admin")]
    assert "赵主任" in alerts[0].text and f"第 {row.id} 号" in alerts[0].text and code not in alerts[0].text


def test_code_shaped_chatter_that_is_no_code_gets_no_answer(router: Router, core: Core) -> None:
    assert router.dispatch(group_msg("快递单号 ABCD-EFGH-JKMN 到了没")).replies == []
    assert _outbox(core) == []


def test_a_bound_code_makes_the_official_the_code_named(router: Router, core: Core) -> None:
    with core.sessions.begin() as s:
        code, _ = create_binding_code(
            s, core.secret, "赵主任", "village", "庙坪村", tips=False, now=core.clock()
        )
    answer = _reply(router.dispatch(private_msg(f"/绑定 {code}", sender="zhao")))
    assert answer.startswith("绑定成功：赵主任（庙坪村，村干部）")
    with core.sessions() as s:
        official = find_official(s, "telegram", "zhao")
        assert official is not None and (official.role, official.unit, official.tips) == (
            "village",
            "庙坪村",
            False,
        )
        assert [e.action for e in list_events(s)] == ["code.redeemed"]
