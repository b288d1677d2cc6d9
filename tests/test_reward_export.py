"""Tests for handlers.reward_export: the finance office's reward ledger, opened with openpyxl."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from handlers import reward_export
from handlers.texts import Texts
from storage.models import TipReward

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 17, 30, tzinfo=UTC)  # 2026-06-11 01:30 in Beijing


def _reward(tip_id: int, **fields: object) -> TipReward:
    values: dict[str, object] = {
        "category": "violation",
        "fine_fen": 20_000_000,
        "computed_fen": 3_000_000,
        "amount_fen": 3_000_000,
        "first_accepted_at": NOW,
        "verified_at": NOW,
        "verified_by": "刘主任",
        "department": "克虎镇应急管理办公室",
        "claim_deadline": NOW + timedelta(days=60),
        "status": "pending",
    }
    return TipReward(tip_id=tip_id, **(values | fields))


def test_the_workbook_has_the_columns_real_dates_and_amounts_and_nothing_about_the_tipster() -> None:
    table = reward_export.rows(
        [
            _reward(482913),
            _reward(519027, category="general", fine_fen=None, amount_fen=50_000, status="paid", paid_at=NOW),
        ],
        Texts.load(),
        TZ,
    )
    book = load_workbook(io.BytesIO(reward_export.xlsx_bytes(table, "举报奖励台账")))
    sheet = book["举报奖励台账"]
    assert sheet["A1"].value == "举报奖励台账"
    assert [c.value for c in sheet[2]] == list(reward_export.HEADERS)
    first = [c.value for c in sheet[3]]
    assert first[:3] == [1, "T482913", "违法行为"]
    assert first[3] == datetime(2026, 6, 11)  # the township's date, as a real date cell
    assert (Decimal(str(first[4])), Decimal(str(first[5])), first[8]) == (
        Decimal(200000),
        Decimal(30000),
        "待领取",
    )
    second = [c.value for c in sheet[4]]
    assert (second[2], second[4], second[8], second[10]) == (
        "一般隐患",
        None,
        "已兑付",
        datetime(2026, 6, 11),
    )
    assert sheet.freeze_panes == "A3"


def test_csv_has_a_bom_and_iso_dates() -> None:
    text = reward_export.csv_text(reward_export.rows([_reward(482913)], Texts.load(), TZ))
    assert text.startswith("\ufeff序号,举报编号")
    assert f"T482913,违法行为,{date(2026, 6, 11).isoformat()}" in text
