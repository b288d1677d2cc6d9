"""Holiday dates: chinese-calendar where it knows the year, lunar/solar-term computation for the rest."""

from __future__ import annotations

from datetime import date

import chinese_calendar
import pytest
from lunardate import LunarDate

from scheduler import holidays
from scheduler.holidays import HOLIDAYS, HolidayError, festival_day, holiday_break, holiday_key, qingming_day


@pytest.mark.parametrize(
    ("name", "year", "expected"),
    [
        ("spring_festival", 2026, date(2026, 2, 17)),
        ("spring_festival", 2027, date(2027, 2, 6)),
        ("qingming", 2026, date(2026, 4, 5)),
        ("qingming", 2027, date(2027, 4, 5)),
        ("dragon_boat", 2026, date(2026, 6, 19)),
        ("dragon_boat", 2027, date(2027, 6, 9)),
        ("mid_autumn", 2026, date(2026, 9, 25)),
        ("mid_autumn", 2027, date(2027, 9, 15)),
        ("national_day", 2027, date(2027, 10, 1)),
        ("new_year", 2027, date(2027, 1, 1)),
        ("labour_day", 2027, date(2027, 5, 1)),
    ],
)
def test_festival_days(name: str, year: int, expected: date) -> None:
    assert festival_day(name, year) == expected


def test_spring_festival_2027_from_both_sources() -> None:
    """2027-02-06: the lunar fallback says so, and chinese-calendar too once it knows 2027."""
    assert LunarDate(2027, 1, 1).to_solar_date() == date(2027, 2, 6)
    assert festival_day("春节", 2027) == date(2027, 2, 6)
    if 2027 in holidays.library_years():
        assert chinese_calendar.get_holiday_detail(date(2027, 2, 6)) == (True, "Spring Festival")
        assert holidays.source(2027) == "chinese_calendar"
    else:
        with pytest.raises(NotImplementedError):
            chinese_calendar.get_holiday_detail(date(2027, 2, 6))
        assert holidays.source(2027) == "estimate"
    # The year the library does know agrees with the fallback computation.
    assert chinese_calendar.get_holiday_detail(festival_day("spring_festival", 2026)) == (
        True,
        "Spring Festival",
    )


def test_fallback_agrees_with_library_for_every_known_year() -> None:
    """The computed festival day is one of the library's named days off, for every holiday and year it has."""
    from chinese_calendar.constants import holidays as table

    for year in holidays.library_years():
        if year < 2008:  # Qingming, Dragon Boat and Mid-Autumn became days off in 2008
            continue
        for name in HOLIDAYS:
            day = festival_day(name, year)
            named = {d for d, n in table.items() if n == holidays.library_name(name) and d.year == year}
            start, end = holiday_break(name, year)
            assert start <= day <= end, (name, year)
            assert day in named or chinese_calendar.is_holiday(day), (name, year)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2008, 4),
        (2010, 5),
        (2016, 4),
        (2019, 5),
        (2020, 4),
        (2023, 5),
        (2024, 4),
        (2025, 4),
        (2026, 5),
        (2027, 5),
        (2028, 4),
        (2029, 4),
        (2030, 5),
    ],
)
def test_qingming_solar_term(year: int, expected: int) -> None:
    assert qingming_day(year) == date(year, 4, expected)


def test_breaks_from_library_and_estimated() -> None:
    assert holiday_break("spring_festival", 2026) == (date(2026, 2, 15), date(2026, 2, 23))
    assert holiday_break("national_day", 2026) == (date(2026, 10, 1), date(2026, 10, 7))
    assert holiday_break("mid_autumn", 2025)[0] == date(2025, 10, 1)  # merged with National Day that year
    assert holiday_break("qingming", 2026) == (date(2026, 4, 4), date(2026, 4, 6))
    # Estimates for a year the library lacks: statutory days plus adjacent weekends.
    assert holiday_break("spring_festival", 2027)[0] == date(2027, 2, 5)  # 除夕
    assert holiday_break("new_year", 2027) == (date(2027, 1, 1), date(2027, 1, 3))  # Fri + weekend
    assert holiday_break("dragon_boat", 2027) == (date(2027, 6, 9), date(2027, 6, 9))


def test_names_and_errors() -> None:
    assert holiday_key("春节") == "spring_festival"
    assert holiday_key("国庆节") == "national_day"
    assert holiday_key("qingming") == "qingming"
    with pytest.raises(HolidayError):
        holiday_key("圣诞节")
    with pytest.raises(HolidayError):
        qingming_day(2150)
