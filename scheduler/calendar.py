"""The campaign calendar: a TOML file of dated pushes, validated at load, expanded into pushes for a window.

A township edits ``scheduler/data/calendar.toml`` (or its own copy) without touching code. Each ``[[entries]]``
item has a ``key``, a ``title``, a ``trigger``, the ``targets`` (group kinds), a ``time`` of day and a Chinese
``template``. Triggers (exactly one kind per entry)::

    trigger = { date = 2026-12-31, days_before = [30, 0] }        # once (milestones); past dates never push
    trigger = { yearly = "06-16" }                                # every year on MM-DD
    trigger = { monthly = 1 }                                     # day(s) of month; -1 is the last day
    trigger = { monthly = 10, months = [1, 4, 7, 10] }            # quarterly
    trigger = { weekly = "mon", months = [11, 12, 1, 2, 3] }      # weekly, optionally only in some months
    trigger = { daily = true, months = [7, 8] }
    trigger = { holiday = "春节", days_before = 3 }               # relative to the first day off (anchor="break")
    trigger = { holiday = "qingming", days_before = 2, anchor = "day" }   # ... or to the festival day itself

``days_before`` / ``days_after`` take a number or a list. Optional entry fields: ``start`` / ``end`` (dates),
``enabled`` (default true), ``builder`` (text built from the database: ``major_hazard_list``, ``monthly_report``,
``weekly_digest``). Every error names the file, the entry and the field, in Chinese.

Labels: holiday and weekday names are the calendar's own (``[labels.holidays]``, ``[labels.weekdays]``). The
names of categories, kinds, severities, statuses and group kinds are the township's wording file's
(``handlers/data/texts.toml`` and its override), handed over by whoever loads the calendar (``labels=``) so a
push and a chat reply use the same words; such tables left in an older calendar file are ignored.
"""

from __future__ import annotations

import calendar as _cal
import re
import string
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from scheduler import holidays

