"""Dashboard benchmark (a script, not a test): each page's time at a county-sized ledger, and the Excel export.

Creates a scratch PostgreSQL database (``bench_web`` by default; never ``test``), fills it with
``tests/benchmarks/ledger.py`` (100,000 reports by default), logs an admin in, then times every page through the
real app (FastAPI's TestClient: routing, SQL and template rendering, no network) and the export of a filtered view
of about 10,000 rows. Prints the best of ``--repeat`` runs per page. Targets: each page ≤ 300 ms, export ≤ 5 s.

    .venv/bin/python tests/benchmarks/bench_web.py \
        [--server postgresql+psycopg://postgres@127.0.0.1:5432] [--db bench_web] [--reports 100000] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import select, text  # noqa: E402

from handlers.context import Core  # noqa: E402
from handlers.profile import load_profile  # noqa: E402
from handlers.texts import Texts  # noqa: E402
from storage import web_sessions  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.models import Report  # noqa: E402
from storage.officials import add_official  # noqa: E402
from tests.benchmarks.ledger import generate  # noqa: E402

PAGE_TARGET = 0.300
EXPORT_TARGET = 5.0
EXPORT_ROWS = 10_000


def create_database(server: str, name: str, keep: bool) -> str:
    """Create (or with ``keep``, reuse) the scratch database; returns its URL."""
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use the database {name!r}: pick a scratch name")
    admin = make_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
            if exists and not keep:
                conn.execute(text(f'DROP DATABASE "{name}"'))
                exists = None
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return f"{server}/{name}"


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    ap.add_argument("--db", default="bench_web")
    ap.add_argument("--reports", type=int, default=100_000)
    ap.add_argument("--now", default="2026-12-01T00:00:00+00:00")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="reuse a filled scratch database")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = ap.parse_args()

    from fastapi.testclient import TestClient
    from openpyxl import load_workbook

    from web.app import create_app

    now = datetime.fromisoformat(args.now).astimezone(UTC)
    url = create_database(args.server, args.db, args.keep)
    engine = make_engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM reports")).scalar() if args.keep else 0
    if not have:
        generate(url, args.reports, now, 1, True, quiet=False)
    sessions = make_session_factory(engine)
    profile = load_profile()
    core = Core(
        sessions=sessions,
        classifier=None,  # type: ignore[arg-type]  # the dashboard never classifies
        texts=Texts.load(),
        profile=profile,
        secret=b"bench",
        tz=ZoneInfo("Asia/Shanghai"),
        clock=lambda: now,
    )
    with sessions.begin() as s:
        add_official(s, "bench", "admin", "基准管理员", "admin", "应急管理站")
        official_id = s.execute(text("SELECT id FROM officials WHERE user_id = 'admin'")).scalar_one()
        sid = web_sessions.create_session(s, official_id, now=now)
        report_id = s.scalar(
            select(Report.id).where(Report.status == "rectifying").order_by(Report.id.desc())
        )
        # The filing day from which on about EXPORT_ROWS reports were filed: the export's date filter.
        since = s.scalar(
            select(Report.created_at)
            .where(Report.anonymous.is_(False))
            .order_by(Report.created_at.desc())
            .offset(EXPORT_ROWS)
            .limit(1)
        )
    client = TestClient(create_app(core, base_url="http://127.0.0.1:8080"))
    client.cookies.set("anquan_session", sid)
    village = profile.villages[0].name
    pages = {
        "总览 /": "/",
        "村级看板 /villages": "/villages",
        "台账 /ledger": "/ledger",
        "台账 筛选+排序": f"/ledger?village={village}&status=open&sort=deadline&dir=asc",
        "台账 逾期": "/ledger?overdue=1",
        "台账 搜索": "/ledger?q=裂缝",
        "台账 第 100 页": "/ledger?page=100",
        "隐患详情": f"/reports/{report_id}",
        "举报": "/tips",
        "日历": "/calendar",
    }
    results: dict[str, Any] = {"reports": args.reports, "pages": {}}
    failed = False
    for name, path in pages.items():
        client.get(path)  # warm the caches once
        seconds, response = best(lambda path=path: client.get(path), args.repeat)
        if response.status_code != 200:
            raise SystemExit(f"{name}: HTTP {response.status_code}")
        ok = seconds <= PAGE_TARGET
        failed |= not ok
        results["pages"][name] = round(seconds * 1000, 1)
        print(f"{name:<20}\t{seconds * 1000:8.1f} ms\t{'ok' if ok else 'SLOW'}")
    day = (since or now).astimezone(core.tz).date().isoformat() if since else now.date().isoformat()
    export_path = f"/ledger/export?from={day}"
    seconds, response = best(lambda: client.get(export_path), max(1, min(args.repeat, 3)))
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    rows = sum(1 for _ in sheet.iter_rows(min_row=3, values_only=True))
    ok = seconds <= EXPORT_TARGET
    failed |= not ok
    results["export"] = {"rows": rows, "seconds": round(seconds, 2)}
    print(f"{'导出 Excel':<20}\t{seconds:8.2f} s \t{rows} rows\t{'ok' if ok else 'SLOW'}")
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    engine.dispose()
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
