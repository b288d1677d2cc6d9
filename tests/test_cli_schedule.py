"""``anquan schedule`` and ``anquan report monthly`` as the lead attaches them to the main command group."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner

from bot.cli_schedule import report, schedule

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> click.Group:
    monkeypatch.delenv("ANQUAN_CONFIG", raising=False)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ANQUAN_DATABASE_URL", f"sqlite:///{tmp_path / 'anquan.db'}")
    monkeypatch.setenv("ANQUAN_TIMEZONE", "Asia/Shanghai")

    @click.group()
    def main() -> None:
        """Stand-in for bot.cli.main."""

    main.add_command(schedule)
    main.add_command(report)
    return main


EXPECTED = [
    ("monthly_self_check", "2026-05-01T09:00:00+08:00"),
    ("monthly_progress_report", "2026-05-03T09:00:00+08:00"),
    ("weekly_digest", "2026-05-04T09:00:00+08:00"),
    ("monthly_major_hazard_list", "2026-05-05T09:00:00+08:00"),
    ("disaster_prevention_day", "2026-05-12T09:00:00+08:00"),
    ("safety_month_notice", "2026-05-25T09:00:00+08:00"),
    ("safety_month_start", "2026-06-01T09:00:00+08:00"),
    ("flood_landslide_watch", "2026-06-01T09:00:00+08:00"),
    ("summer_drowning_prevention", "2026-06-15T09:00:00+08:00"),
    ("consultation_day", "2026-06-16T09:00:00+08:00"),
    ("pre_holiday_dragon_boat", "2026-06-16T09:00:00+08:00"),
    ("quarterly_leadership_study", "2026-07-10T09:00:00+08:00"),
    ("yearly_inspection_tour", "2026-09-10T09:00:00+08:00"),
    ("pre_holiday_mid_autumn", "2026-09-22T09:00:00+08:00"),
    ("pre_holiday_national_day", "2026-09-28T09:00:00+08:00"),
    ("forest_fire_season", "2026-10-10T09:00:00+08:00"),
    ("fire_safety_month", "2026-11-01T09:00:00+08:00"),
    ("heating_co_warning", "2026-11-02T17:00:00+08:00"),
    ("fire_safety_day", "2026-11-09T09:00:00+08:00"),
    ("milestone_2026_end", "2026-12-01T09:00:00+08:00"),
    ("constitution_day", "2026-12-04T09:00:00+08:00"),
    ("pre_holiday_new_year", "2026-12-29T09:00:00+08:00"),
    ("milestone_2026_end", "2026-12-31T09:00:00+08:00"),
    ("pre_holiday_spring_festival", "2027-01-31T09:00:00+08:00"),
    ("yearly_heads_training", "2027-03-20T09:00:00+08:00"),
    ("pre_holiday_qingming", "2027-03-31T09:00:00+08:00"),
    ("qingming_fire_watch", "2027-04-04T09:00:00+08:00"),
    ("pre_holiday_labour_day", "2027-04-28T09:00:00+08:00"),
    ("disaster_prevention_day", "2027-05-12T09:00:00+08:00"),
    ("safety_month_start", "2027-06-01T09:00:00+08:00"),
]


def test_schedule_json_lists_the_campaign(cli: click.Group) -> None:
    result = CliRunner().invoke(cli, ["schedule", "--from", "2026-05-01", "--days", "400", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert all({"at", "event", "title", "targets"} <= row.keys() for row in rows)
    times = [datetime.fromisoformat(row["at"]) for row in rows]
    assert times == sorted(times)
    assert all(row["at"].endswith("+08:00") for row in rows)
    assert times[0] >= datetime(2026, 5, 1, tzinfo=TZ) and times[-1] < datetime(2027, 6, 5, tzinfo=TZ)
    pairs = {(row["event"], row["at"]) for row in rows}
    missing = [p for p in EXPECTED if p not in pairs]
    assert not missing
    assert not [r for r in rows if r["event"].startswith(("milestone_2024", "milestone_2025"))]
    spring = next(r for r in rows if r["event"] == "pre_holiday_spring_festival")
    assert spring["holiday"] == "spring_festival" and spring["targets"] == [
        "village",
        "enterprise",
        "station",
        "leadership",
    ]
    assert "春节" in spring["text"]
    assert all(
        r["targets"] and set(r["targets"]) <= {"village", "station", "enterprise", "leadership"} for r in rows
    )


def test_schedule_text_and_errors(cli: click.Group) -> None:
    result = CliRunner().invoke(cli, ["schedule", "--from", "2026-06-14", "--days", "3"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("2026-06-14 09:00\tconsultation_day\t6·16 安全宣传咨询日\t→ 村、企业、站所")
    assert CliRunner().invoke(cli, ["schedule", "--from", "2026/06/14"]).exit_code == 2
    assert CliRunner().invoke(cli, ["schedule", "--days", "0"]).exit_code == 2
    assert CliRunner().invoke(cli, ["schedule"]).exit_code == 0  # from today, 30 days


def test_report_monthly(cli: click.Group, tmp_path: Path) -> None:
    from bot.app import open_database
    from bot.config import Settings
    from storage.reports import set_status
    from tests.helpers import file_report

    db = open_database(Settings())
    with db.sessions.begin() as s:
        r = file_report(
            s,
            category="fire",
            severity="major",
            text="x",
            village="王家沟村",
            created_at=datetime(2026, 5, 3, 9, 0, tzinfo=TZ),
        )
        set_status(s, r, "rectified", "o", now=datetime(2026, 5, 5, 9, 0, tzinfo=TZ))
    db.engine.dispose()
    missing = tmp_path / "nowhere" / "may.png"
    result = CliRunner().invoke(cli, ["report", "monthly", "--month", "2026-05", "--png", str(missing)])
    assert result.exit_code != 0 and "不会自动创建" in result.output and not missing.parent.exists()
    png = tmp_path / "may.png"
    result = CliRunner().invoke(cli, ["report", "monthly", "--month", "2026-05", "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "新登记隐患 1 项，整改完成 1 项" in result.output and "平均整改用时 2.0 天" in result.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    result = CliRunner().invoke(cli, ["report", "monthly", "--month", "2026-05", "--json"])
    data = json.loads(result.output)
    assert (
        data["totals"] == {"new": 1, "rectified": 1, "open": 0, "overdue": 0} and data["month"] == "2026-05"
    )
    assert CliRunner().invoke(cli, ["report", "monthly", "--month", "May"]).exit_code == 2
