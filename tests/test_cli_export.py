"""``anquan export ledger|open311`` and ``anquan report quarterly`` as an operator runs them."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import main
from handlers.export import open311_problems
from storage.reports import set_status
from storage.tips import create_tip, tip_label
from tests.helpers import file_report

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A data folder with three group reports and one tip; the working directory is the temporary folder."""
    from bot.app import open_database
    from bot.config import Settings

    monkeypatch.delenv("ANQUAN_CONFIG", raising=False)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ANQUAN_DATABASE_URL", f"sqlite:///{tmp_path / 'anquan.db'}")
    monkeypatch.setenv("ANQUAN_TIMEZONE", "Asia/Shanghai")
    monkeypatch.chdir(tmp_path)
    db = open_database(Settings())
    with db.sessions.begin() as s:
        r1 = file_report(
            s,
            village="王家沟村",
            severity="major",
            text="老窑洞裂缝",
            created_at=datetime(2026, 10, 5, 9, tzinfo=TZ),
        )
        r2 = file_report(s, village="庙坪村", text="电线老化", created_at=datetime(2026, 11, 5, 9, tzinfo=TZ))
        r3 = file_report(
            s, village="王家沟村", text="护栏断了", created_at=datetime(2026, 11, 20, 9, tzinfo=TZ)
        )
        set_status(s, r3, "closed", "o", now=datetime(2026, 11, 25, tzinfo=TZ))
        tip = create_tip(
            s,
            receipt_code="C" * 18,
            now=datetime(2026, 11, 6, 9, tzinfo=TZ),
            kind="tip",
            category="mining",
            severity="major",
            text="偷偷开采",
            village="王家沟村",
        )
        ids = {"r1": f"#{r1.id}", "r2": f"#{r2.id}", "r3": f"#{r3.id}", "t": tip_label(tip.id)}
    db.engine.dispose()
    return ids


def numbers(path: Path, sheet: str = "隐患台账") -> list[str]:
    return [row[1] for row in load_workbook(path)[sheet].iter_rows(min_row=3, values_only=True)]


def test_xlsx_with_the_default_name(seeded: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", "ledger"])
    assert result.exit_code == 0, result.output
    today = datetime.now(TZ).strftime("%Y%m%d")
    path = tmp_path / f"克虎镇隐患台账-全镇-{today}.xlsx"
    assert path.exists()
    assert "已导出 3 条（重大隐患 1 条）" in result.output and path.name in result.output
    assert numbers(path) == [seeded["r1"], seeded["r2"], seeded["r3"]]
    assert numbers(path, "重大隐患") == [seeded["r1"]]


def test_filters_on_the_command_line(seeded: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "w.xlsx"
    args = [
        "export",
        "ledger",
        "--village",
        "王家沟",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert numbers(out) == [seeded["r3"]]
    title = load_workbook(out)["隐患台账"]["A1"].value
    assert "王家沟村" in title and "2026-11-01 至 2026-11-30" in title
    result = CliRunner().invoke(main, ["export", "ledger", "--status", "open", "--out", str(out)])
    assert numbers(out) == [seeded["r1"], seeded["r2"]]
    result = CliRunner().invoke(main, ["export", "ledger", "--status", "已销号", "--out", str(out)])
    assert numbers(out) == [seeded["r3"]]
    result = CliRunner().invoke(
        main, ["export", "ledger", "--severity", "major", "--tips", "--out", str(out)]
    )
    assert result.exit_code == 0 and "含匿名举报 1 条" in result.output
    assert numbers(out) == [seeded["r1"], seeded["t"]]


def test_csv_to_stdout_has_a_bom(seeded: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["export", "ledger", "--format", "csv", "--out", "-", "--village", "庙坪村"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "隐患编号", "村/网格"] and len(rows[0]) == 24
    assert [r[1] for r in rows[1:]] == [seeded["r2"]]
    assert "已导出 1 条" in result.stderr


def test_csv_file(seeded: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "台账.csv"
    result = CliRunner().invoke(main, ["export", "ledger", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "no/such/dir/a.xlsx"], "目录不存在"),
        (["--out", "-"], "不能输出到屏幕"),
        (["--village", "火星村"], "王家沟村"),
        (["--status", "fixed"], "不认识的状态"),
        (["--from", "2026/11/01"], "YYYY-MM-DD"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "晚于"),
        (["--category", "噪音"], "不认识的类别"),
    ],
)
def test_bad_options_are_refused(
    seeded: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["export", "ledger", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "no").exists()  # a missing folder is never created
    assert not list(tmp_path.glob("*.xlsx"))


def test_open311(seeded: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", "open311", "--village", "王家沟村"])
    assert result.exit_code == 0, result.output
    requests = json.loads(result.output)
    assert [r["service_request_id"] for r in requests] == [seeded["r1"][1:], seeded["r3"][1:]]
    assert all(open311_problems(r) == [] for r in requests)
    assert requests[1]["status"] == "closed" and requests[1]["status_notes"] == "已销号"
    out = tmp_path / "open311.json"
    result = CliRunner().invoke(main, ["export", "open311", "--tips", "--out", str(out)])
    assert result.exit_code == 0 and "已导出 4 条" in result.output
    assert seeded["t"] in [r["service_request_id"] for r in json.loads(out.read_text(encoding="utf-8"))]
    result = CliRunner().invoke(main, ["export", "open311", "--out", "missing/x.json"])
    assert result.exit_code == 2 and "目录不存在" in result.output


def test_report_quarterly(seeded: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "quarterly", "--quarter", "2026Q4"])
    assert result.exit_code == 0, result.output
    assert (
        "2026年第4季度" in result.output and "发现隐患 3 项（其中重大 1 项），整改完成 1 项" in result.output
    )
    out = tmp_path / "q.xlsx"
    result = CliRunner().invoke(
        main, ["report", "quarterly", "--quarter", "2026Q4", "--json", "--xlsx", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.splitlines()[0])
    assert data["quarter"] == "2026Q4" and data["totals"]["found"] == 3 and data["tips_received"] == 1
    assert load_workbook(out).active["A3"].value == "合计"
    result = CliRunner().invoke(main, ["report", "quarterly", "--quarter", "2026Q5"])
    assert result.exit_code == 2 and "2026Q4" in result.output
    assert CliRunner().invoke(main, ["report", "quarterly"]).exit_code == 0  # the last quarter by default
