"""The town profile: villages, stations, enterprises, deadlines and thresholds, as an editable TOML file.

It is validated when loaded; every mistake is reported in Chinese with the place where it is.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.rewards import Tariff, TariffError, load_tariff
from handlers.texts import read_data_file

DEFAULT_PROFILE = Path(__file__).parent / "data" / "profile.toml"


class ProfileError(ValueError):
    """The town profile file is missing something or has a wrong value."""


@dataclass(frozen=True)
class Unit:
    """A village, station, enterprise or the leadership, with the short names people use for it."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """The full name and all aliases, longest first (so 王家沟村 wins over 王家沟)."""
        return tuple(sorted({self.name, *self.aliases}, key=len, reverse=True))


@dataclass(frozen=True)
class Profile:
    """The town the bot serves."""

    town: str
    bot_name: str
    office: str
    hotline: str
    units: tuple[Unit, ...]
    deadline_days: dict[str, int] = field(default_factory=lambda: {"major": 7, "general": 30})
    reply_threshold: float = 0.55
    silent_threshold: float = 0.35
    reports_per_hour: int = 6
    # Private chats: a burst of this many messages per sender, then this many a minute (in memory only).
    private_burst: int = 20
    private_per_minute: int = 10
    duplicate_window_days: int = 7
    calendar: Path | None = None
    rewards: Tariff = field(default_factory=Tariff)

    @property
    def villages(self) -> tuple[Unit, ...]:
        """The villages of the town."""
        return tuple(u for u in self.units if u.kind == "village")

    def place_names(self) -> list[str]:
        """Every village name and alias, for the classifier's gazetteer."""
        return [n for u in self.villages for n in u.names()]

    def find_unit(self, text: str | None, kinds: tuple[str, ...] | None = None) -> Unit | None:
        """The unit named in ``text`` (a group title or a place), preferring the longest match."""
        if not text:
            return None
        best: tuple[int, Unit] | None = None
        for unit in self.units:
            if kinds and unit.kind not in kinds:
                continue
            for name in unit.names():
                if name and name in text and (best is None or len(name) > best[0]):
                    best = (len(name), unit)
        return best[1] if best else None

    def village_of(self, place: str | None) -> str | None:
        """The full village name for a place as written (王家沟 → 王家沟村), or None if it is not ours."""
        unit = self.find_unit(place, ("village",))
        return unit.name if unit else None


def _units(data: dict[str, Any], key: str, kind: str) -> list[Unit]:
    raw = data.get(key, [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ProfileError(f"镇情档案中 [{key}] 应为列表")
    units = []
    for i, item in enumerate(raw, 1):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise ProfileError(f"镇情档案 [{key}] 第 {i} 项缺少 name（名称）")
        aliases = item.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ProfileError(f"镇情档案 [{key}] “{name}” 的 aliases 应为文字列表")
        units.append(
            Unit(name=name.strip(), kind=kind, aliases=tuple(a.strip() for a in aliases if a.strip()))
        )
    return units


def _number(section: dict[str, Any], key: str, default: float, where: str, low: float, high: float) -> float:
    value = section.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise ProfileError(f"镇情档案 [{where}] {key} 应为 {low} 到 {high} 之间的数字，现在是 {value!r}")
    return value


def load_profile(path: Path | None = None) -> Profile:
    """Read and validate a town profile (the bundled 克虎镇 example when ``path`` is None)."""
    path = path or DEFAULT_PROFILE
    try:
        data = tomllib.loads(read_data_file(Path(path), "镇情档案文件", ProfileError))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"镇情档案 {path} 格式错误：{exc}") from exc
    town = data.get("town")
    if not isinstance(town, dict) or not isinstance(town.get("name"), str):
        raise ProfileError("镇情档案缺少 [town] 段或其中的 name（镇名）")
    units = [
        *_units(data, "villages", "village"),
        *_units(data, "stations", "station"),
        *_units(data, "enterprises", "enterprise"),
        *_units(data, "leadership", "leadership"),
    ]
    if not any(u.kind == "village" for u in units):
        raise ProfileError("镇情档案至少要有一个 [[villages]] 村")
    seen: set[str] = set()
    for unit in units:
        if unit.name in seen:
            raise ProfileError(f"镇情档案中 “{unit.name}” 重复出现")
        seen.add(unit.name)
    deadlines = data.get("deadlines", {})
    thresholds = data.get("thresholds", {})
    limits = data.get("limits", {})
    reply = _number(thresholds, "reply", 0.55, "thresholds", 0, 1)
    silent = _number(thresholds, "silent", 0.35, "thresholds", 0, 1)
    if silent > reply:
        raise ProfileError("镇情档案 [thresholds] silent 不能大于 reply")
    calendar = town.get("calendar")
    if calendar is not None and not isinstance(calendar, str):
        raise ProfileError("镇情档案 [town] calendar 应为日历文件的路径（文字）")
    calendar_file = (Path(path).parent / calendar) if calendar else None
    if calendar_file is not None and not calendar_file.is_file():
        raise ProfileError(f"镇情档案 [town] calendar 指向的日历文件不存在：{calendar_file}")
    return Profile(
        calendar=calendar_file,
        town=town["name"],
        bot_name=str(town.get("bot_name", f"{town['name']}安全助手")),
        office=str(town.get("office", f"{town['name']}安全办")),
        hotline=str(town.get("hotline", "")),
        units=tuple(units),
        deadline_days={
            "major": int(_number(deadlines, "major", 7, "deadlines", 1, 365)),
            "general": int(_number(deadlines, "general", 30, "deadlines", 1, 365)),
        },
        reply_threshold=reply,
        silent_threshold=silent,
        reports_per_hour=int(_number(limits, "reports_per_hour", 6, "limits", 1, 1000)),
        private_burst=int(_number(limits, "private_burst", 20, "limits", 1, 1000)),
        private_per_minute=int(_number(limits, "private_per_minute", 10, "limits", 1, 1000)),
        duplicate_window_days=int(_number(limits, "duplicate_window_days", 7, "limits", 0, 90)),
        rewards=_tariff(data, str(town.get("office", f"{town['name']}安全办"))),
    )


def _tariff(data: dict[str, Any], office: str) -> Tariff:
    try:
        return load_tariff(data, office)
    except TariffError as exc:
        raise ProfileError(str(exc)) from exc
