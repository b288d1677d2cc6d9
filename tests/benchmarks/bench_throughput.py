"""Messages per second through python-telegram-bot: a bare echo bot versus anquan, on the same fake Bot API.

Both poll the fake server on loopback and answer every message; anquan files each one as a hazard (distinct
objects, so nothing is merged) in a real database, optionally holding a pre-filled ledger. Send limits are off on
both sides, so the figure is what the bot itself can do. Run both in one process, side by side:

    python tests/benchmarks/bench_throughput.py --messages 600
    python tests/benchmarks/bench_throughput.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench --ledger 100000

The ratio anquan / echo is the figure issue 10 asks for (target ≥ 0.6 on SQLite and on PostgreSQL).

By default the echo bot runs on PTB's defaults (up to 256 replies at once, each free to open its own connection);
it then spends much of its time in httpcore's pool bookkeeping, which grows with the square of its connections.
``--matched-echo`` gives it anquan's bound instead (MAX_IN_FLIGHT replies at once, the pool sized to match), the
same transport on both sides: a far faster echo bot, so a far lower ratio. Report which one a figure is against.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import FakeTelegramAPI, group_chat, text_update, user  # noqa: E402

VILLAGES = ("王家沟村", "庙坪村", "克虎村", "寨则山村", "前青塘村", "后青塘村", "刘家峁村", "高家塔村")
OBJECTS = (
    "电线杆歪了，随时会倒",
    "老窑洞裂了好宽的缝，下雨怕塌",
    "桥护栏断了一截",
    "配电箱门坏了电线露在外面",
)


def _messages(n: int) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """``n`` distinct hazards from many senders in many groups (no flood limit, no duplicate merging)."""
    groups = [group_chat(-4_100_000_000 - i, f"{v}安全群") for i, v in enumerate(VILLAGES)]
    out = []
    for i in range(n):
        village = VILLAGES[i % len(VILLAGES)]
        text = f"{village}{i + 1}号院门口的{OBJECTS[i % len(OBJECTS)]}"
        out.append((groups[i % len(groups)], user(5_000_000_000 + i, "村民", str(i)), text))
    return out


async def _drive(api: FakeTelegramAPI, n: int, start_bot: Any) -> float:
    """Start a bot, push ``n`` messages at once, and time until ``n`` answers are sent."""
    stop = asyncio.Event()
    task = await start_bot(stop)
    await api.wait_for(lambda: any(c.method == "getupdates" for c in api.calls), timeout=30)
    before = len(api.sent)
    began = time.perf_counter()
    for chat, sender, text in _messages(n):
        api.push_update(text_update(chat, sender, text))
    await api.wait_for(lambda: len(api.sent) - before >= n, timeout=600)
    elapsed = time.perf_counter() - began
    stop.set()
    await asyncio.wait_for(task, 60)
    return n / elapsed


async def echo_rate(n: int, matched: bool = False) -> float:
    """A bare PTB bot that answers every text with the same text (concurrent updates, as anquan runs).

    With ``matched`` it sends through as many connections, as many calls at once, as anquan's adapter does
    (``MAX_IN_FLIGHT`` replies in flight, the pool sized to match); otherwise with PTB's defaults (256 handlers
    at once, each reply free to open its own connection).
    """
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    from bot.adapters.telegram import MAX_IN_FLIGHT, SPARE_CONNECTIONS

    async with FakeTelegramAPI() as api:

        async def start(stop: asyncio.Event) -> asyncio.Task[None]:
            async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
                assert update.message is not None
                await update.message.reply_text(update.message.text or "")

            builder = ApplicationBuilder().token(api.token).base_url(api.base_url).job_queue(None)
            if matched:
                builder = builder.concurrent_updates(MAX_IN_FLIGHT).connection_pool_size(
                    MAX_IN_FLIGHT + SPARE_CONNECTIONS
                )
            else:
                builder = builder.concurrent_updates(True)
            app = builder.build()
            app.add_handler(MessageHandler(filters.TEXT, echo))

            async def run() -> None:
                async with app:
                    await app.start()
                    assert app.updater is not None
                    await app.updater.start_polling(timeout=2)
                    await stop.wait()
                    await app.updater.stop()
                    await app.stop()

            return asyncio.create_task(run())

        return await _drive(api, n, start)


async def anquan_rate(n: int, url: str | None, ledger: int) -> float:
    """anquan's Telegram adapter, bridge and router on a real database, send limits off."""
    from bot.adapters.telegram import RetryPolicy, SendLimiter, TelegramAdapter
    from bot.app import Database
    from bot.bridge import Bridge
    from handlers.classifier import Classifier
    from handlers.context import Core
    from handlers.profile import load_profile
    from handlers.router import Router
    from handlers.texts import Texts
    from storage.db import make_engine, make_session_factory, upgrade

    with tempfile.TemporaryDirectory() as tmp:
        target = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        # A given database is emptied first (and filled when asked): the same messages again would all be
        # redeliveries, answered with silence, and the run would wait for replies that never come.
        if ledger or url:
            from datetime import UTC, datetime

            from tests.benchmarks.ledger import generate

            generate(target, ledger, datetime.now(UTC), seed=1, fresh=True, quiet=True)
        engine = make_engine(target)
        upgrade(engine)
        db = Database(engine, make_session_factory(engine))
        profile = load_profile()
        core = Core(
            sessions=db.sessions,
            classifier=Classifier.load(),
            texts=Texts.load(),
            profile=profile,
            secret=b"bench",
        )
        bridge = Bridge(*Router(core).parts)
        async with FakeTelegramAPI() as api:
            adapter = TelegramAdapter(
                api.token,
                base_url=api.base_url,
                poll_timeout=2.0,
                limiter=SendLimiter(per_second=0, chat_interval=0, group_per_minute=10**9),
                retry=RetryPolicy(base_delay=0.05),
            )

            async def start(stop: asyncio.Event) -> asyncio.Task[None]:
                return asyncio.create_task(adapter.run(bridge, stop))

            try:
                return await _drive(api, n, start)
            finally:
                engine.dispose()


def main() -> None:
    """Print echo and anquan rates and their ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--url", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--ledger", type=int, default=0, help="reports to pre-fill with tests/benchmarks/ledger.py"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--matched-echo",
        action="store_true",
        help="give the echo bot anquan's connection pool and in-flight bound instead of PTB's defaults",
    )
    args = parser.parse_args()
    echo = max(asyncio.run(echo_rate(args.messages, args.matched_echo)) for _ in range(args.rounds))
    ours = max(asyncio.run(anquan_rate(args.messages, args.url, args.ledger)) for _ in range(args.rounds))
    where = args.url.split("@")[-1] if args.url else "sqlite"
    print(f"echo bot ({'matched' if args.matched_echo else 'PTB defaults'}): {echo:.0f} msg/s")
    print(f"anquan ({where}, ledger {args.ledger}): {ours:.0f} msg/s")
    print(f"ratio: {ours / echo:.2f}")


if __name__ == "__main__":
    main()
