"""Integrity under concurrency, commands meant for other bots, /清单 wording, floods and smaller transport hardening."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from handlers.messages import DispatchResult
from handlers.router import DISPATCH_ATTEMPTS, GROUP_KEY_TTL, Router
from storage.groups import upsert_group
from storage.models import Group, ProcessedMessage, Report
from tests.conftest import Clock
from tests.helpers import group_msg

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
    original = router._handle

    def failing(session, m):  # type: ignore[no-untyped-def]
        session.add(Group(platform="telegram", chat_id="-779", title="x"))  # the unique pair already exists
        return original(session, m)

    router._handle = failing  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING), pytest.raises(IntegrityError):
        router.dispatch(msg)
    failures = [r for r in caplog.records if r.getMessage().startswith("message handling failed")]
    assert len(failures) == DISPATCH_ATTEMPTS
    assert all(HAZARDS[1] not in r.getMessage() and "老王" not in str(r.__dict__) for r in failures)
    router._handle = original  # type: ignore[method-assign]
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
