"""Chinese public holidays for the campaign calendar.

Two questions are answered for each of the seven statutory holidays and each year:

- ``festival_day(name, year)``: the festival itself (正月初一, 清明 solar term, 五月初五, 八月十五, or a fixed date).
  It is computed from the lunar calendar (``lunardate``) and a solar-term formula, so it is known for every year
  from 1901 to 2099.
- ``holiday_break(name, year)``: the days off around it (放假安排). Taken from the maintained ``chinese-calendar``
  library for the years it knows (the State Council's yearly arrangement, including make-up working days);
  for later years estimated from the statutory days (2025 rules: 除夕–初三, 5月1–2日, 10月1–3日, one day for the
  others) extended by adjacent weekends. An estimate can be a day or two off the arrangement published later;
  updating ``chinese-calendar`` replaces it with the real one.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

HOLIDAYS: tuple[str, ...] = (
    "new_year",
    "spring_festival",
    "qingming",
    "labour_day",
    "dragon_boat",
    "mid_autumn",
    "national_day",
)

# The chinese-calendar holiday behind each of our keys (its tables name days by the enum's value).
LIBRARY_HOLIDAYS = {
    "new_year": "new_years_day",
    "spring_festival": "spring_festival",
    "qingming": "tomb_sweeping_day",
    "labour_day": "labour_day",
    "dragon_boat": "dragon_boat_festival",
    "mid_autumn": "mid_autumn_festival",
    "national_day": "national_day",
}


def library_name(key: str) -> str:
    """How chinese-calendar's tables name the holiday ``key`` (e.g. "Spring Festival")."""
    from chinese_calendar import Holiday

    return Holiday[LIBRARY_HOLIDAYS[key]].value


# Names a township may write in its calendar file, mapped to the holiday keys.
ALIASES: dict[str, str] = {
    "元旦": "new_year",
    "春节": "spring_festival",
    "清明": "qingming",
    "清明节": "qingming",
    "劳动节": "labour_day",
    "五一": "labour_day",
    "端午": "dragon_boat",
    "端午节": "dragon_boat",
    "中秋": "mid_autumn",
    "中秋节": "mid_autumn",
    "国庆": "national_day",
    "国庆节": "national_day",
}


class HolidayError(ValueError):
    """An unknown holiday name or a year outside the supported range."""


def holiday_key(name: str) -> str:
    """The holiday key for an English key or a Chinese name (``春节`` → ``spring_festival``)."""
    key = ALIASES.get(name.strip(), name.strip())
    if key not in HOLIDAYS:
        raise HolidayError(name)
    return key


def qingming_day(year: int) -> date:
    """The day of the 清明 solar term (April 4 or 5 this century), by the standard 21st-century formula."""
    if not 2000 <= year <= 2099:
        raise HolidayError(f"清明 is computed for 2000–2099 only, not {year}")
    y = year % 100
    return date(year, 4, int(y * 0.2422 + 4.81) - y // 4)


def _lunar(year: int, month: int, day: int) -> date:
    from lunardate import LunarDate

    try:
        return LunarDate(year, month, day).to_solar_date()
    except ValueError as exc:  # outside lunardate's table (1900–2099)
        raise HolidayError(f"lunar date {year}-{month}-{day} is outside the supported years") from exc


@lru_cache(maxsize=512)
def festival_day(name: str, year: int) -> date:
    """The festival day of holiday ``name`` in ``year`` (Spring Festival 2027 → 2027-02-06)."""
    key = holiday_key(name)
    if key == "new_year":
        return date(year, 1, 1)
    if key == "labour_day":
        return date(year, 5, 1)
    if key == "national_day":
        return date(year, 10, 1)
    if key == "qingming":
        return qingming_day(year)
    if key == "spring_festival":
        return _lunar(year, 1, 1)
    if key == "dragon_boat":
        return _lunar(year, 5, 5)
    return _lunar(year, 8, 15)  # mid_autumn


def library_years() -> range:
    """The years the installed chinese-calendar knows the official arrangement for."""
    from chinese_calendar.constants import holidays

    years = [d.year for d in holidays]
    return range(min(years), max(years) + 1)


def _statutory_days(key: str, year: int) -> list[date]:
    """The statutory days off of one holiday (2025 rules), without weekends or swaps."""
    day = festival_day(key, year)
    if key == "spring_festival":
        return [day + timedelta(days=i) for i in range(-1, 3)]  # 除夕 to 初三
    if key == "labour_day":
        return [day, day + timedelta(days=1)]
    if key == "national_day":
        return [day + timedelta(days=i) for i in range(3)]
    return [day]


@lru_cache(maxsize=64)
def _estimated_days_off(year: int) -> frozenset[date]:
    return frozenset(d for key in HOLIDAYS for d in _statutory_days(key, year))


def _is_off_estimated(day: date) -> bool:
    return day.weekday() >= 5 or day in _estimated_days_off(day.year)


def _is_off_library(day: date) -> bool:
    import chinese_calendar

    return bool(chinese_calendar.is_holiday(day))


@lru_cache(maxsize=512)
def holiday_break(name: str, year: int) -> tuple[date, date]:
    """First and last day off of holiday ``name`` in ``year`` (from chinese-calendar, or estimated)."""
    key = holiday_key(name)
    in_library = year in library_years() and (key != "new_year" or year - 1 in library_years())
    if in_library:
        from chinese_calendar.constants import holidays

        named = sorted(d for d, n in holidays.items() if n == library_name(key) and d.year == year)
        if not named:  # the library knows the year but not this holiday (should not happen)
            named = [festival_day(key, year)]
        is_off = _is_off_library
        lo, hi = year - 1, year
    else:
        named = _statutory_days(key, year)
        is_off = _is_off_estimated
        lo, hi = year - 1, year + 1
    first, last = named[0], named[-1]
    while first.year >= lo and _safe(is_off, first - timedelta(days=1)):
        first -= timedelta(days=1)
    while last.year <= hi and _safe(is_off, last + timedelta(days=1)):
        last += timedelta(days=1)
    return first, last


def _safe(is_off: object, day: date) -> bool:
    try:
        return bool(is_off(day))  # type: ignore[operator]
    except NotImplementedError:  # chinese-calendar at the edge of its years
        return _is_off_estimated(day)


def source(year: int) -> str:
    """Where ``holiday_break`` takes ``year``'s arrangement from: ``chinese_calendar`` or ``estimate``."""
    return "chinese_calendar" if year in library_years() else "estimate"
