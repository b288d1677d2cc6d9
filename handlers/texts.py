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


def read_data_file(path: Path, what: str, error: type[ValueError]) -> str:
    """The text of a township's data file: UTF-8 with or without a BOM (Notepad adds one); else ``error``.

    A file saved in GBK (or any other encoding) is named with the fix, not shown as a decoding traceback.
    """
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise error(f"找不到{what}：{path}") from exc
    except IsADirectoryError as exc:
        raise error(f"{what} {path} 是一个文件夹，应指向文件") from exc
    except OSError as exc:
        raise error(f"无法读取{what} {path}：{exc.strerror or exc}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(
            f"{what} {path} 不是 UTF-8 编码（可能是 GBK）：请用 UTF-8 编码保存（记事本“另存为”时编码选 UTF-8）"
        ) from None


def _placeholders(template: str, where: str = "") -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as exc:
        raise TextsError(
            f"{where}花括号不成对（{exc}）：占位符写成 {{名称}}，要写花括号本身请写成 {{{{ 或 }}}}"
        ) from None


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
                    used = _placeholders(value, f"用语文件 {override} 中 [{section}] {key} ")
                    if used - expected:
                        raise TextsError(
                            f"用语文件 {override} 中 [{section}] {key} 用了未知的占位符："
                            f"{', '.join(sorted(used - expected))}"
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

    def labels(self, *sections: str) -> dict[str, dict[str, str]]:
        """Copies of label sections (code → Chinese label, in file order), e.g. for the scheduler's pushes."""
        return {section: dict(self._data.get(section, {})) for section in sections}


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        raw = tomllib.loads(read_data_file(path, "用语文件", TextsError))
    except tomllib.TOMLDecodeError as exc:
        raise TextsError(f"用语文件 {path} 格式错误：{exc}") from exc
    for section, entries in raw.items():
        if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
            raise TextsError(f"用语文件 {path} 的 [{section}] 中每一项都应是文字")
    return raw
