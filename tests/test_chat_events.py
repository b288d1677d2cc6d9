"""Tests for handlers.chat_events: membership, chat migration, refused deliveries, log-outs and the chores."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers.chat_events import GROUP_KEY_TTL, PRIVATE_KEY_TTL, ChatEvents
from handlers.chat_memory import ChatMemory
from handlers.context import Core
from handlers.messages import MembershipChange, Reply
from storage import idempotency
from storage.groups import get_group, upsert_group
from storage.models import AuditEvent, ProcessedMessage
from storage.outbox import enqueue, list_outbox
from tests.conftest import Clock
from tests.helpers import file_report


@pytest.fixture
def events(core: Core) -> ChatEvents:
    """The chat-events service on each test database, with its own in-memory stores."""
    return ChatEvents(core, ChatMemory(core))


def test_joining_a_village_group_tags_it_from_its_title_and_leaving_marks_it_inactive(
    events: ChatEvents, core: Core
) -> None:
    events.membership(MembershipChange("telegram", "-5", "克虎镇庙坪村村民群", joined=True))
    with core.sessions() as s:
        group = get_group(s, "telegram", "-5")
        assert (group.kind, group.unit, group.active) == ("village", "庙坪村", True)
        assert [a.action for a in s.scalars(select(AuditEvent))] == ["group.tagged"]
    events.membership(MembershipChange("telegram", "-5", None, joined=False))
    with core.sessions() as s:
        group = get_group(s, "telegram", "-5")
        assert (group.kind, group.active) == ("village", False)


def test_a_title_never_makes_a_group_a_station_or_leadership(events: ChatEvents, core: Core) -> None:
    events.membership(MembershipChange("telegram", "-6", "克虎镇应急管理站工作群", joined=True))
    events.membership(MembershipChange("telegram", "-7", "安全生产交流群", joined=True))
    with core.sessions() as s:
        assert get_group(s, "telegram", "-6").kind is None
        assert get_group(s, "telegram", "-7").kind is None
        assert get_group(s, "telegram", "-7").active is True


def test_rejoining_keeps_a_tag_an_official_gave(events: ChatEvents, core: Core) -> None:
    with core.sessions.begin() as s:
        upsert_group(s, "telegram", "-8", title="工作群", kind="station", unit="应急管理站", active=False)
    events.membership(MembershipChange("telegram", "-8", "庙坪村村民群", joined=True))
    with core.sessions() as s:
        group = get_group(s, "telegram", "-8")
        assert (group.kind, group.unit, group.active, group.title) == (
            "station",
            "应急管理站",
            True,
            "庙坪村村民群",
        )


def test_a_migrated_group_keeps_its_tag_and_its_queued_pushes_follow(events: ChatEvents, core: Core) -> None:
    with core.sessions.begin() as s:
        group = upsert_group(s, "telegram", "-100", title="王家沟村民群", kind="village", unit="王家沟村")
        enqueue(
            s,
            dedup_key="k1",
            event="reminder",
            platform="telegram",
            chat_id="-100",
            text="提醒",
            group_id=group.id,
        )
    events.migrate_chat("telegram", "-100", "-100999")
    with core.sessions() as s:
        assert get_group(s, "telegram", "-100") is None
        moved = get_group(s, "telegram", "-100999")
        assert (moved.kind, moved.unit) == ("village", "王家沟村")
        assert [m.chat_id for m in list_outbox(s)] == ["-100999"]


def test_migrating_onto_a_known_chat_retires_the_old_group(events: ChatEvents, core: Core) -> None:
    with core.sessions.begin() as s:
        upsert_group(s, "telegram", "-1", title="旧群", kind="village", unit="庙坪村")
        upsert_group(s, "telegram", "-2", title="新群")
    events.migrate_chat("telegram", "-1", "-2")
    events.migrate_chat("telegram", "-404", "-405")  # unknown: nothing to do, no error
    with core.sessions() as s:
        assert get_group(s, "telegram", "-1").active is False
        assert get_group(s, "telegram", "-2").active is not False
        assert get_group(s, "telegram", "-405") is None


def test_an_unreachable_group_is_no_longer_pushed_to(events: ChatEvents, core: Core) -> None:
    with core.sessions.begin() as s:
        upsert_group(s, "telegram", "-3", title="王家沟村民群", kind="village", unit="王家沟村")
    events.mark_inactive("telegram", "-3")
    with core.sessions() as s:
        group = get_group(s, "telegram", "-3")
        assert (group.active, group.kind) == (False, "village")


def test_a_logout_alerts_leadership_and_station_groups_on_the_other_platforms(
    events: ChatEvents, core: Core
) -> None:
    with core.sessions.begin() as s:
        upsert_group(s, "telegram", "-10", title="领导群", kind="leadership", unit="镇领导")
        upsert_group(s, "telegram", "-11", title="站群", kind="station", unit="应急管理站")
        upsert_group(s, "telegram", "-12", title="村群", kind="village", unit="王家沟村")
        upsert_group(s, "telegram", "-13", title="旧领导群", kind="leadership", unit="镇领导", active=False)
        upsert_group(s, "wechaty", "r1@chatroom", title="微信领导群", kind="leadership", unit="镇领导")
    assert events.platform_event("wechaty", "login") == 0
    assert events.platform_event("wechaty", "logout") == 2
    assert events.platform_event("wechaty", "logout") == 0  # the same minute: not twice
    with core.sessions() as s:
        queued = sorted((m.chat_id, m.event) for m in list_outbox(s))
        assert queued == [("-10", "platform-logout"), ("-11", "platform-logout")]
        assert all("微信" in m.text for m in list_outbox(s))


def test_a_deferred_group_reply_waits_in_the_outbox_until_the_platform_takes_it(
    events: ChatEvents, core: Core, clock: Clock
) -> None:
    with core.sessions.begin() as s:
        group = upsert_group(s, "telegram", "-100", title="王家沟村民群")
        group_id = group.id
    events.defer_reply("telegram", Reply("-100", "已登记隐患 #3", "m7"), retry_after=30)
    events.defer_reply(
        "telegram", Reply("-100", "已登记隐患 #3", "m7"), retry_after=30
    )  # the same reply once
    with core.sessions() as s:
        [row] = list_outbox(s)
        assert (row.chat_id, row.group_id, row.event, row.text) == (
            "-100",
            group_id,
            "reply",
            "已登记隐患 #3",
        )
        assert row.not_before.replace(tzinfo=None) == (clock.now + timedelta(seconds=30)).replace(tzinfo=None)


def test_a_refused_private_receipt_is_held_in_memory_and_nothing_is_stored(
    events: ChatEvents, core: Core
) -> None:
    events.undelivered("telegram", Reply("wxid_a", "回执码：ABC", receipt=True))
    events.undelivered("telegram", Reply("wxid_b", "请私聊", receipt=False))
    assert len(events.memory.held_receipts) == 1
    assert events.memory.held_receipts.take("telegram", "wxid_a", core.clock()) == "回执码：ABC"
    with core.sessions() as s:
        assert list_outbox(s) == []


def test_housekeeping_forgets_old_dedup_keys_but_keeps_those_that_filed_a_report(
    events: ChatEvents, core: Core, clock: Clock
) -> None:
    start = clock.now
    with core.sessions.begin() as s:
        report_id = file_report(s).id
        idempotency.remember(s, "p:old", private=True, at=start)
        idempotency.remember(s, "g:old", private=False, at=start)
        idempotency.remember(s, "g:filed", private=False, at=start, report_id=report_id)
    clock.now = start + PRIVATE_KEY_TTL + timedelta(minutes=1)
    events.housekeeping()
    with core.sessions() as s:
        assert sorted(r.key for r in s.scalars(select(ProcessedMessage))) == ["g:filed", "g:old"]
    clock.now = start + GROUP_KEY_TTL + timedelta(minutes=1)
    events.housekeeping()
    with core.sessions() as s:
        assert [r.key for r in s.scalars(select(ProcessedMessage))] == ["g:filed"]


def test_housekeeping_purges_the_memory_and_writes_the_hourly_private_line(
    events: ChatEvents, core: Core, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    events.undelivered("telegram", Reply("wxid_a", "回执码：ABC", receipt=True))
    clock.now += timedelta(hours=1)
    with caplog.at_level(logging.INFO):
        events.housekeeping()
    assert len(events.memory.held_receipts) == 0
    lines = [r for r in caplog.records if r.getMessage() == "private messages in the past hour"]
    assert [r.__dict__["outcomes"] for r in lines] == [{"reply-undelivered": 1}]
    assert "wxid_a" not in "".join(str(r.__dict__) for r in caplog.records)
