"""Tests for handlers.broadcasts and the /广播 commands: preview, confirm once, expire, receipts."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import broadcasts
from handlers.context import Core
from handlers.router import Router
from storage.groups import upsert_group
from storage.models import OutboxMessage
from storage.officials import add_official
from tests.conftest import Clock
from tests.helpers import group_msg, private_msg


@pytest.fixture
def town(core: Core) -> Core:
    """Three village groups (one inactive), a station group, and an official."""
    with core.sessions.begin() as s:
        upsert_group(s, "telegram", "-1", kind="village", unit="王家沟村")
        upsert_group(s, "telegram", "-2", kind="village", unit="庙坪村")
        upsert_group(s, "wechaty", "r3@chatroom", kind="village", unit="克虎村")
        upsert_group(s, "telegram", "-4", kind="village", unit="刘家峁村", active=False)
        upsert_group(s, "telegram", "-5", kind="station", unit="应急管理站")
        add_official(s, "telegram", "boss", "张站长")
        add_official(s, "telegram", "deputy", "李副站长")
    return core


def _rows(core: Core) -> list[OutboxMessage]:
    with core.sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_preview_then_confirm_queues_one_row_per_active_group(router: Router, town: Core) -> None:
    preview = router.dispatch(private_msg("/广播 村 明天上午开安全会", sender="boss")).replies[0].text
    assert "将发往 3 个群" in preview and "刘家峁村" not in preview
    assert _rows(town) == []  # nothing is sent before confirmation
    bid = int(re.search(r"#(\d+)", preview).group(1))
    confirmed = router.dispatch(private_msg(f"/确认广播 {bid}", sender="boss")).replies[0].text
    assert "共 3 个群" in confirmed
    rows = _rows(town)
    assert sorted((r.platform, r.chat_id) for r in rows) == [
        ("telegram", "-1"),
        ("telegram", "-2"),
        ("wechaty", "r3@chatroom"),
    ]
    assert all("明天上午开安全会" in r.text for r in rows)
    again = router.dispatch(private_msg(f"/确认广播 {bid}", sender="boss")).replies[0].text
    assert "不会重复发送" in again and len(_rows(town)) == 3


def test_targets_by_name_and_library_texts(router: Router, town: Core) -> None:
    preview = (
        router.dispatch(private_msg("/广播 王家沟村、应急站 @安全生产月", sender="boss")).replies[0].text
    )
    assert "将发往 2 个群" in preview and "安全生产月" in preview and "隐患自查" in preview
    assert (
        "文案库里没有“春节”"
        in router.dispatch(private_msg("/广播 全部 @春节", sender="boss")).replies[0].text
    )
    assert (
        "不认识的广播目标“火星村”"
        in router.dispatch(private_msg("/广播 火星村 你好", sender="boss")).replies[0].text
    )
    assert "用法" in router.dispatch(private_msg("/广播", sender="boss")).replies[0].text


def test_non_officials_cannot_broadcast(router: Router, town: Core) -> None:
    assert "只有登记过的" in router.dispatch(group_msg("/广播 全部 大家好", sender="u1")).replies[0].text
    assert _rows(town) == []


def test_only_the_sender_may_confirm_and_only_within_ten_minutes(
    router: Router, town: Core, clock: Clock
) -> None:
    preview = router.dispatch(private_msg("/广播 全部 注意防火", sender="boss")).replies[0].text
    bid = int(re.search(r"#(\d+)", preview).group(1))
    assert "不是您发起的" in router.dispatch(private_msg(f"/确认广播 {bid}", sender="deputy")).replies[0].text
    clock.now += timedelta(minutes=11)
    assert "已作废" in router.dispatch(private_msg(f"/确认广播 {bid}", sender="boss")).replies[0].text
    assert _rows(town) == []


def test_receipt_counts_deliveries_and_names_failures(router: Router, town: Core) -> None:
    preview = router.dispatch(private_msg("/广播 村 通知", sender="boss")).replies[0].text
    bid = int(re.search(r"#(\d+)", preview).group(1))
    router.dispatch(private_msg(f"/确认广播 {bid}", sender="boss"))
    router.housekeeping()
    assert all(r.event == "broadcast" for r in _rows(town))  # still in flight: no receipt yet
    with town.sessions.begin() as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        rows[0].status, rows[1].status, rows[2].status = "sent", "sent", "blocked"
    router.housekeeping()
    router.housekeeping()
    receipts = [r for r in _rows(town) if r.event == "broadcast-receipt"]
    assert len(receipts) == 1
    assert (receipts[0].platform, receipts[0].chat_id) == ("telegram", "boss")
    assert "已送达 2/3 个群" in receipts[0].text and "克虎村" in receipts[0].text


def test_expand_text_keeps_extra_words_after_the_library_name(town: Core) -> None:
    text = broadcasts.expand_text("@防溺水 本周六统一巡河", town.publicity)
    assert text.startswith("【防溺水】") and text.endswith("本周六统一巡河")


def test_a_wecom_robot_key_never_shows_in_previews_or_receipts(router: Router, town: Core) -> None:
    key = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    with town.sessions.begin() as s:
        # A row registered before --unit was required: no unit, no title, only the key.
        upsert_group(s, "wecom", key, kind="village")
    preview = router.dispatch(private_msg("/广播 村 通知", sender="boss")).replies[0].text
    assert key not in preview and "群" in preview
    bid = int(re.search(r"#(\d+)", preview).group(1))  # type: ignore[union-attr]
    router.dispatch(private_msg(f"/确认广播 {bid}", sender="boss"))
    with town.sessions.begin() as s:
        for row in s.scalars(select(OutboxMessage)):
            row.status = "blocked" if row.platform == "wecom" else "sent"
    router.housekeeping()
    (receipt,) = [r for r in _rows(town) if r.event == "broadcast-receipt"]
    assert "已送达 3/4 个群" in receipt.text and key not in receipt.text


def test_a_publicity_library_saved_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "publicity.toml"
    path.write_bytes("\ufeff".encode() + '["防溺水"]\ntext = "暑假到了，不要到河边玩水"\n'.encode())
    assert broadcasts.load_library(path) == {"防溺水": "暑假到了，不要到河边玩水"}
