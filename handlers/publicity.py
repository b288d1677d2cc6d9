"""The publicity library: named texts (``@安全生产月`` …) an official can broadcast, kept in an editable TOML file.

Kept apart from :mod:`handlers.broadcasts` (which needs the database) so that checking the data files, as every
``anquan`` command does at start, does not import SQLAlchemy.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

__all__ = ["DEFAULT_LIBRARY", "load_library"]

DEFAULT_LIBRARY = Path(__file__).parent / "data" / "publicity.toml"


def load_library(path: Path | None = None) -> dict[str, str]:
    """The named publicity texts (``@安全生产月`` …) from the editable library file."""
    data = tomllib.loads((path or DEFAULT_LIBRARY).read_text(encoding="utf-8-sig"))  # Notepad's BOM is fine
    library = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            raise ValueError(f"宣传文案库中“{name}”缺少 text")
        library[name] = entry["text"].strip()
    return library
