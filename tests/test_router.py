"""Tests for handlers.router: the dispatcher and the chat-events service are wired around one memory."""

from __future__ import annotations

from datetime import timedelta

from handlers.context import Core
from handlers.messages import MembershipChange, Reply
from handlers.router import Router, wire
from storage.groups import get_group
from tests.conftest import Clock
from tests.helpers import group_msg, private_msg


def test_a_receipt_the_events_service_held_comes_back_through_the_dispatcher(core: Core) -> None:
    dispatcher, events = wire(core)
    events.undelivered("telegram", Reply("wxid_a", "回执码：ABC", receipt=True))
    replies = dispatcher.dispatch(private_msg("你好", sender="wxid_a")).replies
    assert replies[0].receipt and replies[0].text.endswith("回执码：ABC")


def test_housekeeping_forgets_what_the_dispatcher_holds(core: Core, clock: Clock) -> None:
    dispatcher, events = wire(core)
    dispatcher.memory.held_receipts.hold("telegram", "wxid_a", "回执码：ABC", clock.now)
    clock.now += timedelta(days=1)
    events.housekeeping()
    assert len(dispatcher.memory.held_receipts) == 0


def test_two_wirings_share_nothing_in_memory(core: Core) -> None:
    (_, events_a), (dispatcher_b, _) = wire(core), wire(core)
    events_a.undelivered("telegram", Reply("wxid_a", "回执码：ABC", receipt=True))
    assert len(dispatcher_b.dispatch(private_msg("你好", sender="wxid_a")).replies) == 1


def test_the_router_name_reaches_both_sides(router: Router, core: Core) -> None:
    router.membership(MembershipChange("telegram", "-5", "克虎镇庙坪村村民群", joined=True))
    assert router.dispatch(group_msg("收到", chat="-5")).outcome == "chatter"
    router.mark_inactive("telegram", "-5")
    with core.sessions() as s:
        assert get_group(s, "telegram", "-5").active is False
    assert router.parts == (router.dispatcher, router.events)
    assert router.dispatcher.memory is router.events.memory is router.memory
