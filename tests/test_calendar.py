"""The campaign calendar: the bundled file's pushes land on the right dates; bad files get clear errors."""

from __future__ import annotations

import copy
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.calendar import DEFAULT_PATH, Calendar, CalendarError, load_calendar, parse_calendar

TZ = ZoneInfo("Asia/Shanghai")
RAW = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return load_calendar()


def dates(cal: Calendar, key: str, year: int) -> list[date]:
    return [p.day for p in cal.pushes(date(year, 1, 1), date(year + 1, 1, 1), TZ) if p.entry.key == key]


def with_entry(**entry: Any) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    data["entries"] = [{"key": "probe", "title": "测试", "targets": ["village"], "template": "x", **entry}]
    return data


def test_bundled_calendar_has_every_campaign_entry(cal: Calendar) -> None:
    keys = {e.key for e in cal.entries}
    assert keys >= {
        "monthly_self_check",
        "monthly_major_hazard_list",
        "monthly_progress_report",
        "weekly_digest",
        "quarterly_leadership_study",
        "yearly_heads_training",
        "yearly_inspection_tour",
        "disaster_prevention_day",
        "safety_month_notice",
        "safety_month_start",
        "consultation_day",
        "fire_safety_month",
        "fire_safety_day",
        "constitution_day",
        *(f"pre_holiday_{h}" for h in ("new_year", "spring_festival", "qingming", "labour_day")),
        *(f"pre_holiday_{h}" for h in ("dragon_boat", "mid_autumn", "national_day")),
        "heating_co_warning",
        "flood_landslide_watch",
        "summer_drowning_prevention",
        "forest_fire_season",
        "milestone_2024_end",
        "milestone_2025_end",
        "milestone_2026_end",
    }
    entry = cal.entry("monthly_self_check")
    assert set(entry.targets) == {"village", "enterprise"}
    assert cal.entry("monthly_progress_report").targets == ("leadership",)
    assert cal.entry("quarterly_leadership_study").targets == ("leadership",)


@pytest.mark.parametrize(
    ("key", "y2026", "y2027"),
    [
        ("pre_holiday_new_year", [date(2026, 12, 29)], [date(2027, 12, 29)]),
        ("pre_holiday_spring_festival", [date(2026, 2, 10)], [date(2027, 1, 31)]),
        ("pre_holiday_qingming", [date(2026, 4, 1)], [date(2027, 3, 31)]),
        ("pre_holiday_labour_day", [date(2026, 4, 28)], [date(2027, 4, 28)]),
        ("pre_holiday_dragon_boat", [date(2026, 6, 16)], [date(2027, 6, 6)]),
        ("pre_holiday_mid_autumn", [date(2026, 9, 22)], [date(2027, 9, 12)]),
        ("pre_holiday_national_day", [date(2026, 9, 28)], [date(2027, 9, 28)]),
        ("qingming_fire_watch", [date(2026, 4, 4)], [date(2027, 4, 4)]),
        ("disaster_prevention_day", [date(2026, 5, 12)], [date(2027, 5, 12)]),
        ("safety_month_notice", [date(2026, 5, 25)], [date(2027, 5, 25)]),
        ("safety_month_start", [date(2026, 6, 1)], [date(2027, 6, 1)]),
        ("consultation_day", [date(2026, 6, 14), date(2026, 6, 16)], [date(2027, 6, 14), date(2027, 6, 16)]),
        ("fire_safety_month", [date(2026, 11, 1)], [date(2027, 11, 1)]),
        ("fire_safety_day", [date(2026, 11, 9)], [date(2027, 11, 9)]),
        ("constitution_day", [date(2026, 12, 4)], [date(2027, 12, 4)]),
        (
            "yearly_heads_training",
            [date(2026, 3, 6), date(2026, 3, 20)],
            [date(2027, 3, 6), date(2027, 3, 20)],
        ),
        (
            "yearly_inspection_tour",
            [date(2026, 9, 3), date(2026, 9, 10)],
            [date(2027, 9, 3), date(2027, 9, 10)],
        ),
        (
            "quarterly_leadership_study",
            [date(2026, m, 10) for m in (1, 4, 7, 10)],
            [date(2027, m, 10) for m in (1, 4, 7, 10)],
        ),
        ("milestone_2026_end", [date(2026, 12, 1), date(2026, 12, 31)], []),
        ("milestone_2025_end", [], []),
    ],
)
def test_dates_2026_and_2027(cal: Calendar, key: str, y2026: list[date], y2027: list[date]) -> None:
    assert dates(cal, key, 2026) == y2026
    assert dates(cal, key, 2027) == y2027


