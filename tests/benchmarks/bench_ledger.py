"""Ledger benchmark (a script, not a test): every ledger query the bot runs, timed on a generated ledger.

Run ``tests/benchmarks/ledger.py`` first to fill a scratch database, then:

    .venv/bin/python tests/benchmarks/bench_ledger.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        [--now 2026-12-01T00:00:00+00:00] [--repeat 3] [--explain] [--json]

``--now`` must be the ``--now`` the ledger was generated with. For each operation it prints the best of
``--repeat`` wall times, the number of statements sent (counted with a ``before_cursor_execute`` listener) and
the target at 1M reports. Writes (escalation, reminders, filing) run in a transaction that is rolled back, so
runs repeat on the same ledger. The monthly report also runs as ``anquan report monthly --json`` in a child
process, whose peak RSS is printed. ``--explain`` prints PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of the key
statements (the monthly report's, escalation's in both cases, the digest's, /清单's and the hourly limit's).

Escalation is timed differently: each run starts from a vacuumed table (a rolled-back run leaves 66k dead row
versions behind it that the next one would have to step over), and the median of the runs is reported, with every
run's time. ``--only escalation`` times escalation alone (both cases), for trying changes to it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import Engine, event, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from storage.db import make_engine, make_session_factory  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
TARGETS = {
    "monthly report": "≤ 2 s, ≤ 300 MB",
    "monthly report, a month 18 months back": "—",
    "escalation (as generated)": "≤ 1 s",
    "escalation (every overdue hazard unlisted)": "≤ 1 s",
    "deadline reminders": "≤ 1 s",
    "weekly digest": "≤ 1 s",
    "/清单 in a village group": "≤ 200 ms",
    "/清单 for an admin, private (all, tips too)": "≤ 200 ms",
    "/查询 <id>": "≤ 200 ms",
    "filing one hazard (group message)": "≤ 200 ms",
    "hourly limit count (one sender)": "—",
}


class Counter:
    """Counts statements, and keeps them (with parameters) for EXPLAIN."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.statements: list[tuple[str, Any]] = []
        self.keep = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        self.count += 1
        if self.keep:
            self.statements.append((statement, params))


@contextmanager
def counted(counter: Counter, keep: bool = False) -> Iterator[Counter]:
    """Count (and optionally keep) the statements sent inside the block."""
    counter.count, counter.statements, counter.keep = 0, [], keep
    try:
        yield counter
    finally:
        counter.keep = False


def best(fn: Callable[[], Any], repeat: int, counter: Counter) -> tuple[float, int, Any]:
    """Best wall time of ``repeat`` runs, the statements of the last run, and its result."""
    times, result, queries = [], None, 0
    for _ in range(repeat):
        with counted(counter) as c:
            started = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - started)
            queries = c.count
    return min(times), queries, result


def monthly_rss(url: str, month: str) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of ``anquan report monthly --month M --json`` in a child process."""
    env = dict(os.environ, ANQUAN_DATABASE_URL=url)
    anquan = Path(sys.executable).with_name("anquan")
    cmd = [str(anquan), "report", "monthly", "--month", month, "--json"]
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    wall = time.perf_counter() - started
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def explain(session: Session, statements: list[tuple[str, Any]], title: str) -> None:
    """Print PostgreSQL's plan (ANALYZE, BUFFERS) of each SELECT/UPDATE/INSERT kept, in one rolled-back savepoint.

    The statements run in order, each seeing what the ones before it wrote (escalation's INSERT reads the rows
    its UPDATE marked), and all are rolled back at the end.
    """
    print(f"\n=== EXPLAIN: {title}")
    conn = session.connection().connection.dbapi_connection
    assert conn is not None
    cur = conn.cursor()
    cur.execute("SAVEPOINT bench_explain")
    for statement, params in statements:
        if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT", "WITH")):
            continue
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        print("--- " + " ".join(statement.split())[:160] + " …")
        for (line,) in cur.fetchall():
            print("    " + line)
    cur.execute("ROLLBACK TO SAVEPOINT bench_explain")
    cur.close()


def cleanup(sessions: Any, last_id: int) -> None:
    """Remove what the benchmark filed (reports after ``last_id``, their events and message keys), its official."""
    with sessions.begin() as s:
        for table in ("processed_messages", "review_items", "report_events"):
            s.execute(text(f"DELETE FROM {table} WHERE report_id > :last"), {"last": last_id})
        s.execute(text("DELETE FROM reports WHERE id > :last"), {"last": last_id})
        s.execute(text("DELETE FROM officials WHERE user_id = 'bench-admin'"))


def vacuum(engine: Engine, *tables: str) -> None:
    """VACUUM ANALYZE the reports table and ``tables`` (as autovacuum would have), outside any transaction."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name != "postgresql":
            conn.execute(text("ANALYZE"))
            return
        for table in ("reports", *tables):
            conn.execute(text(f"VACUUM ANALYZE {table}"))


