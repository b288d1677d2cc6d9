"""Throughput benchmark: bare jieba segmentation vs. the full classifier (not a test).

Builds 60,000 messages by cycling the real LCCC chit-chat and the dev corpus, then times one
``tokenizer.lcut`` pass and one ``Classifier.classify`` pass over the same messages (after loading,
load time excluded) and prints messages/second for both and their ratio (target >= 0.6).

    .venv/bin/python tests/benchmarks/bench_parse.py [--n 60000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from handlers.classifier import Classifier  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def build_messages(n: int) -> list[str]:
    """Return n messages cycling the LCCC chatter and the dev corpus (a small fallback if absent)."""
    texts: list[str] = []
    lccc = SHARED / "real" / "chatter_lccc.tsv"
    dev = SHARED / "dev.jsonl"
    if lccc.exists():
        texts += lccc.read_text(encoding="utf-8").splitlines()[1:]
    if dev.exists():
        texts += [json.loads(line)["text"] for line in dev.read_text(encoding="utf-8").splitlines() if line]
    if not texts:
        texts = [
            "收到",
            "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌",
            "明天几点开会",
            "电线修好了，但是杆子又歪了",
        ]
    return list(itertools.islice(itertools.cycle(texts), n))


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60_000)
    args = ap.parse_args()

    messages = build_messages(args.n)
    t0 = time.perf_counter()
    clf = Classifier.load()
    load_s = time.perf_counter() - t0
    tokenizer = clf._tokenizer  # the same initialised jieba instance the classifier uses
    # warm up both paths so neither pays one-off costs inside the timing
    for text in messages[:500]:
        tokenizer.lcut(text)
        clf.classify(text)

    t0 = time.perf_counter()
    for text in messages:
        tokenizer.lcut(text)
    bare_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for text in messages:
        clf.classify(text)
    clf_s = time.perf_counter() - t0

    bare_rate = len(messages) / bare_s
    clf_rate = len(messages) / clf_s
    print(f"messages            {len(messages)}")
    print(f"classifier load     {load_s:.2f} s")
    print(f"bare jieba lcut     {bare_rate:,.0f} msgs/s ({bare_s:.2f} s)")
    print(f"Classifier.classify {clf_rate:,.0f} msgs/s ({clf_s:.2f} s)")
    print(f"ratio               {clf_rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