DEFAULT_PATH = Path(__file__).parent / "data" / "calendar.toml"
GROUP_KINDS = ("village", "station", "enterprise", "leadership")
BUILDERS = ("major_hazard_list", "monthly_report", "weekly_digest")
TRIGGER_KINDS = ("date", "yearly", "monthly", "weekly", "daily", "holiday")
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
WEEKDAYS_ZH = {"周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6, "周天": 6}
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")

# Placeholders every template may use, plus the ones a builder adds.
COMMON_FIELDS = ("title", "date", "year", "month", "day", "weekday", "holiday", "holiday_date", "days")
BUILDER_FIELDS = {
    "major_hazard_list": ("list", "count"),
    "monthly_report": ("report", "report_month"),
    "weekly_digest": ("digest",),
}
# Wording the job functions need from the [texts] table, with the placeholders each may use.
REQUIRED_TEXTS: dict[str, tuple[str, ...]] = {
    "date": ("year", "month", "day"),
    "month": ("year", "month"),
    "major_list_item": ("id", "place", "category", "status", "days", "deadline"),
    "major_list_empty": (),
    "deadline_reminder": ("list", "count"),
    "deadline_item": ("id", "place", "category", "severity", "deadline", "days_left"),
    "overdue_notice": ("list", "count"),
    "overdue_item": ("id", "place", "village", "category", "severity", "deadline", "days_over"),
    "overdue_event_note": ("deadline",),
    "digest_body": (
        "open",
        "overdue",
        "due_soon",
        "soon_days",
        "new",
        "rectified",
        "awaiting",
        "failed",
        "list",
    ),
    "digest_item": ("id", "place", "category", "severity", "status", "deadline"),
    "digest_empty": (),
    "list_more": ("more",),
    "report_body": (
        "month",
        "new",
        "rectified",
        "open",
        "overdue",
        "listed",
        "rate",
        "avg_days",
        "tips_received",
        "tips_verified",
        "tips_rewarded",
        "tips_paid",
        "by_village",
        "by_category",
    ),
    "report_row": ("name", "new", "rectified", "open", "overdue"),
    "report_none": (),
    "report_na": (),
    "report_days": ("days",),
    "unknown_village": (),
    "unknown_place": (),
    "chart_title": ("month",),
    "chart_new": (),
    "chart_rectified": (),
    "chart_open": (),
    "chart_overdue": (),
}
# Label tables the calendar file holds, and those that come from the wording file (``labels=`` when loading).
REQUIRED_LABELS = ("holidays", "weekdays")
SHARED_LABELS = ("categories", "kinds", "severities", "statuses", "group_kinds")


class CalendarError(ValueError):
    """The calendar file is missing, not valid TOML, or has an entry that cannot be understood."""


@dataclass(frozen=True)
class Trigger:
    """When an entry fires, as dates (the time of day belongs to the entry)."""

    kind: str
    on: date | None = None
    month_day: tuple[int, int] | None = None
    days: tuple[int, ...] = ()
    weekdays: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    holiday: str | None = None
    anchor: str = "break"
    offsets: tuple[int, ...] = (0,)

    def occurrences(self, start: date, end: date) -> Iterator[tuple[date, str | None, date | None]]:
        """Dates in ``[start, end)`` with the holiday key and holiday anchor date when holiday-relative."""
        if self.kind in ("date", "holiday", "yearly"):
            yield from self._anchored(start, end)
            return
        day = start
        while day < end:
            if (not self.months or day.month in self.months) and self._matches(day):
                yield day, None, None
            day += timedelta(days=1)

    def _matches(self, day: date) -> bool:
        if self.kind == "daily":
            return True
        if self.kind == "weekly":
            return day.weekday() in self.weekdays
        last = _cal.monthrange(day.year, day.month)[1]
        return any((d if d > 0 else last + 1 + d) == day.day for d in self.days)

    def _anchors(self, year: int) -> Iterator[tuple[date, str | None]]:
        if self.kind == "date":
            if self.on is not None and self.on.year == year:
                yield self.on, None
        elif self.kind == "yearly":
            assert self.month_day is not None
            month, day = self.month_day
            if month == 2 and day == 29 and not _cal.isleap(year):
                day = 28
            yield date(year, month, day), None
        else:
            assert self.holiday is not None
            try:
                if self.anchor == "day":
                    yield holidays.festival_day(self.holiday, year), self.holiday
                else:
                    yield holidays.holiday_break(self.holiday, year)[0], self.holiday
            except holidays.HolidayError:
                return

    def _anchored(self, start: date, end: date) -> Iterator[tuple[date, str | None, date | None]]:
        spread = max(abs(o) for o in self.offsets) // 365 + 1
        for year in range(start.year - spread, end.year + spread + 1):
            for anchor, holiday in self._anchors(year):
                for offset in self.offsets:
                    day = anchor + timedelta(days=offset)
                    if start <= day < end:
                        yield day, holiday, anchor


@dataclass(frozen=True)
class Entry:
    """One line of the calendar: what to push, when, and to which kinds of group."""

    key: str
    title: str
    trigger: Trigger
    at: time
    targets: tuple[str, ...]
    template: str
    builder: str | None = None
    start: date | None = None
    end: date | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Push:
    """One dated push of an entry: the entry's message at a local time on one day."""

    at: datetime
    entry: Entry
    holiday: str | None = None
    holiday_date: date | None = None

    @property
    def day(self) -> date:
        """The local date of the push (part of its dedup key)."""
        return self.at.date()

    def dedup_key(self, group_id: int) -> str:
        """The outbox key: one push per entry, date and group, whatever restarts happen."""
        return f"{self.entry.key}:{self.day.isoformat()}:{group_id}"

    def to_json(self, calendar: Calendar) -> dict[str, Any]:
        """The ``anquan schedule --json`` form of the push."""
        out: dict[str, Any] = {
            "at": self.at.isoformat(),
            "event": self.entry.key,
            "title": self.entry.title,
            "targets": list(self.entry.targets),
        }
        if self.holiday:
            out["holiday"] = self.holiday
            out["holiday_date"] = self.holiday_date.isoformat() if self.holiday_date else None
        if self.entry.builder:
            out["builder"] = self.entry.builder
        else:
            out["text"] = calendar.render(self)
        return out


@dataclass(frozen=True)
class DeadlineSettings:
    """The daily deadline job: when it runs, how many days ahead it reminds, and the weekly digest."""

    at: time = time(8, 30)
    remind_days_before: tuple[int, ...] = (3, 1)
    reminder_targets: tuple[str, ...] = ("village",)
    escalation_targets: tuple[str, ...] = ("leadership",)
    due_soon_days: int = 7


@dataclass(frozen=True)
class Calendar:
    """The loaded, validated calendar: entries, wording, labels and job settings."""

    entries: tuple[Entry, ...]
    texts: Mapping[str, str]
    labels: Mapping[str, Mapping[str, str]]
    variables: Mapping[str, str] = field(default_factory=dict)
    deadlines: DeadlineSettings = field(default_factory=DeadlineSettings)
    catch_up_hours: int = 12
    path: Path | None = None

    def with_labels(self, labels: Mapping[str, Mapping[str, str]]) -> Calendar:
        """This calendar speaking the wording file's names (the tables of ``labels`` named in SHARED_LABELS)."""
        shared = {name: {str(k): str(v) for k, v in labels.get(name, {}).items()} for name in SHARED_LABELS}
        return replace(self, labels={**self.labels, **shared})

    def entry(self, key: str) -> Entry:
        """The entry with this key."""
        for e in self.entries:
            if e.key == key:
                return e
        raise KeyError(key)

    def pushes(self, start: date, end: date, tz: ZoneInfo) -> list[Push]:
        """Every push with a local date in ``[start, end)``, in time order (then by key)."""
        out: list[Push] = []
        for entry in self.entries:
            if not entry.enabled:
                continue
            for day, holiday, anchor in entry.trigger.occurrences(start, end):
                if (entry.start and day < entry.start) or (entry.end and day > entry.end):
                    continue
                out.append(Push(datetime.combine(day, entry.at, tzinfo=tz), entry, holiday, anchor))
        out.sort(key=lambda p: (p.at, p.entry.key))
        return out

    def due(self, now: datetime, tz: ZoneInfo, lookback: timedelta | None = None) -> list[Push]:
        """Today's pushes whose time is in ``(now - lookback, now]``: what a run at ``now`` must have queued.

        Only today's (local date): a bot back at 02:00 does not send yesterday evening's reminder in the night.
        The lookback defaults to ``catch_up_hours``.
        """
        lookback = lookback if lookback is not None else timedelta(hours=self.catch_up_hours)
        local = now.astimezone(tz)
        since = local - lookback
        pushes = self.pushes(local.date(), local.date() + timedelta(days=1), tz)
        return [p for p in pushes if since < p.at <= local]

    def text(self, key: str, /, **values: Any) -> str:
        """One piece of the scheduler's wording from ``[texts]``, filled in."""
        return self.texts[key].format(**values)

    def label(self, table: str, key: str | None) -> str:
        """A Chinese label (holiday, group kind, category, ...), or the key itself when there is none.

        Categories, kinds, severities, statuses and group kinds are the wording file's, given when loading.
        """
        if key is None:
            return ""
        return self.labels.get(table, {}).get(key, key)

    def format_date(self, day: date) -> str:
        """A date in the calendar's wording, e.g. ``6月16日``."""
        return self.text("date", year=day.year, month=day.month, day=day.day)

    def render(self, push: Push, **extra: Any) -> str:
        """The push's message: its template with the date, holiday, variables and builder values."""
        values: dict[str, Any] = dict(self.variables)
        values.update(
            title=push.entry.title,
            date=self.format_date(push.day),
            year=push.day.year,
            month=push.day.month,
            day=push.day.day,
            weekday=self.label("weekdays", str(push.day.isoweekday())),
            holiday=self.label("holidays", push.holiday) if push.holiday else "",
            holiday_date=self.format_date(push.holiday_date) if push.holiday_date else "",
            days=(push.holiday_date - push.day).days if push.holiday_date else 0,
        )
        for name in BUILDER_FIELDS.get(push.entry.builder or "", ()):
            values.setdefault(name, "")
        values.update(extra)
        return push.entry.template.format(**values).strip()


# ---------------------------------------------------------------------------------------------------------------
# Loading and validation


def load_calendar(
    path: Path | str | None = None, *, labels: Mapping[str, Mapping[str, str]] | None = None
) -> Calendar:
    """Read and validate a calendar file (the bundled one by default); raise CalendarError in plain Chinese.

    ``labels`` holds the wording file's tables named in ``SHARED_LABELS`` (without them, codes show as they are).
    """
    path = Path(path) if path else DEFAULT_PATH
    try:
        raw = path.read_bytes().decode("utf-8-sig")  # Notepad's BOM is fine
    except OSError as exc:
        raise CalendarError(f"找不到日程表文件 {path}：{exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise CalendarError(
            f"日程表文件 {path} 不是 UTF-8 编码（可能是 GBK）：请用 UTF-8 编码保存（记事本“另存为”时编码选 UTF-8）"
        ) from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"日程表 {path} 格式有误（TOML）：{exc}") from exc
    return parse_calendar(data, path, labels=labels)