def median(values: list[float]) -> float:
    """The median of ``values`` (the mean of the middle two for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--now", default="2026-12-01T00:00:00+00:00")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    ap.add_argument("--only", choices=("escalation",), help="time only this operation")
    args = ap.parse_args()
    now = datetime.fromisoformat(args.now)

    from handlers.classifier import Classifier
    from handlers.context import Core
    from handlers.messages import IncomingMessage
    from handlers.profile import load_profile
    from handlers.router import Router
    from handlers.texts import Texts
    from scheduler import deadlines
    from scheduler.calendar import load_calendar
    from scheduler.monthly_report import build_monthly_report, previous_month
    from storage.models import Report
    from storage.officials import add_official
    from storage.reports import count_recent_by_reporter

    engine = make_engine(args.url)
    sessions = make_session_factory(engine)
    counter = Counter(engine)
    postgres = engine.dialect.name == "postgresql"
    calendar = load_calendar()
    with sessions() as s:
        total = s.scalar(text("SELECT count(*) FROM reports"))
    print(f"# {engine.dialect.name}, {total:,} reports, ledger time {now.isoformat()}", flush=True)
    results: dict[str, dict[str, Any]] = {}

    def record(name: str, seconds: float, queries: int, extra: str = "") -> None:
        results[name] = {"seconds": round(seconds, 4), "queries": queries, "extra": extra}
        print(f"{name:48s} {seconds * 1000:9.1f} ms  {queries:4d} statements  {extra}", flush=True)

    month = previous_month(now.astimezone(TZ).date())
    old_month = previous_month((now - timedelta(days=18 * 30)).astimezone(TZ).date())
    explains: list[tuple[str, list[tuple[str, Any]]]] = []

    if args.only is None:
        # The monthly report: in process (time, statements), then the CLI in a child process (peak RSS).
        for name, m in (("monthly report", month), ("monthly report, a month 18 months back", old_month)):
            with sessions() as s:
                seconds, queries, report = best(
                    lambda m=m: build_monthly_report(s, m, TZ, now=now), args.repeat, counter
                )
                record(name, seconds, queries, f"{m}: new {report.totals.new}, open {report.totals.open}")
                if name == "monthly report":
                    with counted(counter, keep=True) as c:
                        build_monthly_report(s, m, TZ, now=now)
                    explains.append(("monthly report", c.statements))
        wall, rss = monthly_rss(args.url, month)
        results["monthly report"]["cli_seconds"] = round(wall, 3)
        results["monthly report"]["cli_rss_mb"] = round(rss, 1)
        print(
            f"{'  anquan report monthly --json (child process)':48s} {wall * 1000:9.1f} ms  peak RSS {rss:.0f} MB"
        )

    # Escalation and reminders: inside a transaction that is rolled back.
    def escalate(title: str) -> tuple[float, int, int]:
        vacuum(engine, "report_events")  # each run starts without the dead rows of the last one
        with sessions() as s:
            with counted(counter, keep=True) as c:
                started = time.perf_counter()
                listed = deadlines.escalate_overdue(s, calendar, now, TZ)
                seconds = time.perf_counter() - started
            if not any(t == title for t, _ in explains):
                explains.append((title, c.statements))
            s.rollback()
        return seconds, c.count, len(listed)

    def record_runs(name: str, title: str) -> None:
        runs = [escalate(title) for _ in range(args.repeat)]
        times = [r[0] for r in runs]
        record(
            name,
            median(times),
            runs[-1][1],
            f"{runs[-1][2]} listed; median of {len(runs)}: "
            + ", ".join(f"{t * 1000:.0f}" for t in times)
            + " ms",
        )

    record_runs("escalation (as generated)", "escalation")
    # Worst case: no overdue hazard listed yet. Unlisted (committed, then vacuumed), measured, then restored.
    open_overdue = "status IN ('reported', 'rectifying') AND deadline < :now AND listed_at IS NOT NULL"
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    with sessions.begin() as s:
        s.execute(
            text("CREATE TABLE bench_listed AS SELECT id, listed_at FROM reports WHERE " + open_overdue),
            {"now": naive_now},
        )
        s.execute(text("UPDATE reports SET listed_at = NULL WHERE " + open_overdue), {"now": naive_now})
    try:
        record_runs("escalation (every overdue hazard unlisted)", "escalation, every overdue hazard unlisted")
        if args.explain and postgres:  # explained while the ledger is still unlisted
            with sessions() as s:
                explain(
                    s, dict(explains)["escalation, every overdue hazard unlisted"], "escalation, worst case"
                )
                s.rollback()
    finally:
        with sessions.begin() as s:
            s.execute(
                text(
                    "UPDATE reports SET listed_at = (SELECT b.listed_at FROM bench_listed b WHERE b.id = reports.id) "
                    "WHERE id IN (SELECT id FROM bench_listed)"
                )
            )
            s.execute(text("DROP TABLE bench_listed"))
        vacuum(engine, "report_events")
    explains = [(t, st) for t, st in explains if t != "escalation, every overdue hazard unlisted"]
    if args.only == "escalation":
        if args.explain and postgres:
            with sessions() as s:
                explain(s, dict(explains)["escalation"], "escalation")
                s.rollback()
        _finish(args, engine, total, results)
        return

    def remind() -> int:
        with sessions() as s:
            out = deadlines.remind_deadlines(s, calendar, now, TZ)
            s.rollback()
        return sum(len(v) for v in out.values())

    seconds, queries, reminded = best(remind, args.repeat, counter)
    record("deadline reminders", seconds, queries, f"{reminded} hazards reminded")

    def digest() -> Any:
        with sessions() as s:
            d = deadlines.weekly_digest(s, calendar, now)
            for kind in ("station", "leadership", "village"):
                deadlines.render_digest(d, calendar, TZ, kind)
        return d

    seconds, queries, d = best(digest, args.repeat, counter)
    record(
        "weekly digest",
        seconds,
        queries,
        f"open {d.open}, overdue {d.overdue_count}, due soon {d.due_soon_count}",
    )
    with sessions() as s, counted(counter, keep=True) as c:
        deadlines.weekly_digest(s, calendar, now)
    explains.append(("weekly digest", c.statements))

    # Chat commands through the router: a core on this database, the real classifier, the ledger's clock.
    profile = load_profile()
    core = Core(
        sessions=sessions,
        classifier=Classifier.load(places=profile.place_names()),
        texts=Texts.load(),
        profile=profile,
        secret=b"bench-secret",
        clock=lambda: now,
    )
    router = Router(core)
    with sessions.begin() as s:
        add_official(s, "telegram", "bench-admin", "试测管理员", "admin", None, tips=True)

    def message(text_: str, *, private: bool = False, sender: str = "bench-villager") -> IncomingMessage:
        msg_id = f"bench-{time.perf_counter_ns()}"
        if private:
            return IncomingMessage("telegram", sender, "private", msg_id, sender, text_, sender_name="管理员")
        return IncomingMessage(
            "telegram", "-1001", "group", msg_id, sender, text_, sender_name="老王", chat_title="克虎村安全群"
        )

    router.dispatch(message("收到"))  # the group is registered on its first message
    with sessions() as s:
        some_id = s.scalar(
            select(Report.id).where(Report.anonymous.is_(False)).order_by(Report.id.desc()).limit(1)
        )
    cases = (
        ("/清单 in a village group", lambda: message("/清单")),
        (
            "/清单 for an admin, private (all, tips too)",
            lambda: message("/清单", private=True, sender="bench-admin"),
        ),
        ("/查询 <id>", lambda: message(f"/查询 {some_id}")),
    )
    for name, make in cases:
        seconds, queries, result = best(lambda make=make: router.dispatch(make()), args.repeat, counter)
        record(
            name,
            seconds,
            queries,
            (result.replies[0].text.splitlines() or [""])[0][:40] if result.replies else "",
        )
    with counted(counter, keep=True) as c:
        router.dispatch(message("/清单"))
    explains.append(("/清单", c.statements))

    hazards = iter(
        [
            "克虎村东头老窑洞顶上裂了一道大缝，住着两个老人",
            "克虎村学校旁配电箱门掉了，电线露在外面",
            "克虎村河滩边护栏坏了，孩子天天在那玩水",
            "克虎村前坡土坡有裂缝，下雨往下掉石头",
            "克虎村村委会门口液化气罐漏气，闻到煤气味",
            "克虎村后沟废弃煤窑口没封，有人往里钻",
        ]
        * (args.repeat + 1)
    )
    with sessions() as s:
        last_id = int(s.scalar(select(func.max(Report.id))) or 0)
    senders = iter(range(1_000_000))

    def file_one() -> Any:
        return router.dispatch(message(next(hazards), sender=f"bench-{next(senders)}"))

    seconds, queries, result = best(file_one, args.repeat, counter)
    record("filing one hazard (group message)", seconds, queries, result.outcome)

    with sessions() as s:
        sender = s.scalar(
            select(Report.reporter_id)
            .where(Report.reporter_id.is_not(None))
            .order_by(Report.id.desc())
            .limit(1)
        )
        since = now - timedelta(hours=1)
        seconds, queries, _ = best(
            lambda: count_recent_by_reporter(s, "telegram", sender or "0", since), args.repeat, counter
        )
        record("hourly limit count (one sender)", seconds, queries)
        with counted(counter, keep=True) as c:
            count_recent_by_reporter(s, "telegram", sender or "0", since)
        explains.append(("hourly limit", c.statements))
    # Leave the ledger as it was: the filed reports, their events and keys, the official.
    try:
        cleanup(sessions, last_id)
    except Exception as exc:  # a scratch ledger: say so and go on
        print(f"# could not remove the benchmark's own reports: {exc}", file=sys.stderr)

    if args.explain and postgres:
        with sessions() as s:
            for title, statements in explains:
                explain(s, statements, title)
            s.rollback()
    _finish(args, engine, total, results)


def _finish(args: argparse.Namespace, engine: Engine, total: int, results: Any) -> None:
    """Print the JSON summary when asked, and close the engine."""
    if args.json:
        print(
            json.dumps(
                {"dialect": engine.dialect.name, "reports": total, "results": results}, ensure_ascii=False
            )
        )
    engine.dispose()


if __name__ == "__main__":
    main()
