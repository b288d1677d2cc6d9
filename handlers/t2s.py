"""The traditional→simplified character table the classifier folds messages with (``data/t2s.tsv``).

:func:`load_table` reads the shipped table. The table is generated, not hand-kept: run
``python -m handlers.t2s > handlers/data/t2s.tsv`` with the ``maintain`` extra installed, which reads
OpenCC's ``TSCharacters.txt`` as shipped by the ``opencc-python-reimplemented`` package.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from importlib import metadata, util
from pathlib import Path

from handlers.rules_schema import RulesError

__all__ = ["DEFAULT_T2S", "SUPPLEMENT", "generate", "load_table", "opencc_dictionary", "parse_opencc"]

DEFAULT_T2S = Path(__file__).resolve().parent / "data" / "t2s.tsv"
OPENCC_PACKAGE = "opencc-python-reimplemented"

# Characters OpenCC converts only through its phrase or Taiwan-variant tables, which a per-character
# table cannot use: in chat 著 is nearly always the particle 着 (看著, 冒著煙), rarely 著名.
SUPPLEMENT: Mapping[str, str] = {"著": "着"}


def load_table(path: Path = DEFAULT_T2S) -> dict[int, str]:
    """Read a ``繁<TAB>简`` table into a ``str.translate`` map; raise RulesError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(
            f"读不了繁简对照表 {path} / cannot read traditional-simplified table: {exc}"
        ) from exc
    table: dict[int, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[0]) != 1 or len(parts[1]) != 1 or parts[0] == parts[1]:
            raise RulesError(
                f"繁简对照表 {path} 第 {lineno} 行应为“繁<TAB>简”两个不同的单字：{line!r}"
                f" / {path} line {lineno}: expected two different characters separated by a tab"
            )
        table[ord(parts[0])] = parts[1]
    return table


def parse_opencc(lines: Iterable[str]) -> dict[str, str]:
    """Turn OpenCC ``TSCharacters.txt`` lines (``繁<TAB>简1 简2…``) into single-character pairs.

    The first simplified form is OpenCC's usual one; a character whose first form is itself is also
    simplified Chinese (覆, 瞭) and is left alone, so nothing maps to itself.
    """
    pairs: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        source, _, targets = line.rstrip("\n").partition("\t")
        forms = targets.split()
        if len(source) != 1 or not forms or len(forms[0]) != 1 or forms[0] == source:
            continue
        pairs.setdefault(source, forms[0])
    return pairs


def opencc_dictionary() -> Path:
    """Where the installed ``opencc-python-reimplemented`` keeps ``TSCharacters.txt``."""
    spec = util.find_spec("opencc")
    if spec is None or spec.origin is None:
        raise SystemExit(f"需要先安装 {OPENCC_PACKAGE}：pip install -e '.[maintain]'")
    path = Path(spec.origin).parent / "dictionary" / "TSCharacters.txt"
    if not path.is_file():
        raise SystemExit(f"{path} 不存在：请安装 {OPENCC_PACKAGE}（pip install -e '.[maintain]'）")
    return path


def generate(source: Path, version: str) -> str:
    """The text of ``t2s.tsv``: a header saying where it came from, then one sorted pair per line."""
    pairs = parse_opencc(source.read_text(encoding="utf-8").splitlines())
    pairs.update(SUPPLEMENT)
    header = [
        "# 繁体→简体单字对照表（繁<TAB>简），由程序生成，请勿手改。乡镇自己要加的字写进 rules.toml 的 [normalize] chars。",
        "# Traditional -> simplified, one character pair per line. Generated; do not edit by hand.",
        f"# Source: OpenCC TSCharacters.txt (Apache-2.0) from {OPENCC_PACKAGE} {version},",
        "# first simplified form of each character, identity mappings dropped, plus handlers/t2s.py SUPPLEMENT.",
        "# Regenerate: pip install -e '.[maintain]' && python -m handlers.t2s > handlers/data/t2s.tsv",
    ]
    body = [f"{src}\t{dst}" for src, dst in sorted(pairs.items())]
    return "\n".join(header + body) + "\n"


def main() -> int:
    """Print the generated table to standard output."""
    source = opencc_dictionary()
    sys.stdout.write(generate(source, metadata.version(OPENCC_PACKAGE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
