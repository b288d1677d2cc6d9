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

# bump when the shape or the computation of a cached value changes (3: regex programs carry first-character
# gates and tries; 4: pattern key sets hold pairs of characters, chosen by how many messages they let through)
CACHE_FORMAT = "4"


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
        # one read, then decode from memory: marshal.load on a file object reads each object separately,
        # which makes loading a large value several times slower
        return marshal.loads(path.read_bytes())
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
        first = None
        if not parsed.state.flags & re.IGNORECASE:
            _gate_branches(_parser, parsed, at_start=True)
            first = _hidden_first_chars(parsed)
        code = _code_searching_for(_compiler, parsed, first) if first else _compiler._code(parsed, 0)
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


# an alternation with at least this many branches gets a first-character gate
_GATE_BRANCHES = 4
# zero-width items: assertions and anchors (a gate may go before a run of them)
_ZERO_WIDTH = frozenset({"ASSERT", "ASSERT_NOT", "AT"})


def _gate_branches(parser: Any, seq: Any, at_start: bool = False) -> None:
    """Put a look-ahead for the possible first characters before every long alternation in a parsed regex.

    ``re`` tries the branches of an alternation one after another at every position it reaches them (after a
    lazy gap such as ``[^，。]{0,10}?`` that is every position of the gap); a look-ahead on a character set is
    one table look-up that rejects most positions at once. The gate is implied by the alternation itself (every
    branch starts with one of its characters), so the regex matches exactly what it matched before. It goes
    before the zero-width assertions right in front of the alternation (they commute), and never at the very
    start of the regex, whose first characters ``re`` already uses to skip ahead while searching.
    """
    data = seq.data
    i = 0
    while i < len(data):
        op, av = data[i]
        name = str(op)
        if name == "BRANCH":
            trie = _literal_trie(parser, seq.state, av[1])
            if trie is not None:
                data[i] = (op, (av[0], trie))
                op, av = data[i]
            for alt in av[1]:
                _gate_branches(parser, alt, at_start and i == 0)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            _gate_branches(parser, av[-1] if name == "SUBPATTERN" else av, at_start and i == 0)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT", "ASSERT", "ASSERT_NOT"):
            _gate_branches(parser, av[-1])
        if not (at_start and all(str(o) in _ZERO_WIDTH for o, _ in data[:i])) and _long_branch(data[i]):
            first = _first_chars(data[i])
            if first:
                at = i
                while at > 0 and str(data[at - 1][0]) in _ZERO_WIDTH:
                    at -= 1
                gate = parser.SubPattern(
                    seq.state, [(parser.IN, [(parser.LITERAL, c) for c in sorted(first)])]
                )
                data.insert(at, (parser.ASSERT, (1, gate)))
                i += 1
        i += 1


def _hidden_first_chars(parsed: Any) -> set[int] | None:
    """The characters every match of a regex starts with, when ``re`` cannot see them itself (the regex starts
    with look-behinds, or with alternatives that start with groups); None when ``re`` sees them or they are
    unknown. Without them ``re`` runs the whole regex from every position of the text."""
    data = parsed.data
    while data and str(data[0][0]) == "SUBPATTERN":
        data = data[0][1][-1].data
    if not data:
        return None
    op, av = data[0]
    name = str(op)
    if name in ("LITERAL", "IN") or (
        name == "BRANCH" and all(alt.data and str(alt.data[0][0]) == "LITERAL" for alt in av[1])
    ):
        return None  # re searches for these first characters itself
    return _first_of_seq(parsed.data) or None


def _code_searching_for(compiler: Any, parsed: Any, first: set[int]) -> list[int]:
    """``re._compiler._code`` with the info block ``re`` writes for a regex it knows the first characters of:
    the search then skips, in C, every position whose character is not one of ``first``."""
    flags = parsed.state.flags
    lo, hi = parsed.getwidth()
    if lo == 0 or lo >= compiler.MAXCODE:
        return compiler._code(parsed, 0)  # type: ignore[no-any-return]
    code: list[int] = [compiler.INFO, 0, compiler.SRE_INFO_CHARSET, lo, min(hi, compiler.MAXCODE)]
    charset, _ = compiler._optimize_charset([(compiler.LITERAL, c) for c in sorted(first)])
    compiler._compile_charset(charset, flags, code)
    code[1] = len(code) - 1
    compiler._compile(code, parsed.data, flags)
    code.append(compiler.SUCCESS)
    return code


