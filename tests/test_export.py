"""The ledger export: both sheets in the office's column order, every filter honoured, real dates, tips only for
the admin's export and never anything about who reported; CSV with a BOM; Open311 against its field list; /台账."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from bot.app import Database
from handlers.export import (
    OPEN311_FIELDS,
    FilterError,
    LedgerFilter,
    export_xlsx_bytes,
    iter_rows,
    ledger_headers,
    major_headers,
    open311_problems,
    open311_requests,
    write_csv,
)
from handlers.router import Router
from handlers.texts import Texts
from storage.models import Attachment, FiveItem
from storage.officials import add_official
from storage.reports import set_status
from storage.tips import create_tip, tip_label
from storage.tips import set_status as set_tip_status
from tests.helpers import file_report, group_msg, private_msg

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=TZ)
TOWN = "克虎镇"

OFFICE_ORDER = [
    "序号", "隐患编号", "村/网格", "发现时间", "来源", "隐患部位/地点", "隐患描述", "类别", "等级",
    "整改措施", "责任单位", "整改责任人", "整改时限", "整改资金", "整改完成时间", "完成情况", "验收人",
    "验收时间", "验收结论", "销号时间", "督办单位", "整改前照片数", "整改后照片数", "备注",
]  # fmt: skip
FIVE_HEADERS = [
    "落实治理目标任务",
    "落实治理经费物资",
    "落实治理机构人员",
    "落实治理时间要求",
    "落实安全措施应急预案",
]


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


def photo(report_id: int | None = None, tip_id: int | None = None, role: str = "before") -> Attachment:
    return Attachment(
        id=secrets.token_hex(16),
        report_id=report_id,
        tip_id=tip_id,
        role=role,
        sha256="0" * 64,
        size=10,
        mime="image/jpeg",
        created_at=at(11, 1),
    )


@pytest.fixture
def ledger(database: Database) -> dict[str, Any]:
    """A small ledger: six group reports across villages, statuses and severities, and two tips."""
    ids: dict[str, Any] = {}
    with database.sessions.begin() as s:
        # 1: major, 王家沟村, assigned, measures, funds, 五落实 partly, photos before/after, rectified then accepted.
        r1 = file_report(
            s,
            village="王家沟村",
            location="东头老窑洞",
            text="东头老窑洞裂了好宽的缝",
            severity="major",
            category="building",
            created_at=at(10, 5),
            deadline=at(10, 12),
            group_id=None,
            platform="telegram",
            reporter_id="5318862197",
            reporter_name="王建军",
            responsible_unit="王家沟村委会",
            responsible_person="李秀英",
            measures="人员撤离，窑洞加固",
            funds_fen=1_234_550,
            supervising_unit="镇应急管理办公室",
        )
        s.add_all(
            [
                FiveItem(report_id=r1.id, item="goal", done=True, note="加固窑洞", actor="t"),
                FiveItem(report_id=r1.id, item="funds", done=True, note="镇里拨款1.2万", actor="t"),
                FiveItem(report_id=r1.id, item="staff", done=False, actor="t"),
                photo(r1.id, role="before"),
                photo(r1.id, role="before"),
                photo(r1.id, role="after"),
            ]
        )
        set_status(s, r1, "rectified", "o", now=at(10, 10))
        set_status(s, r1, "closed", "o", now=at(10, 11))
        r1.accepted_by = "张站长"
        r1.accepted_at = at(10, 11)
        r1.acceptance_verdict = "passed"
        r1.acceptance_note = "加固到位"
        r1.closed_at = at(10, 11)
        # 2: general, 王家沟村, open and overdue.
        r2 = file_report(
            s, village="王家沟村", category="electric", created_at=at(11, 1), deadline=at(11, 20)
        )
        # 3: general, 庙坪村, open, not overdue.
        r3 = file_report(s, village="庙坪村", category="fire", created_at=at(11, 15), deadline=at(12, 15))
        # 4: major, 庙坪村, open and overdue, listed, one failed acceptance.
        r4 = file_report(
            s,
            village="庙坪村",
            severity="major",
            category="mining",
            created_at=at(9, 20),
            deadline=at(9, 27),
            listed_at=at(9, 28),
            failed_acceptances=1,
        )
        set_status(s, r4, "rectifying", "o", now=at(9, 21))
        # 5: rejected.
        r5 = file_report(s, village="庙坪村", created_at=at(11, 2))
        set_status(s, r5, "rejected", "o", now=at(11, 3))
        # 6: duplicate of 2.
        r6 = file_report(s, village="王家沟村", category="electric", created_at=at(11, 2), duplicate_of=r2.id)
        set_status(s, r6, "duplicate", "o", now=at(11, 2))
        t1 = create_tip(
            s,
            receipt_code="TIPCODE000000000001",
            now=at(11, 5),
            kind="tip",
            category="mining",
            severity="major",
            text="后沟煤窑晚上偷偷开采",
            location="后沟",
            village="王家沟村",
            deadline=at(11, 12),
        )
        set_tip_status(s, t1, "rectifying", "o", now=at(11, 6))
        s.add(photo(tip_id=t1.id, role="before"))
        t2 = create_tip(
            s,
            receipt_code="TIPCODE000000000002",
            now=at(11, 7),
            kind="hazard",
            category="gas",
            severity="general",
            text="液化气罐漏气",
            village="庙坪村",
        )
        ids.update(r1=r1.id, r2=r2.id, r3=r3.id, r4=r4.id, r5=r5.id, r6=r6.id, t1=t1.id, t2=t2.id)
    return ids


def export(database: Database, texts: Texts, flt: LedgerFilter) -> Any:
    with database.sessions() as s:
        data, _ = export_xlsx_bytes(s, flt, texts=texts, town=TOWN, tz=TZ, now=NOW)
    return load_workbook(io.BytesIO(data))


def numbers(ws: Any) -> list[str]:
    return [row[1] for row in ws.iter_rows(min_row=3, values_only=True)]


def test_both_sheets_headers_title_and_dates(
    database: Database, texts: Texts, ledger: dict[str, Any]
) -> None:
    wb = export(database, texts, LedgerFilter())
    assert wb.sheetnames == ["隐患台账", "重大隐患"]
    ws, major = wb["隐患台账"], wb["重大隐患"]
    title = ws["A1"].value
    assert TOWN in title and "全部" in title and "2026-12-03 12:00" in title
    assert [c.value for c in ws[2]] == OFFICE_ORDER == ledger_headers(texts)
    assert [c.value for c in major[2]] == OFFICE_ORDER + FIVE_HEADERS == major_headers(texts)
    assert ws.freeze_panes == "A3" and major.freeze_panes == "A3"
    assert ws.column_dimensions["G"].width >= 30  # the description column is wide
    # Group reports only, in filing order, numbered 1..n; tips are not in the default export.
    assert numbers(ws) == [f"#{ledger[k]}" for k in ("r1", "r2", "r3", "r4", "r5", "r6")]
    assert [row[0] for row in ws.iter_rows(min_row=3, values_only=True)] == [1, 2, 3, 4, 5, 6]
    first = {h: c for h, c in zip(OFFICE_ORDER, ws[3], strict=True)}
    # Real dates, in township time, with date formats.
    assert first["发现时间"].value == datetime(2026, 10, 5, 10, 0)
    assert first["发现时间"].is_date and "yy" in first["发现时间"].number_format
    assert first["整改时限"].value == datetime(2026, 10, 12, 10, 0)
    assert first["整改时限"].number_format == "yyyy-mm-dd"
    assert first["整改完成时间"].value == datetime(2026, 10, 10, 10, 0)
    assert first["销号时间"].value == datetime(2026, 10, 11, 10, 0)
    assert first["验收时间"].value == datetime(2026, 10, 11, 10, 0)
    assert Decimal(str(first["整改资金"].value)) == Decimal("12345.50")
    values = {h: c.value for h, c in first.items()}
    assert values["来源"] == "检查"  # filed outside any group
    assert values["村/网格"] == "王家沟村" and values["隐患部位/地点"] == "东头老窑洞"
    assert values["类别"] == "房屋建筑" and values["等级"] == "重大隐患"
    assert values["整改措施"] == "人员撤离，窑洞加固"
    assert (values["责任单位"], values["整改责任人"], values["督办单位"]) == (
        "王家沟村委会",
        "李秀英",
        "镇应急管理办公室",
    )
    assert values["完成情况"] == texts.label("statuses", "closed")
    assert values["验收人"] == "张站长" and values["验收结论"] == "合格：加固到位"
    assert (values["整改前照片数"], values["整改后照片数"]) == (2, 1)
    # Nobody who reported is named anywhere in the file.
    cells = " ".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if c is not None)
    assert "王建军" not in cells and "5318862197" not in cells


def test_status_overdue_and_remarks(database: Database, texts: Texts, ledger: dict[str, Any]) -> None:
    ws = export(database, texts, LedgerFilter())["隐患台账"]
    rows = {
        row[1]: dict(zip(OFFICE_ORDER, row, strict=True)) for row in ws.iter_rows(min_row=3, values_only=True)
    }
    assert rows[f"#{ledger['r2']}"]["完成情况"] == f"{texts.label('statuses', 'reported')}（逾期）"
    assert rows[f"#{ledger['r3']}"]["完成情况"] == texts.label("statuses", "reported")
    assert "挂牌督办" in rows[f"#{ledger['r4']}"]["备注"]
    assert "验收不合格 1 次" in rows[f"#{ledger['r4']}"]["备注"]
    assert f"并入 #{ledger['r2']}" in rows[f"#{ledger['r6']}"]["备注"]
    assert rows[f"#{ledger['r2']}"]["整改资金"] is None


def test_major_sheet_has_the_five_items(database: Database, texts: Texts, ledger: dict[str, Any]) -> None:
    major = export(database, texts, LedgerFilter())["重大隐患"]
    rows = list(major.iter_rows(min_row=3, values_only=True))
    assert [r[1] for r in rows] == [f"#{ledger['r1']}", f"#{ledger['r4']}"]
    assert [r[0] for r in rows] == [1, 2]
    assert list(rows[0][-5:]) == ["已落实：加固窑洞", "已落实：镇里拨款1.2万", "未落实", "未落实", "未落实"]
    assert list(rows[1][-5:]) == ["未落实"] * 5


@pytest.mark.parametrize(
    ("flt", "expected", "words"),
    [
        (LedgerFilter(village="王家沟村"), ("r1", "r2", "r6"), "王家沟村"),
        (LedgerFilter(date_from=date(2026, 11, 1)), ("r2", "r3", "r5", "r6"), "2026-11-01 起"),
        (LedgerFilter(date_to=date(2026, 11, 1)), ("r1", "r2", "r4"), "截至 2026-11-01"),
        (
            LedgerFilter(date_from=date(2026, 11, 2), date_to=date(2026, 11, 2)),
            ("r5", "r6"),
            "2026-11-02 至 2026-11-02",
        ),
        (LedgerFilter(statuses=("reported", "rectifying")), ("r2", "r3", "r4"), "未整改"),
        (LedgerFilter(statuses=("rejected",)), ("r5",), "不属实"),
        (LedgerFilter(severity="major"), ("r1", "r4"), "重大隐患"),
        (LedgerFilter(severity="general", village="庙坪村"), ("r3", "r5"), "一般隐患"),
        (LedgerFilter(category="electric"), ("r2", "r6"), "用电"),
        (LedgerFilter(overdue_only=True), ("r2", "r4"), "仅逾期"),
        (LedgerFilter(overdue_only=True, village="庙坪村"), ("r4",), "仅逾期"),
    ],
)
def test_every_filter_is_honoured(
    database: Database,
    texts: Texts,
    ledger: dict[str, Any],
    flt: LedgerFilter,
    expected: tuple[str, ...],
    words: str,
) -> None:
    wb = export(database, texts, flt)
    ws = wb["隐患台账"]
    assert numbers(ws) == [f"#{ledger[k]}" for k in expected]
    assert words in ws["A1"].value
    # The major sheet is the same filter's major rows.
    majors = [n for n in numbers(ws) if n in (f"#{ledger['r1']}", f"#{ledger['r4']}")]
    assert numbers(wb["重大隐患"]) == majors


def test_tips_only_when_asked(database: Database, texts: Texts, ledger: dict[str, Any]) -> None:
    t1, t2 = tip_label(ledger["t1"]), tip_label(ledger["t2"])
    ws = export(database, texts, LedgerFilter(include_tips=True))["隐患台账"]
    assert numbers(ws)[-2:] == [t1, t2]
    assert "含匿名举报" in ws["A1"].value
    rows = {
        row[1]: dict(zip(OFFICE_ORDER, row, strict=True)) for row in ws.iter_rows(min_row=3, values_only=True)
    }
    assert rows[t1]["来源"] == rows[t2]["来源"] == "举报"
    assert rows[t1]["发现时间"] == datetime(2026, 11, 5, 10, 0)
    assert rows[t1]["整改前照片数"] == 1
    # Filters apply to tips as well.
    ws = export(database, texts, LedgerFilter(include_tips=True, village="庙坪村", severity="general"))[
        "隐患台账"
    ]
    assert numbers(ws) == [f"#{ledger['r3']}", f"#{ledger['r5']}", t2]
    major = export(database, texts, LedgerFilter(include_tips=True))["重大隐患"]
    assert t1 in numbers(major) and t2 not in numbers(major)
    # Without the flag, no tip anywhere.
    wb = export(database, texts, LedgerFilter())
    everything = " ".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row if c)
    assert t1 not in everything and "偷偷开采" not in everything and "举报" not in everything


def test_one_query_per_table_whatever_the_size(
    database: Database, texts: Texts, ledger: dict[str, Any]
) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.sessions() as s:
            rows = list(iter_rows(s, LedgerFilter(include_tips=True), now=NOW, tz=TZ, page_size=2))
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert len(rows) == 8
    assert len(statements) == 2  # reports (with photos and 五落实 joined), then tips


def test_bad_filters_are_refused() -> None:
    with pytest.raises(FilterError, match="未知的状态"):
        LedgerFilter(statuses=("fixed",))
    with pytest.raises(FilterError, match="晚于"):
        LedgerFilter(date_from=date(2026, 12, 1), date_to=date(2026, 11, 1))
    with pytest.raises(FilterError):
        LedgerFilter(severity="huge")


def test_csv_has_a_bom_and_the_same_columns(database: Database, texts: Texts, ledger: dict[str, Any]) -> None:
    out = io.BytesIO()
    with database.sessions() as s:
        stats = write_csv(
            iter_rows(s, LedgerFilter(village="王家沟村"), now=NOW, tz=TZ), out, texts=texts, tz=TZ, now=NOW
        )
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == OFFICE_ORDER
    assert [r[1] for r in rows[1:]] == [f"#{ledger[k]}" for k in ("r1", "r2", "r6")]
    assert stats.rows == 3 and stats.major == 1
    first = dict(zip(OFFICE_ORDER, rows[1], strict=True))
    assert first["发现时间"] == "2026-10-05 10:00" and first["整改时限"] == "2026-10-12"
    assert first["整改资金"] == "12345.50"


def test_open311_requests_match_the_field_list(
    database: Database, texts: Texts, ledger: dict[str, Any]
) -> None:
    with database.sessions() as s:
        requests = list(
            open311_requests(iter_rows(s, LedgerFilter(include_tips=True), now=NOW, tz=TZ), texts, TZ)
        )
    assert len(requests) == 8
    for request in requests:
        assert open311_problems(request) == [], request
        assert set(request) <= set(OPEN311_FIELDS)
        assert request["requested_datetime"].endswith("+08:00")
    by_id = {r["service_request_id"]: r for r in requests}
    first = by_id[str(ledger["r1"])]
    assert first["status"] == "closed" and first["status_notes"] == "已销号"
    assert first["service_code"] == "building" and first["service_name"] == "房屋建筑"
    assert first["agency_responsible"] == "王家沟村委会"
    assert first["address"] == "东头老窑洞"
    assert first["requested_datetime"] == "2026-10-05T10:00:00+08:00"
    assert first["expected_datetime"] == "2026-10-12T10:00:00+08:00"
    assert by_id[str(ledger["r5"])]["status_notes"] == "不属实"
    assert by_id[str(ledger["r6"])]["status"] == "closed"
    assert by_id[str(ledger["r6"])]["status_notes"] == "Duplicate request."
    assert by_id[str(ledger["r2"])]["status"] == "open"
    assert by_id[tip_label(ledger["t1"])]["status"] == "open"
    assert by_id[str(ledger["r2"])]["agency_responsible"] is None


def test_open311_validator_catches_mistakes() -> None:
    good = {
        "service_request_id": "1",
        "status": "open",
        "service_code": "fire",
        "requested_datetime": "2026-10-05T10:00:00+08:00",
    }
    assert open311_problems(good) == []
    assert open311_problems({**good, "reporter": "x"}) == ["unknown field 'reporter'"]
    assert open311_problems({**good, "status": "fixed"})
    assert open311_problems({**good, "requested_datetime": "2026-10-05T10:00:00"})
    assert open311_problems({**good, "lat": "37.9"})


# --- /台账 in chat ------------------------------------------------------------------------------------------


def _official(
    database: Database, user_id: str, role: str, unit: str | None = None, tips: bool = False
) -> None:
    with database.sessions.begin() as s:
        add_official(s, "telegram", user_id, f"干部{user_id}", role=role, unit=unit, tips=tips)


def _document(router: Router, text: str, sender: str) -> tuple[str, Any]:
    result = router.dispatch(private_msg(text, sender=sender))
    assert len(result.replies) == 1
    reply = result.replies[0]
    assert type(reply.text) is str
    return reply.text, reply.document


def test_ledger_command_sends_the_xlsx_in_private(
    database: Database, router: Router, texts: Texts, ledger: dict[str, Any]
) -> None:
    _official(database, "a1", "admin")
    _official(database, "s1", "station")
    _official(database, "v1", "village", "庙坪村")
    text, document = _document(router, "/台账", "a1")
    assert document is not None
    name, data = document
    assert name.endswith(".xlsx") and "全镇" in name
    ws = load_workbook(io.BytesIO(data))["隐患台账"]
    assert len(numbers(ws)) == 8  # the admin's export has the tips
    assert "共 8 条" in text and "含匿名举报 2 条" in text
    # A station official: no tips; a village name narrows it.
    text, document = _document(router, "/ledger 王家沟", "s1")
    ws = load_workbook(io.BytesIO(document[1]))["隐患台账"]
    assert numbers(ws) == [f"#{ledger[k]}" for k in ("r1", "r2", "r6")]
    assert "王家沟村" in document[0] and "王家沟村" in ws["A1"].value
    # A village official gets their own village, and nothing else.
    text, document = _document(router, "/台账", "v1")
    ws = load_workbook(io.BytesIO(document[1]))["隐患台账"]
    assert numbers(ws) == [f"#{ledger[k]}" for k in ("r3", "r4", "r5")]
    text, document = _document(router, "/台账 王家沟村", "v1")
    assert document is None and "只能导出本村" in text
    text, document = _document(router, "/台账 火星村", "s1")
    assert document is None and "没有这个村" in text and "火星村" not in text


def test_ledger_command_refuses_in_groups_and_to_villagers(
    database: Database, router: Router, ledger: dict[str, Any]
) -> None:
    _official(database, "a1", "admin")
    result = router.dispatch(group_msg("/台账", sender="a1"))
    assert [r.document for r in result.replies] == [None]
    assert "私聊" in result.replies[0].text
    result = router.dispatch(private_msg("/台账", sender="nobody"))
    assert [r.document for r in result.replies] == [None]
    assert "干部" in result.replies[0].text


def test_times_are_stored_utc_but_shown_in_township_time(database: Database, texts: Texts) -> None:
    with database.sessions.begin() as s:
        file_report(
            s, village="王家沟村", created_at=datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
        )  # 12-01 01:30
    ws = export(database, texts, LedgerFilter(date_from=date(2026, 12, 1)))["隐患台账"]
    assert [row[3] for row in ws.iter_rows(min_row=3, values_only=True)] == [datetime(2026, 12, 1, 1, 30)]
