"""Which township data files are in force: one resolver, used by ``anquan run`` and every CLI command.

Each file (town profile, wording, calendar, keyword rules, jieba user dictionary, publicity library, statistical
model) is looked up in one order: a command-line option (``anquan --calendar FILE ...``), else its ``ANQUAN_*``
setting (environment or the ANQUAN_CONFIG file), else — for the calendar only — the ``[town] calendar`` named in
the profile in force, else the file shipped with the code. A file that was asked for but is missing, is a folder,
or is not UTF-8 (a BOM is fine) is refused with one Chinese sentence naming the option or setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.config import Settings

if TYPE_CHECKING:
    from collections.abc import Iterable

    from handlers.classifier import Classifier
    from handlers.profile import Profile
    from handlers.texts import Texts
    from scheduler.calendar import Calendar

Origin = Literal["option", "setting", "profile", "default"]

# What each file is called in messages (the same words the loaders use).
WHAT = {
    "profile": "镇情档案文件",
    "texts": "用语文件",
    "calendar": "日程表文件",
    "rules": "规则文件",
    "userdict": "分词词典",
    "publicity": "宣传文案库",
    "model": "识别模型文件",
}
BINARY = frozenset({"model"})  # gzip, not text: only checked to be a file


class DataFileError(ValueError):
    """A data file that was asked for cannot be used; the message names the file and the option or setting."""


@dataclass(frozen=True)
class DataFiles:
    """The data files in force, one path each, and where each choice came from (see ``origin``)."""

    profile: Path
    texts: Path
    calendar: Path
    rules: Path
    userdict: Path
    publicity: Path
    model: Path | None  # None: no model configured and none shipped, so the rules decide alone
    origins: tuple[tuple[str, Origin], ...] = ()

    def origin(self, name: str) -> Origin:
        """Where ``name``'s file came from: an option, an ANQUAN_* setting, the profile, or the shipped default."""
        return dict(self.origins).get(name, "default")

    def hint(self, name: str) -> str:
        """The bracketed Chinese hint that says how ``name``'s file was chosen and how to choose another."""
        origin = self.origin(name)
        if origin == "option":
            return f"（命令行选项 --{name}）"
        if origin == "setting":
            return f"（设置 ANQUAN_{name.upper()}；不设置则用自带的文件）"
        if origin == "profile":
            return f"（镇情档案 {self.profile} 的 [town] calendar 指定的日程表；设置 ANQUAN_CALENDAR 可另选）"
        return "（自带的文件）"

    def load_profile(self) -> Profile:
        """The town profile in force (raises ``ProfileError``)."""
        from handlers.profile import load_profile

        return load_profile(self.profile)

    def load_texts(self) -> Texts:
        """The wording: the shipped file with the township's own file, if any, merged over it (``TextsError``)."""
        from handlers.texts import Texts

        return Texts.load(None if self.origin("texts") == "default" else self.texts)

    def load_calendar(self, texts: Texts | None = None) -> Calendar:
        """The campaign calendar in force, naming categories, statuses ... as the wording does (``CalendarError``).

        ``texts`` is the wording already loaded; without it the wording in force is read.
        """
        from scheduler.calendar import SHARED_LABELS, load_calendar

        wording = texts if texts is not None else self.load_texts()
        return load_calendar(self.calendar, labels=wording.labels(*SHARED_LABELS))

    def load_classifier(self, places: Iterable[str] = (), *, use_model: bool = True) -> Classifier:
        """The classifier from the rules, user dictionary and model in force (raises ``RulesError``/ValueError)."""
        from handlers.classifier import Classifier

        return Classifier.load(
            self.rules,
            places,
            self.userdict,
            model_path=self.model,
            use_model=use_model and self.model is not None,
        )

    def load_publicity(self) -> dict[str, str]:
        """The named publicity texts (``@安全生产月`` …); a broken library raises DataFileError naming it."""
        import tomllib

        from handlers.publicity import load_library

        try:
            return load_library(self.publicity)
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            raise DataFileError(
                f"{WHAT['publicity']} {self.publicity} 有误：{exc}{self.hint('publicity')}"
            ) from None


