"""All user-facing Chinese wording, loaded from an editable TOML file so a township can adapt it.

A township's own file may override any subset of keys; unknown keys or missing placeholders are reported
at start, not discovered in a group chat.
"""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path
from typing import Any

DEFAULT_TEXTS = Path(__file__).parent / "data" / "texts.toml"


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class TextsError(ValueError):
    """The wording file is not valid."""


def clean_text(text: str) -> str:
    """``text`` made safe to store and print: lone surrogates (undecodable bytes) become U+FFFD, NULs go.

    Undecodable input bytes arrive as lone surrogates (Python's ``surrogateescape``), and a JSON payload may
    carry them too; neither UTF-8 nor PostgreSQL can hold them, nor a NUL character.
    """
    if not _UNSTORABLE.search(text):
        return text
    # Through UTF-16: a proper surrogate pair becomes its character, a lone surrogate U+FFFD.
    fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return fixed.replace("\x00", "")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Texts:
    """Wording looked up by ``section.key`` and filled in with keyword arguments."""

    def __init__(self, data: dict[str, dict[str, str]]) -> None:
        self._data = data

    @classmethod
    def load(cls, override: Path | None = None) -> Texts:
        """The bundled wording, with a township's override file merged over it if given."""
        data = _read(DEFAULT_TEXTS)
        if override is not None:
            for section, entries in _read(override).items():
                if section not in data:
                    raise TextsError(f"用语文件 {override} 中有未知的段 [{section}]")
                for key, value in entries.items():
                    if key not in data[section]:
                        raise TextsError(f"用语文件 {override} 中 [{section}] 有未知的项 {key}")
                    expected = _placeholders(data[section][key])
                    if _placeholders(value) - expected:
                        raise TextsError(
                            f"用语文件 {override} 中 [{section}] {key} 用了未知的占位符："
                            f"{', '.join(sorted(_placeholders(value) - expected))}"
                        )
                    data[section][key] = value
        return cls(data)

    def __call__(self, key: str, **values: Any) -> str:
        """The text for ``section.key`` with placeholders filled in."""
        section, _, name = key.partition(".")
        return self._data[section][name].format(**values)

    def get(self, section: str, key: str) -> str | None:
        """The raw text of ``section.key`` if the wording file has it."""
        return self._data.get(section, {}).get(key)

    def label(self, section: str, code: str | None) -> str:
        """The Chinese label of a code (category, severity, status ...), or the code itself if unknown."""
        if code is None:
            return ""
        return self._data.get(section, {}).get(code, code)


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TextsError(f"找不到用语文件：{path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TextsError(f"用语文件 {path} 格式错误：{exc}") from exc
    for section, entries in raw.items():
        if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
            raise TextsError(f"用语文件 {path} 的 [{section}] 中每一项都应是文字")
    return raw