def test_spring_festival_relative_to_the_festival_day() -> None:
    """A trigger anchored on the festival itself lands on 正月初一: 2026-02-17 and 2027-02-06."""
    cal = parse_calendar(with_entry(trigger={"holiday": "春节", "anchor": "day"}))
    assert [p.day for p in cal.pushes(date(2026, 1, 1), date(2028, 1, 1), TZ)] == [
        date(2026, 2, 17),
        date(2027, 2, 6),
    ]
    push = cal.pushes(date(2027, 1, 1), date(2028, 1, 1), TZ)[0]
    assert push.holiday == "spring_festival" and push.holiday_date == date(2027, 2, 6)


def test_monthly_and_seasonal_rhythm(cal: Calendar) -> None:
    assert dates(cal, "monthly_self_check", 2026) == [date(2026, m, 1) for m in range(1, 13)]
    assert dates(cal, "monthly_major_hazard_list", 2027) == [date(2027, m, 5) for m in range(1, 13)]
    assert dates(cal, "monthly_progress_report", 2026) == [date(2026, m, 3) for m in range(1, 13)]
    co = dates(cal, "heating_co_warning", 2026)
    assert co and all(d.weekday() == 0 and d.month in (11, 12, 1, 2, 3) for d in co)
    assert date(2026, 11, 2) in co and date(2026, 4, 6) not in co
    flood = dates(cal, "flood_landslide_watch", 2026)
    assert flood[0] == date(2026, 6, 1) and flood[-1] == date(2026, 9, 28) and len(flood) == 18
    assert dates(cal, "summer_drowning_prevention", 2027) == [
        date(2027, m, d) for m in (6, 7, 8) for d in (1, 15)
    ]
    fire = dates(cal, "forest_fire_season", 2026)
    assert [d.month for d in fire] == [1, 2, 3, 4, 5, 10, 11, 12]
    weekly = dates(cal, "weekly_digest", 2026)
    assert all(d.weekday() == 0 for d in weekly) and len(weekly) == 52


def test_pushes_are_timed_and_ordered(cal: Calendar) -> None:
    pushes = cal.pushes(date(2026, 5, 1), date(2027, 6, 5), TZ)
    assert pushes == sorted(pushes, key=lambda p: (p.at, p.entry.key))
    assert all(p.at.utcoffset() == timedelta(hours=8) for p in pushes)
    assert {p.at.time() for p in pushes} == {time(9, 0), time(17, 0)}
    assert all(p.entry.key != "heating_co_warning" or p.at.time() == time(17, 0) for p in pushes)
    assert not [p for p in pushes if p.entry.key.startswith(("milestone_2024", "milestone_2025"))]


def test_past_milestones_push_in_their_own_years(cal: Calendar) -> None:
    assert dates(cal, "milestone_2024_end", 2024) == [date(2024, 12, 1), date(2024, 12, 31)]
    assert dates(cal, "milestone_2024_mid", 2024) == [date(2024, 5, 31), date(2024, 6, 30)]


def test_due_catches_up_today_only(cal: Calendar) -> None:
    at_11 = datetime(2026, 6, 1, 11, 0, tzinfo=TZ)  # a Monday, Safety Month starts
    keys = {p.entry.key for p in cal.due(at_11, TZ)}
    assert keys == {
        "monthly_self_check",
        "safety_month_start",
        "flood_landslide_watch",
        "summer_drowning_prevention",
        "weekly_digest",
    }
    assert cal.due(datetime(2026, 6, 1, 8, 59, tzinfo=TZ), TZ) == []
    # Back at 02:00 the next morning: yesterday evening's pushes are not sent in the night.
    assert cal.due(datetime(2026, 11, 3, 2, 0, tzinfo=TZ), TZ) == []
    assert [
        p.entry.key for p in cal.due(datetime(2026, 11, 2, 17, 30, tzinfo=TZ), TZ, timedelta(hours=1))
    ] == ["heating_co_warning"]


