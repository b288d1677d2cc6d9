"""Start-up caches: what loading the classifier computes from its data files, kept between runs.

Parsing the rules file, building the statistical model and compiling a few hundred regexes cost about as much
as the rest of a short ``anquan parse`` run. Their results are kept in the temporary directory (as jieba keeps
its dictionary), keyed by the exact bytes they came from and by the Python version. A missing, stale or broken
cache is never an error: the value is computed again, and written back when the directory allows.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# bump when the shape of a cached value changes
CACHE_FORMAT = "1"


def cache_path(kind: str, parts: Iterable[bytes | str]) -> Path:
    """Where the cached ``kind`` computed from ``parts`` lives (the temporary directory, one file per key)."""
    key = hashlib.sha1(f"{CACHE_FORMAT}|{sys.version}|{kind}".encode())
    for part in parts:
        key.update(b"\0")
        key.update(part if isinstance(part, bytes) else part.encode())
    return Path(tempfile.gettempdir()) / f"anquan-{kind}-{key.hexdigest()[:20]}.marshal"


def read_cached(path: Path) -> Any:
    """The value marshalled at ``path``, or None when it is missing or unreadable."""
    try:
        with path.open("rb") as fh:
            return marshal.load(fh)
    except (OSError, ValueError, EOFError, TypeError):
        return None


def write_cached(path: Path, value: Any) -> None:
    """Marshal ``value`` to ``path`` atomically; silently skip values marshal cannot hold or a read-only disk."""
    try:
        data = marshal.dumps(value)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass


def cached(kind: str, parts: Iterable[bytes | str], build: Callable[[], T]) -> T:
    """Return the cached value for ``parts``, or ``build()`` it (exceptions propagate) and cache it."""
    path = cache_path(kind, parts)
    value = read_cached(path)
    if value is None:
        value = build()
        write_cached(path, value)
    return value  # type: ignore[no-any-return]


class RegexCache:
    """Compiles regexes, reusing the compiled programs of earlier runs.

    The expensive part of ``re.compile`` is parsing and code generation in Python; the result is a list of
    integers that ``_sre.compile`` turns into a pattern object at once. That list is kept on disk, keyed by
    the exact set of patterns it was made for and the interpreter (its opcodes change between versions).
    Anything unexpected about the interpreter makes this a plain ``re.compile``.
    """

    def __init__(self, kind: str, parts: Iterable[bytes | str]) -> None:
        """Open the cache of programs for the patterns that come from ``parts`` (the data files' bytes)."""
        self._path = cache_path(f"regex-{kind}", parts)
        loaded = read_cached(self._path)
        self._programs: dict[str, tuple[Any, ...]] = loaded if isinstance(loaded, dict) else {}
        self._saved = len(self._programs)

    def compile(self, pattern: str) -> re.Pattern[str]:
        """``re.compile(pattern)``, from the stored program when there is one (raises ``re.error`` as it does)."""
        program = self._programs.get(pattern)
        if program is not None:
            try:
                return _from_program(pattern, program)
            except Exception:  # a program from another build of the interpreter: compile afresh
                del self._programs[pattern]
        compiled, program = _compile_with_program(pattern)
        if program is not None:
            self._programs[pattern] = program
            # regexes compiled lazily while classifying (the keyword sub-tries) are kept too: written each
            # time the set has grown by half, so a cold run writes the file a handful of times, not per regex
            if len(self._programs) >= max(64, self._saved * 3 // 2):
                self.save()
        return compiled

    def save(self) -> None:
        """Write the programs compiled since the last write (nothing when none were)."""
        if len(self._programs) != self._saved:
            write_cached(self._path, self._programs)
            self._saved = len(self._programs)


def _compile_with_program(pattern: str) -> tuple[re.Pattern[str], tuple[Any, ...] | None]:
    """Compile ``pattern`` as ``re.compile`` does, also returning the program to store (None if unavailable)."""
    try:
        from re import _compiler, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, 0)
        code = _compiler._code(parsed, 0)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, i in groupindex.items():
            indexgroup[i] = name
        program = (
            int(parsed.state.flags),
            [int(c) for c in code],
            parsed.state.groups - 1,
            groupindex,
            tuple(indexgroup),
        )
        return _from_program(pattern, program), program
    except re.error:
        raise
    except Exception:  # pragma: no cover - an interpreter without these internals
        return re.compile(pattern), None


def _from_program(pattern: str, program: tuple[Any, ...]) -> re.Pattern[str]:
    """A pattern object from a stored program: ``re._compiler.compile``'s last step."""
    import _sre  # type: ignore[import-not-found]

    flags, code, groups, groupindex, indexgroup = program
    return _sre.compile(pattern, flags, code, groups, groupindex, tuple(indexgroup))  # type: ignore[no-any-return]