def parse_calendar(
    data: Mapping[str, Any],
    path: Path | None = None,
    *,
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> Calendar:
    """Validate already-parsed calendar data (see ``load_calendar``)."""
    where = f"日程表 {path.name if path else ''}".rstrip()
    settings = _table(data, "settings", where)
    default_time = _time(settings.get("time", "09:00"), f"{where} [settings] time")
    catch_up = settings.get("catch_up_hours", 12)
    if not isinstance(catch_up, int) or not 1 <= catch_up <= 48:
        raise CalendarError(
            f"{where} [settings] catch_up_hours 应为 1 到 48 之间的整数（小时），现在是 {catch_up!r}"
        )
    variables = {str(k): str(v) for k, v in _table(data, "vars", where).items()}
    texts = _texts(_table(data, "texts", where), where)
    own_labels = _labels(_table(data, "labels", where), where)
    deadlines = _deadlines(_table(data, "deadlines", where), where)

    items = data.get("entries")
    if not isinstance(items, list) or not items:
        raise CalendarError(f"{where} 至少要有一个 [[entries]] 日程")
    entries: list[Entry] = []
    seen: set[str] = set()
    for index, item in enumerate(items, 1):
        entry = _entry(item, index, where, default_time, variables)
        if entry.key in seen:
            raise CalendarError(
                f"{where} 第 {index} 项：key “{entry.key}”与前面的日程重复，每项的 key 必须不同"
            )
        seen.add(entry.key)
        entries.append(entry)
    calendar = Calendar(
        entries=tuple(entries),
        texts=texts,
        labels=own_labels,
        variables=variables,
        deadlines=deadlines,
        catch_up_hours=catch_up,
        path=path,
    )
    return calendar.with_labels(labels or {})


def _table(data: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise CalendarError(f"{where} 的 [{name}] 应是一个表")
    return value


def _placeholders(template: str) -> set[str]:
    try:
        return {
            name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name
        }
    except ValueError as exc:
        raise CalendarError(f"花括号不成对：{exc}") from exc


def _check_template(template: str, allowed: Sequence[str], what: str) -> None:
    try:
        names = _placeholders(template)
    except CalendarError as exc:
        raise CalendarError(f"{what}：{exc}（要写花括号本身请写成 {{{{ 或 }}}}）") from exc
    unknown = sorted(names - set(allowed))
    if unknown:
        allowed_text = "、".join("{" + a + "}" for a in allowed) or "（无）"
        raise CalendarError(
            f"{what} 里有不认识的占位符 {'、'.join('{' + u + '}' for u in unknown)}；可用：{allowed_text}"
        )


def _texts(table: Mapping[str, Any], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, allowed in REQUIRED_TEXTS.items():
        value = table.get(name)
        if not isinstance(value, str):
            raise CalendarError(f"{where} 的 [texts] 缺少文字 {name}（字符串）")
        _check_template(value, allowed, f"{where} [texts] {name}")
        out[name] = value
    return out


def _labels(table: Mapping[str, Any], where: str) -> dict[str, dict[str, str]]:
    """The calendar's own label tables; shared ones an older file still has ([labels.categories] ...) are ignored."""
    out: dict[str, dict[str, str]] = {}
    for name in REQUIRED_LABELS:
        sub = table.get(name)
        if not isinstance(sub, dict):
            raise CalendarError(f"{where} 缺少 [labels.{name}] 表")
        out[name] = {str(k): str(v) for k, v in sub.items()}
    missing = [h for h in holidays.HOLIDAYS if h not in out["holidays"]]
    if missing:
        raise CalendarError(f"{where} [labels.holidays] 缺少节日名称：{', '.join(missing)}")
    return out


def _kinds(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise CalendarError(f'{what} 应是群类型列表，例如 ["village", "enterprise"]')
    unknown = [v for v in value if v not in GROUP_KINDS]
    if unknown:
        raise CalendarError(f"{what} 里有不认识的群类型 {unknown}；可用：{', '.join(GROUP_KINDS)}")
    return tuple(dict.fromkeys(value))


def _deadlines(table: Mapping[str, Any], where: str) -> DeadlineSettings:
    what = f"{where} [deadlines]"
    days = table.get("remind_days_before", [3, 1])
    if isinstance(days, int):
        days = [days]
    if not isinstance(days, list) or not all(isinstance(d, int) and 0 <= d <= 60 for d in days):
        raise CalendarError(f"{what} remind_days_before 应是 0 到 60 之间的天数列表，例如 [3, 1]")
    soon = table.get("due_soon_days", 7)
    if not isinstance(soon, int) or not 1 <= soon <= 60:
        raise CalendarError(f"{what} due_soon_days 应是 1 到 60 之间的整数")
    return DeadlineSettings(
        at=_time(table.get("time", "08:30"), f"{what} time"),
        remind_days_before=tuple(sorted(set(days), reverse=True)),
        reminder_targets=_kinds(table.get("reminder_targets", ["village"]), f"{what} reminder_targets"),
        escalation_targets=_kinds(
            table.get("escalation_targets", ["leadership"]), f"{what} escalation_targets"
        ),
        due_soon_days=soon,
    )


def _time(value: Any, what: str) -> time:
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{1,2})[:：](\d{2})", value.strip())
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return time(int(m.group(1)), int(m.group(2)))
    raise CalendarError(f'{what} 应写成 "HH:MM"（24 小时制），例如 "09:00"，现在是 {value!r}')


def _date(value: Any, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarError(f"{what} 应写成日期 YYYY-MM-DD，例如 2026-12-31，现在是 {value!r}")


def _ints(value: Any, what: str, low: int, high: int, *, allow_zero: bool = True) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in value)
        or (not allow_zero and 0 in value)
    ):
        raise CalendarError(f"{what} 应是 {low} 到 {high} 之间的整数或整数列表，现在是 {value!r}")
    return tuple(sorted(set(value)))


def _weekdays(value: Any, what: str) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    out: list[int] = []
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 7:
            out.append(v - 1)
        elif isinstance(v, str) and v.strip().lower()[:3] in WEEKDAYS:
            out.append(WEEKDAYS[v.strip().lower()[:3]])
        elif isinstance(v, str) and v.strip() in WEEKDAYS_ZH:
            out.append(WEEKDAYS_ZH[v.strip()])
        else:
            raise CalendarError(f"{what} 应是星期几：mon…sun、周一…周日 或 1…7，现在是 {v!r}")
    if not out:
        raise CalendarError(f"{what} 至少要写一个星期几")
    return tuple(sorted(set(out)))


def _month_day(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", value.strip())
        if m:
            month, day = int(m.group(1)), int(m.group(2))
            if 1 <= month <= 12 and 1 <= day <= _cal.monthrange(2024, month)[1]:
                return month, day
    raise CalendarError(f'{what} 应写成 "MM-DD"（月-日），例如 "06-16"，现在是 {value!r}')


def _trigger(raw: Any, what: str) -> Trigger:
    if not isinstance(raw, dict):
        raise CalendarError(f'{what} 缺少 trigger，例如 trigger = {{ yearly = "06-16" }}')
    kinds = [k for k in TRIGGER_KINDS if k in raw]
    if len(kinds) != 1:
        raise CalendarError(
            f"{what} 的 trigger 必须恰好写一种：{'、'.join(TRIGGER_KINDS)}（现在是 {kinds or '没有'}）"
        )
    kind = kinds[0]
    known = {kind, "months", "days_before", "days_after", "anchor"}
    extra = sorted(set(raw) - known)
    if extra:
        raise CalendarError(f"{what} 的 trigger 里有不认识的字段 {extra}")
    months: tuple[int, ...] = ()
    if "months" in raw:
        if kind not in ("monthly", "weekly", "daily"):
            raise CalendarError(f"{what} 的 trigger：months 只能和 monthly、weekly、daily 一起用")
        months = _ints(raw["months"], f"{what} trigger.months", 1, 12)
    if ("days_before" in raw or "days_after" in raw) and kind not in ("date", "yearly", "holiday"):
        raise CalendarError(f"{what} 的 trigger：days_before/days_after 只能和 date、yearly、holiday 一起用")
    offsets: list[int] = []
    if "days_before" in raw:
        offsets += [-d for d in _ints(raw["days_before"], f"{what} trigger.days_before", 0, 366)]
    if "days_after" in raw:
        offsets += list(_ints(raw["days_after"], f"{what} trigger.days_after", 0, 366))
    offsets_t = tuple(sorted(set(offsets))) or (0,)
    anchor = raw.get("anchor", "break")
    if "anchor" in raw and kind != "holiday":
        raise CalendarError(f"{what} 的 trigger：anchor 只能和 holiday 一起用")
    if anchor not in ("break", "day"):
        raise CalendarError(f'{what} 的 trigger.anchor 应是 "break"（放假第一天）或 "day"（节日当天）')
    value = raw[kind]
    if kind == "date":
        return Trigger(kind, on=_date(value, f"{what} trigger.date"), offsets=offsets_t)
    if kind == "yearly":
        return Trigger(kind, month_day=_month_day(value, f"{what} trigger.yearly"), offsets=offsets_t)
    if kind == "monthly":
        days = _ints(value, f"{what} trigger.monthly", -31, 31, allow_zero=False)
        return Trigger(kind, days=days, months=months)
    if kind == "weekly":
        return Trigger(kind, weekdays=_weekdays(value, f"{what} trigger.weekly"), months=months)
    if kind == "daily":
        if value is not True:
            raise CalendarError(f"{what} 的 trigger：daily 应写成 daily = true")
        return Trigger(kind, months=months)
    if not isinstance(value, str):
        raise CalendarError(f"{what} 的 trigger.holiday 应是节日名称")
    try:
        key = holidays.holiday_key(value)
    except holidays.HolidayError:
        names = "、".join([*holidays.HOLIDAYS, *holidays.ALIASES])
        raise CalendarError(f"{what} 的 trigger.holiday 不认识“{value}”；可用：{names}") from None
    return Trigger(kind, holiday=key, anchor=anchor, offsets=offsets_t)


def _entry(item: Any, index: int, where: str, default_time: time, variables: Mapping[str, str]) -> Entry:
    if not isinstance(item, dict):
        raise CalendarError(f"{where} 第 {index} 项不是一个表")
    key = item.get("key")
    what = f"{where} 第 {index} 项（key = {key!r}）"
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise CalendarError(
            f"{what}：key 应由小写英文字母、数字和下划线组成（2–48 个字符），例如 monthly_self_check"
        )
    known = {"key", "title", "trigger", "time", "targets", "template", "builder", "start", "end", "enabled"}
    extra = sorted(set(item) - known)
    if extra:
        raise CalendarError(f"{what}：有不认识的字段 {extra}；可用：{', '.join(sorted(known))}")
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        raise CalendarError(f"{what}：缺少 title（日程名称）")
    builder = item.get("builder")
    if builder is not None and builder not in BUILDERS:
        raise CalendarError(f"{what}：builder 应是 {', '.join(BUILDERS)} 之一，现在是 {builder!r}")
    template = item.get("template")
    if not isinstance(template, str) or not template.strip():
        raise CalendarError(f"{what}：缺少 template（推送的文字）")
    allowed = (*COMMON_FIELDS, *variables, *BUILDER_FIELDS.get(builder or "", ()))
    _check_template(template, allowed, f"{what} 的 template")
    trigger = _trigger(item.get("trigger"), what)
    start = _date(item["start"], f"{what} start") if "start" in item else None
    end = _date(item["end"], f"{what} end") if "end" in item else None
    if start and end and end < start:
        raise CalendarError(f"{what}：end 早于 start")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise CalendarError(f"{what}：enabled 应是 true 或 false")
    return Entry(
        key=key,
        title=title.strip(),
        trigger=trigger,
        at=_time(item.get("time", default_time), f"{what} time"),
        targets=_kinds(item.get("targets"), f"{what} targets"),
        template=template,
        builder=builder,
        start=start,
        end=end,
        enabled=enabled,
    )