def test_rendered_templates(cal: Calendar) -> None:
    push = next(
        p
        for p in cal.pushes(date(2027, 1, 1), date(2027, 3, 1), TZ)
        if p.entry.key == "pre_holiday_spring_festival"
    )
    text = cal.render(push)
    assert text.startswith("【春节节前安全检查】") and "2月5日起放假" in text
    assert push.dedup_key(7) == "pre_holiday_spring_festival:2027-01-31:7"
    as_json = push.to_json(cal)
    assert as_json["at"] == "2027-01-31T09:00:00+08:00" and as_json["event"] == "pre_holiday_spring_festival"
    assert as_json["targets"] == ["village", "enterprise", "station", "leadership"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"trigger": {"holiday": "圣诞节"}}, "不认识“圣诞节”"),
        ({"trigger": {"yearly": "6/16"}}, "MM-DD"),
        ({"trigger": {"yearly": "06-16", "monthly": 1}}, "恰好写一种"),
        ({"trigger": {"weekly": "someday"}}, "星期几"),
        ({"trigger": {"monthly": 32}}, "-31 到 31"),
        ({"trigger": {"date": "2026-02-30"}}, "YYYY-MM-DD"),
        ({"trigger": {"yearly": "06-16", "months": [6]}}, "months 只能"),
        ({"trigger": {"monthly": 1}, "targets": ["villages"]}, "不认识的群类型"),
        ({"trigger": {"monthly": 1}, "template": "今天是{holidy}"}, "{holidy}"),
        ({"trigger": {"monthly": 1}, "template": "少了{括号"}, "花括号"),
        ({"trigger": {"monthly": 1}, "time": "9点"}, "HH:MM"),
        ({"trigger": {"monthly": 1}, "builder": "magic"}, "builder"),
        ({"trigger": {"monthly": 1}, "colour": "red"}, "不认识的字段"),
        ({}, "缺少 trigger"),
    ],
)
def test_invalid_entries_get_clear_chinese_errors(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(CalendarError, match="第 1 项") as info:
        parse_calendar(with_entry(**entry))
    assert message in str(info.value)


def test_other_validation_errors(tmp_path: Path) -> None:
    data = copy.deepcopy(RAW)
    data["entries"].append(dict(data["entries"][0]))
    with pytest.raises(CalendarError, match="重复"):
        parse_calendar(data)
    data = copy.deepcopy(RAW)
    del data["texts"]["overdue_notice"]
    with pytest.raises(CalendarError, match="overdue_notice"):
        parse_calendar(data)
    bad = tmp_path / "calendar.toml"
    bad.write_text("[[entries]\nkey = 1", encoding="utf-8")
    with pytest.raises(CalendarError, match="格式有误"):
        load_calendar(bad)
    with pytest.raises(CalendarError, match="找不到日程表文件"):
        load_calendar(tmp_path / "missing.toml")


def test_a_township_can_edit_dates(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace('yearly = "03-20"', 'yearly = "04-08"')
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    cal = load_calendar(path)
    assert dates(cal, "yearly_heads_training", 2027) == [date(2027, 3, 25), date(2027, 4, 8)]


def test_an_older_calendar_with_its_own_labels_still_loads_and_speaks_the_wording_file(
    tmp_path: Path,
) -> None:
    """Calendars written before the labels moved to texts.toml keep working; those old tables no longer count."""
    old_tables = (
        '\n[labels.group_kinds]\nvillage = "村"\nstation = "站所"\nenterprise = "企业"\nleadership = "镇领导"\n'
        '\n[labels.categories]\nfire = "火灾（旧）"\n\n[labels.kinds]\nhazard = "隐患"\ntip = "内部举报"\n'
        '\n[labels.severities]\nmajor = "重大"\ngeneral = "一般"\n\n[labels.statuses]\nrectified = "已整改"\n'
    )
    path = tmp_path / "calendar.toml"
    path.write_text(DEFAULT_PATH.read_text(encoding="utf-8") + old_tables, encoding="utf-8")
    wording = {
        "categories": {"fire": "火灾"},
        "kinds": {"tip": "举报"},
        "statuses": {"rectified": "已整改待验收"},
    }
    cal = load_calendar(path, labels=wording)
    assert cal.label("categories", "fire") == "火灾" and cal.label("kinds", "tip") == "举报"
    assert cal.label("statuses", "rectified") == "已整改待验收"
    assert cal.label("holidays", "spring_festival") == "春节"  # the calendar's own names stay its own
    assert cal.with_labels({"categories": {"fire": "火情"}}).label("categories", "fire") == "火情"
    assert (
        load_calendar(path).label("severities", "major") == "major"
    )  # no wording given: codes, never the old table


def test_the_bundled_calendar_leaves_shared_names_to_the_wording_file() -> None:
    assert set(RAW["labels"]) == {"holidays", "weekdays"}
