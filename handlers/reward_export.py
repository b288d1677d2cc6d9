"""The reward ledger for the finance office (举报奖励台账): one row per verified tip, as xlsx or CSV.

Columns: 序号, 举报编号, 类别, 核实日期, 罚款金额, 奖励金额, 改动理由, 兑付单位, 状态, 领取期限, 兑付日期. There is nothing
about the tipster in the tables, and nothing is added here: no chat, platform or text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from handlers.texts import Texts
from storage.models import TipReward
from storage.tips import tip_label

HEADERS = (
    "序号",
    "举报编号",
    "类别",
    "核实日期",
    "罚款金额（元）",
    "奖励金额（元）",
    "改动理由",
    "兑付单位",
    "状态",
    "领取期限",
    "兑付日期",
)


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) / 100


def _day(when: datetime | None, tz: ZoneInfo) -> date | None:
    return when.astimezone(tz).date() if when else None


def rows(rewards: Iterable[TipReward], texts: Texts, tz: ZoneInfo) -> list[list[Any]]:
    """The table's rows in the fixed column order (dates as dates, amounts in yuan)."""
    return [
        [
            seq,
            tip_label(r.tip_id),
            texts.label("reward_categories", r.category),
            _day(r.verified_at, tz),
            _yuan(r.fine_fen),
            _yuan(r.amount_fen),
            r.override_reason or "",
            r.department,
            texts.label("reward_statuses", r.status),
            _day(r.claim_deadline, tz),
            _day(r.paid_at, tz),
        ]
        for seq, r in enumerate(rewards, 1)
    ]


def xlsx_bytes(table: list[list[Any]], title: str) -> bytes:
    """The table as an Excel workbook: a title row, a frozen header, real dates and amounts."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "举报奖励台账"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(HEADERS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in table:
        sheet.append(row)
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
    for letter, width in zip("ABCDEFGHIJK", (6, 12, 10, 12, 14, 14, 24, 24, 8, 12, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(table: list[list[Any]]) -> str:
    """The table as CSV with a UTF-8 BOM, so Excel on Windows opens it in Chinese."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for row in table:
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, date) else v) for v in row])
    return out.getvalue()
