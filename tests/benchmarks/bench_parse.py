"""Speed benchmark (a script, not a test): ``anquan parse`` against bare jieba, two whole processes each.

Builds a hazard-dense message list — the positives (hazard and tip lines) of ``../shared/data/dev.jsonl``,
``tests/fixtures/classifier_cases.jsonl`` and ``tests/corpora/train/*.jsonl`` when present — cycled to
``--n`` lines (default 20,000) and written to a temporary file. Then it times, on that same file, the whole
process ``anquan parse < file`` and the whole process ``python -c "...jieba.lcut(line) for each line..."``
(start-up and dictionary load included in both), best of ``--repeat`` runs each, and prints both times and the
ratio jieba_time / parse_time (target >= 0.6). Finally it loads the classifier in this process and prints the
classification rate in messages per second (load excluded).

    .venv/bin/python tests/benchmarks/bench_parse.py [--n 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
POSITIVE = {"hazard", "tip"}

# The bare-jieba process: the default dictionary, one lcut per line, nothing printed.
JIEBA_SCRIPT = """
import logging, sys, warnings
warnings.simplefilter("ignore")
import jieba
jieba.setLogLevel(logging.WARNING)
jieba.initialize()
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        jieba.lcut(line.rstrip("\\n"))
"""


def corpus_files() -> list[Path]:
    """The labelled corpora the positives come from (those that exist)."""
    files = [SHARED / "dev.jsonl", REPO / "tests" / "fixtures" / "classifier_cases.jsonl"]
    files += sorted((REPO / "tests" / "corpora" / "train").glob("*.jsonl"))
    return [f for f in files if f.exists()]


def positives(files: list[Path]) -> list[str]:
    """Every hazard or tip text of the corpora, one line each (newlines inside a text become spaces)."""
    texts: list[str] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("intent") in POSITIVE and isinstance(row.get("text"), str):
                texts.append(" ".join(row["text"].splitlines()))
    return texts


def parse_command() -> list[str]:
    """The installed ``anquan parse`` next to this Python, or the same entry point through ``-c``."""
    script = Path(sys.executable).with_name("anquan")
    if script.exists():
        return [str(script), "parse"]
    return [sys.executable, "-c", "from bot.cli import main; main()", "parse"]


def time_process(cmd: list[str], stdin_path: Path | None, out_path: Path | None) -> tuple[float, float]:
    """Run one whole process to the end and return its wall time and CPU time (user + system, which other
    load on the machine disturbs less); fail loudly if it fails."""
    env = os.environ | {"PYTHONPATH": str(REPO)}
    with (
        open(stdin_path or os.devnull, "rb") as stdin,
        open(out_path or os.devnull, "wb") as stdout,
    ):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=REPO)
        elapsed = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def in_process_rate(messages: list[str]) -> tuple[float, float, float]:
    """Load the classifier here; return (load seconds, classify msgs/s, bare tokenizer lcut msgs/s)."""
    sys.path.insert(0, str(REPO))
    from handlers.classifier import Classifier

    t0 = time.perf_counter()
    clf = Classifier.load()
    load_s = time.perf_counter() - t0
    tokenizer = clf._tokenizer  # the same initialised jieba instance the classifier uses
    for text in messages[:500]:  # warm both paths so neither pays one-off costs inside the timing
        tokenizer.lcut(text)
        clf.classify(text)
    t0 = time.perf_counter()
    for text in messages:
        clf.classify(text)
    clf_rate = len(messages) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for text in messages:
        tokenizer.lcut(text)
    lcut_rate = len(messages) / (time.perf_counter() - t0)
    return load_s, clf_rate, lcut_rate


def main() -> None:
    """Build the message file, time both processes, and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="messages in the file (default 20000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each process; the best counts (default 3)")
    args = ap.parse_args()

    files = corpus_files()
    pool = positives(files)
    if not pool:
        sys.exit(
            "no labelled positives found (../shared/data/dev.jsonl, tests/fixtures, tests/corpora/train)"
        )
    messages = list(itertools.islice(itertools.cycle(pool), args.n))

    with tempfile.TemporaryDirectory(prefix="anquan-bench-") as tmp:
        msg_path = Path(tmp) / "messages.txt"
        msg_path.write_text("".join(m + "\n" for m in messages), encoding="utf-8")
        out_path = Path(tmp) / "parsed.jsonl"
        parse_cmd = parse_command()
        jieba_cmd = [sys.executable, "-c", JIEBA_SCRIPT, str(msg_path)]
        parse_times: list[tuple[float, float]] = []
        jieba_times: list[tuple[float, float]] = []
        for _ in range(max(1, args.repeat)):  # interleaved, so a busy moment hurts both alike
            parse_times.append(time_process(parse_cmd, msg_path, out_path))
            jieba_times.append(time_process(jieba_cmd, None, None))
        with out_path.open(encoding="utf-8") as f:
            out_lines = sum(1 for _ in f)
        if out_lines != len(messages):
            sys.exit(f"anquan parse printed {out_lines} lines for {len(messages)} messages")
        filed = sum(
            json.loads(line)["intent"] in POSITIVE
            for line in out_path.read_text(encoding="utf-8").splitlines()
        )

    parse_s, jieba_s = min(t for t, _ in parse_times), min(t for t, _ in jieba_times)
    parse_cpu, jieba_cpu = min(c for _, c in parse_times), min(c for _, c in jieba_times)
    load_s, clf_rate, lcut_rate = in_process_rate(messages)
    print(f"corpora               {', '.join(os.path.relpath(f, REPO) for f in files)}")
    print(f"messages              {len(messages)} ({len(pool)} distinct positives, cycled; {filed} filed)")
    print(f"anquan parse process  {parse_s:.2f} s wall, {parse_cpu:.2f} s CPU (best of {_list(parse_times)})")
    print(f"bare jieba process    {jieba_s:.2f} s wall, {jieba_cpu:.2f} s CPU (best of {_list(jieba_times)})")
    print(
        f"ratio jieba/parse     {jieba_s / parse_s:.2f} wall, {jieba_cpu / parse_cpu:.2f} CPU (target >= 0.6)"
    )
    print(f"in-process classify   {clf_rate:,.0f} msgs/s (classifier load {load_s:.2f} s, excluded)")
    print(f"in-process jieba lcut {lcut_rate:,.0f} msgs/s (same tokenizer, for comparison)")


def _list(times: list[tuple[float, float]]) -> str:
    return "; ".join(f"{wall:.2f}/{cpu:.2f}" for wall, cpu in times)


if __name__ == "__main__":
    main()
