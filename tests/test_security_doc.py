"""SECURITY.md names a test for every promise; this keeps those names true as tests are renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(\w+)`")


def test_every_test_named_in_security_md_exists() -> None:
    named = 0
    missing = []
    for line in (ROOT / "SECURITY.md").read_text(encoding="utf-8").splitlines():
        module = None
        for match in REFERENCE.finditer(line):
            module = match.group(1) or module
            assert module is not None, f"a test name without its module: {line}"
            source = (ROOT / module).read_text(encoding="utf-8") if (ROOT / module).exists() else ""
            named += 1
            if not re.search(rf"^(async )?def {match.group(2)}\(", source, re.MULTILINE):
                missing.append(f"{module}::{match.group(2)}")
    assert named > 40
    assert missing == []