def shipped() -> dict[str, Path | None]:
    """The files shipped with the code (the model only when it is present)."""
    from handlers.model import DEFAULT_MODEL
    from handlers.profile import DEFAULT_PROFILE
    from handlers.publicity import DEFAULT_LIBRARY
    from handlers.rules import DEFAULT_RULES, DEFAULT_USERDICT
    from handlers.texts import DEFAULT_TEXTS
    from scheduler.calendar import DEFAULT_PATH as DEFAULT_CALENDAR

    return {
        "profile": DEFAULT_PROFILE,
        "texts": DEFAULT_TEXTS,
        "calendar": DEFAULT_CALENDAR,
        "rules": DEFAULT_RULES,
        "userdict": DEFAULT_USERDICT,
        "publicity": DEFAULT_LIBRARY,
        "model": DEFAULT_MODEL if DEFAULT_MODEL.exists() else None,
    }


def resolve(
    settings: Settings,
    *,
    profile: Path | str | None = None,
    texts: Path | str | None = None,
    calendar: Path | str | None = None,
    rules: Path | str | None = None,
    userdict: Path | str | None = None,
    publicity: Path | str | None = None,
    model: Path | str | None = None,
) -> DataFiles:
    """The data files in force for ``settings`` and the command-line options given (None: not given).

    Raises DataFileError when a file that was asked for is missing, is a folder or is not UTF-8, and when the
    profile needed to find the calendar cannot be read.
    """
    options = {
        "profile": profile,
        "texts": texts,
        "calendar": calendar,
        "rules": rules,
        "userdict": userdict,
        "publicity": publicity,
        "model": model,
    }
    chosen = shipped()
    origins: dict[str, Origin] = {}
    for name, option in options.items():
        configured = getattr(settings, name)
        if option is not None:
            chosen[name], origins[name] = Path(option), "option"
        elif configured is not None:
            chosen[name], origins[name] = Path(configured), "setting"
    files = _files(chosen, origins)
    for name in origins:
        _check(files, name)
    if "calendar" not in origins:
        from_profile = _profile_calendar(files)
        if from_profile is not None:
            files = _files({**chosen, "calendar": from_profile}, {**origins, "calendar": "profile"})
            _check(files, "calendar")
    return files


def _files(paths: dict[str, Path | None], origins: dict[str, Origin]) -> DataFiles:
    def text(name: str) -> Path:
        path = paths[name]
        assert path is not None  # only the model may be absent
        return path

    return DataFiles(
        profile=text("profile"),
        texts=text("texts"),
        calendar=text("calendar"),
        rules=text("rules"),
        userdict=text("userdict"),
        publicity=text("publicity"),
        model=paths["model"],
        origins=tuple(origins.items()),
    )


def _check(files: DataFiles, name: str) -> None:
    """The chosen file for ``name`` exists, is a file and (unless binary) is UTF-8; else DataFileError."""
    from handlers.texts import read_data_file

    path = getattr(files, name)
    what = WHAT[name]
    if name in BINARY:
        if not path.exists():
            raise DataFileError(f"找不到{what}：{path}{files.hint(name)}")
        if not path.is_file():
            raise DataFileError(f"{what} {path} 是一个文件夹，应指向文件{files.hint(name)}")
        return
    try:
        read_data_file(path, what, DataFileError)
    except DataFileError as exc:
        raise DataFileError(f"{exc}{files.hint(name)}") from None


def _profile_calendar(files: DataFiles) -> Path | None:
    """The calendar named by the profile in force (``[town] calendar``), or None."""
    from handlers.profile import ProfileError

    try:
        return files.load_profile().calendar
    except ProfileError as exc:
        raise DataFileError(f"{exc}{files.hint('profile')}") from None