def _literal_trie(parser: Any, state: Any, alternatives: list[Any]) -> list[Any] | None:
    """The branches of an alternation of plain words (``老人|老汉|娃娃|娃``) rewritten as a trie
    (``老(?:人|汉)|娃(?:娃|)``), or None when the alternation is not one ``re`` matches the same way as its trie.

    ``re`` tries the branches in order; the words that match at one position are prefixes of each other, so
    when every word comes before the words that are its own prefixes, the order they are tried in is longest
    first, exactly as in the trie, which tries one branch per character instead of every word."""
    words: list[tuple[int, ...]] = []
    for alt in alternatives:
        if not alt.data or any(str(o) != "LITERAL" for o, _ in alt.data):
            return None
        words.append(tuple(v for _, v in alt.data))
    seen: set[tuple[int, ...]] = set()
    for word in words:
        if any(word[:n] in seen for n in range(1, len(word) + 1)):
            return None  # a shorter word (or the same) comes first: re would try it before the longer one
        seen.add(word)
    root: dict[int, Any] = {}
    for word in words:
        node = root
        for c in word:
            node = node.setdefault(c, {})
        node[-1] = {}  # the end of a word

    def render(node: dict[int, Any]) -> list[Any]:
        branches = []
        for c in sorted(k for k in node if k != -1):
            branches.append(parser.SubPattern(state, [(parser.LITERAL, c), *_sequence(node[c])]))
        if -1 in node:
            branches.append(parser.SubPattern(state, []))  # the word may end here (tried last: longest first)
        return branches

    def _sequence(node: dict[int, Any]) -> list[Any]:
        if list(node) == [-1]:
            return []
        if len(node) == 1:
            (c,) = node
            return [(parser.LITERAL, c), *_sequence(node[c])]
        return [(parser.BRANCH, (None, render(node)))]

    return render(root)


def _long_branch(item: tuple[Any, Any]) -> bool:
    """True for an alternation of at least ``_GATE_BRANCHES`` branches, bare or as the first item of a group."""
    op, av = item
    name = str(op)
    if name == "SUBPATTERN":
        inner = av[-1].data
        return bool(inner) and _long_branch(inner[0])
    return name == "BRANCH" and len(av[1]) >= _GATE_BRANCHES


def _first_chars(item: tuple[Any, Any]) -> set[int] | None:
    """The code points a match of one parsed item can start with, or None when unknown or it can match empty."""
    op, av = item
    name = str(op)
    if name == "LITERAL":
        return {av}
    if name == "IN":
        if not all(str(o) == "LITERAL" for o, _ in av):
            return None
        return {v for _, v in av}
    if name == "SUBPATTERN":
        return _first_of_seq(av[-1].data)
    if name == "BRANCH":
        union: set[int] = set()
        for alt in av[1]:
            sub = _first_of_seq(alt.data)
            if sub is None:
                return None
            union |= sub
        return union
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] >= 1:
        return _first_of_seq(av[-1].data)
    return None


def _first_of_seq(data: list[tuple[Any, Any]]) -> set[int] | None:
    """The first characters of a sequence: those of its first item that is not zero-width."""
    for item in data:
        if str(item[0]) in _ZERO_WIDTH:
            continue
        return _first_chars(item)
    return None  # an empty sequence matches the empty string


def _from_program(pattern: str, program: tuple[Any, ...]) -> re.Pattern[str]:
    """A pattern object from a stored program: ``re._compiler.compile``'s last step."""
    import _sre  # type: ignore[import-not-found]

    flags, code, groups, groupindex, indexgroup = program
    return _sre.compile(pattern, flags, code, groups, groupindex, tuple(indexgroup))  # type: ignore[no-any-return]
