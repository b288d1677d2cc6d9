"""Ledger generator (a script, not a test): a county-sized hazard ledger written straight into a database.

Writes ``--reports`` realistic rows into ``reports`` with their audit trail (``report_events``), plus anonymous
tips (``tips``/``tip_events``) and one group per village, into SQLite or PostgreSQL, bypassing the ORM:
COPY on PostgreSQL, ``executemany`` in batches on SQLite. The schema is brought to the latest migration first.

- villages from ``handlers/data/profile.toml`` (a few reports have none), categories and severities in plausible
  proportions, filing times spread over the three years before ``--now``;
- statuses by age: old hazards mostly rectified or struck off, recent ones mostly still open; some rejected and
  some marked duplicate; deadlines 7 (major) or 30 days after filing, so a share of the open ones are overdue,
  and most of those already listed (挂牌督办) the day after their deadline, as the daily job would have;
- one ``filed`` event per report and one event per later status change, at plausible times;
- about 3 % of the volume as anonymous tips in their own store.

    .venv/bin/python tests/benchmarks/ledger.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        --reports 100000 [--now 2026-12-01T00:00:00+00:00] [--seed 1] [--fresh]

Refuses to write into a ledger that already has reports unless ``--fresh`` is given, which empties the ledger
tables (reports, events, tips, processed messages, review items, outbox, groups) first.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import Engine, text  # noqa: E402

from storage.db import make_engine, upgrade  # noqa: E402

PROFILE = REPO / "handlers" / "data" / "profile.toml"
YEARS = 3
BATCH = 20_000

CATEGORIES = (
    ("building", 22),
    ("fire", 16),
    ("electric", 14),
    ("traffic", 10),
    ("geological", 8),
    ("gas", 7),
    ("construction", 6),
    ("water", 5),
    ("mining", 4),
    ("chemical", 3),
    ("special_equipment", 2),
    ("other", 3),
)
TEXTS = {
    "building": ("老窑洞顶上裂了一道缝，住着两个老人", "危房墙体开裂往外鼓", "村小学围墙歪了"),
    "fire": ("柴草堆在灶房门口", "楼道里堆满了纸箱", "灭火器过期两年了"),
    "electric": ("电线搭在铁丝上晾衣服", "配电箱没门，小孩能摸到", "私拉电线给电动车充电"),
    "traffic": ("村口急弯没有护栏", "三轮车拉人上坡", "路边塌了一块没有警示"),
    "geological": ("后山下雨后往下掉石头", "沟边土坡有裂缝", "窑背上渗水"),
    "gas": ("液化气罐放在卧室里", "闻到煤气味", "燃气管道被压扁了"),
    "construction": ("工地脚手架没有防护网", "挖沟没有围挡", "塔吊晚上还在干"),
    "water": ("河边没有警示牌，孩子去游泳", "水库边护栏坏了", "淤地坝渗水"),
    "mining": ("废弃煤窑口没封", "有人偷采煤", "矿上通风机停了"),
    "chemical": ("农药和粮食放在一起", "加油站旁边有人抽烟", "化肥仓库漏雨"),
    "special_equipment": ("锅炉没年检", "电梯困人", "压力罐生锈"),
    "other": ("村里狗咬人", "井盖丢了", "广场灯杆歪了"),
}
PLACES = ("东头", "西头", "后沟", "前坡", "学校旁", "村委会门口", "河滩", "老戏台")


def villages() -> list[str]:
    """The villages of the bundled town profile."""
    with PROFILE.open("rb") as f:
        return [v["name"] for v in tomllib.load(f)["villages"]]


def naive(at: datetime) -> datetime:
    """An aware time as the naive UTC the ledger stores."""
    return at.astimezone(UTC).replace(tzinfo=None)


class Ledger:
    """Rows of a generated ledger, built lazily in id order."""

    def __init__(self, reports: int, now: datetime, seed: int) -> None:
        self.n = reports
        self.now = now
        self.rng = random.Random(seed)
        self.villages = villages()
        self.categories = [c for c, _ in CATEGORIES]
        self.weights = [w for _, w in CATEGORIES]
        self.reporters = max(50, reports // 15)
        self.event_id = 0
        self.events: list[tuple[Any, ...]] = []

    def _status(self, age_days: float, major: bool) -> str:
        """A final status for a report filed ``age_days`` ago."""
        r = self.rng.random()
        if r < 0.05:
            return "rejected"
        if r < 0.09:
            return "duplicate"
        # Share still open: most of the last month, a tail of older ones nobody closed.
        open_share = 0.8 if age_days < 30 else 0.35 if age_days < 90 else 0.06
        if major:
            open_share *= 0.7
        r = self.rng.random()
        if r < open_share:
            return "reported" if self.rng.random() < 0.4 else "rectifying"
        return "closed" if self.rng.random() < 0.25 else "rectified"

    def _event(
        self, report_id: int, at: datetime, actor: str, action: str, frm: str | None, to: str | None
    ) -> None:
        self.event_id += 1
        self.events.append((self.event_id, report_id, naive(at), actor, action, frm, to, None))

    def reports(self, groups: dict[str, int]) -> Iterator[tuple[Any, ...]]:
        """The report rows, in id (and filing) order; their events pile up in ``self.events``."""
        rng = self.rng
        span = YEARS * 365 * 86400
        start = self.now - timedelta(seconds=span)
        offsets = sorted(rng.random() * span for _ in range(self.n))
        official = "张站长(telegram:9001)"
        for i, offset in enumerate(offsets, 1):
            created = start + timedelta(seconds=offset)
            age = (self.now - created).total_seconds() / 86400
            category = rng.choices(self.categories, self.weights)[0]
            major = rng.random() < 0.1
            village = rng.choice(self.villages) if rng.random() > 0.04 else None
            anonymous = rng.random() < 0.02
            kind = "tip" if anonymous and rng.random() < 0.5 else "hazard"
            status = self._status(age, major)
            deadline = None if status == "duplicate" else created + timedelta(days=7 if major else 30)
            self._event(
                i, created, "villager", "filed", None, "duplicate" if status == "duplicate" else "reported"
            )
            updated = created
            rectified_at = rectified_by = note = listed_at = None
            elapsed = min(age, rng.uniform(0.5, 45.0))
            if status in ("rectifying", "rectified", "closed", "rejected"):
                step = created + timedelta(days=min(elapsed * 0.2, rng.uniform(0.1, 5.0)))
                to = "rejected" if status == "rejected" else "rectifying"
                self._event(
                    i,
                    step,
                    official,
                    "status",
                    "reported",
                    to,
                )
                updated = step
                if status in ("rectified", "closed"):
                    fix = created + timedelta(days=elapsed)
                    if status == "rectified" or rng.random() < 0.8:
                        self._event(i, fix, official, "status", "rectifying", "rectified")
                        rectified_at, rectified_by, note = fix, official, "已整改，复查合格"
                        frm = "rectified"
                    else:
                        frm = "rectifying"
                    updated = fix
                    if status == "closed":
                        closed = min(
                            fix + timedelta(days=rng.uniform(0.5, 10)), self.now - timedelta(seconds=1)
                        )
                        closed = max(closed, fix)
                        self._event(i, closed, official, "status", frm, "closed")
                        updated = closed
            # The daily job lists overdue hazards the day after their deadline; a few slipped through.
            if (
                status in ("reported", "rectifying")
                and deadline is not None
                and deadline + timedelta(days=1) < self.now
                and rng.random() < 0.85
            ):
                listed_at = deadline + timedelta(days=1)
                self._event(i, listed_at, "scheduler", "listed", None, None)
            reporter = None if anonymous else str(rng.randrange(self.reporters))
            yield (
                i,
                kind,
                category,
                "major" if major else "general",
                status,
                rng.choice(TEXTS[category]),
                f"{village}{rng.choice(PLACES)}" if village and rng.random() < 0.5 else None,
                village,
                round(rng.uniform(0.55, 0.98), 3),
                "",
                None if anonymous or village is None else groups[village],
                None if anonymous else "telegram",
                reporter,
                None if anonymous else f"村民{reporter}",
                anonymous,
                None,
                max(1, i - rng.randrange(1, 50)) if status == "duplicate" and i > 1 else None,
                naive(deadline) if deadline else None,
                naive(listed_at) if listed_at else None,
                None,
                note,
                rectified_by,
                naive(rectified_at) if rectified_at else None,
                naive(created),
                naive(updated),
            )

    def tips(self, count: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """``count`` anonymous tips (random T numbers, hour-only times) and their events."""
        rng = self.rng
        numbers = rng.sample(range(100_000, 1_000_000), count)
        span = YEARS * 365 * 86400
        rows, events = [], []
        for number in numbers:
            created = (self.now - timedelta(seconds=rng.random() * span)).replace(
                minute=0, second=0, microsecond=0
            )
            age = (self.now - created).total_seconds() / 86400
            category = rng.choices(self.categories, self.weights)[0]
            status = self._status(age, False)
            if status == "duplicate":
                status = "rejected"
            village = rng.choice(self.villages) if rng.random() > 0.2 else None
            events.append(
                (
                    f"{rng.getrandbits(128):032x}",
                    number,
                    naive(created),
                    "anonymous",
                    "filed",
                    None,
                    "reported",
                    None,
                )
            )
            updated = created
            rectified_at = None
            if status != "reported":
                at = created + timedelta(hours=rng.randrange(2, 24 * 10))
                at = min(at, self.now.replace(minute=0, second=0, microsecond=0))
                to = "rejected" if status == "rejected" else "rectifying"
                events.append(
                    (
                        f"{rng.getrandbits(128):032x}",
                        number,
                        naive(at),
                        "admin",
                        "status",
                        "reported",
                        to,
                        None,
                    )
                )
                updated = at
                if status in ("rectified", "closed"):
                    rectified_at = min(at + timedelta(days=rng.randrange(1, 30)), self.now)
                    events.append(
                        (
                            f"{rng.getrandbits(128):032x}",
                            number,
                            naive(rectified_at),
                            "admin",
                            "status",
                            to,
                            "rectified",
                            None,
                        )
                    )
                    updated = rectified_at
            kind = "tip" if rng.random() < 0.7 else "hazard"
            rows.append(
                (
                    number,
                    kind,
                    category,
                    "general",
                    status,
                    rng.choice(TEXTS[category]),
                    None,
                    village,
                    0.7,
                    "",
                    None,
                    False,
                    naive(created + timedelta(days=30)),
                    None,
                    None,
                    None,
                    naive(rectified_at) if rectified_at else None,
                    naive(created),
                    naive(updated.replace(minute=0, second=0, microsecond=0)),
                )
            )
        return rows, events


REPORT_COLUMNS = (
    "id, kind, category, severity, status, text, location, village, confidence, evidence, group_id, platform, "
    "reporter_id, reporter_name, anonymous, receipt_hash, duplicate_of, deadline, listed_at, public_note, "
    "rectification_note, rectified_by, rectified_at, created_at, updated_at"
)
EVENT_COLUMNS = "id, report_id, at, actor, action, from_status, to_status, note"
TIP_COLUMNS = (
    "id, kind, category, severity, status, text, location, village, confidence, evidence, receipt_hash, "
    "receipt_voided, deadline, public_note, rectification_note, rectified_by, rectified_at, created_at, updated_at"
)
TIP_EVENT_COLUMNS = "id, tip_id, at, actor, action, from_status, to_status, note"
WIPE = (
    "processed_messages",
    "review_items",
    "report_events",
    "reports",
    "tip_events",
    "tips",
    "outbox",
    "groups",
)


class Writer:
    """Bulk inserts through the DB-API connection: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.raw = engine.raw_connection()

    def write(self, table: str, columns: str, rows: Iterable[Sequence[Any]]) -> int:
        """Insert ``rows`` (tuples in ``columns`` order); returns how many."""
        cur = self.raw.cursor()
        count = 0
        if self.postgres:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            marks = ", ".join("?" for _ in columns.split(","))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            batch: list[Sequence[Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    cur.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            if batch:
                cur.executemany(sql, batch)
                count += len(batch)
        cur.close()
        return count

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement, returning its rows (if any)."""
        cur = self.raw.cursor()
        cur.execute(sql)
        rows = list(cur.fetchall()) if cur.description else []
        cur.close()
        return rows

    def commit(self) -> None:
        """Commit everything written."""
        self.raw.commit()

    def close(self) -> None:
        """Give the connection back."""
        self.raw.close()


def generate(
    url: str, reports: int, now: datetime, seed: int, fresh: bool, quiet: bool = False
) -> dict[str, int]:
    """Fill the database at ``url`` with a generated ledger; returns the row counts written."""
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        existing = conn.execute(text("SELECT count(*) FROM reports")).scalar_one()
    writer = Writer(engine)
    started = time.perf_counter()

    def say(msg: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    try:
        if existing and not fresh:
            raise SystemExit(
                f"the database already holds {existing} reports; pass --fresh to empty the ledger first"
            )
        if writer.postgres:
            writer.execute(f"TRUNCATE {', '.join(WIPE)} CASCADE")
        else:
            for table in WIPE:
                writer.execute(f"DELETE FROM {table}")
        ledger = Ledger(reports, now, seed)
        group_rows = [
            (
                i,
                "telegram",
                f"-100{i}",
                f"{v}安全群",
                "village",
                v,
                True,
                naive(now - timedelta(days=YEARS * 365)),
            )
            for i, v in enumerate(ledger.villages, 1)
        ]
        base = len(group_rows)
        group_rows += [
            (base + 1, "telegram", "-2001", "应急管理站", "station", "应急管理站", True, naive(now)),
            (base + 2, "telegram", "-3001", "镇领导群", "leadership", None, True, naive(now)),
        ]
        writer.write("groups", "id, platform, chat_id, title, kind, unit, active, created_at", group_rows)
        groups = {row[5]: row[0] for row in group_rows if row[4] == "village"}
        counts = {"groups": len(group_rows)}
        counts["reports"] = writer.write("reports", REPORT_COLUMNS, ledger.reports(groups))
        say(f"reports: {counts['reports']}")
        counts["report_events"] = writer.write("report_events", EVENT_COLUMNS, ledger.events)
        say(f"report_events: {counts['report_events']}")
        ledger.events = []
        tip_rows, tip_events = ledger.tips(min(max(10, reports * 3 // 100), 800_000))
        counts["tips"] = writer.write("tips", TIP_COLUMNS, tip_rows)
        counts["tip_events"] = writer.write("tip_events", TIP_EVENT_COLUMNS, tip_events)
        say(f"tips: {counts['tips']}, tip_events: {counts['tip_events']}")
        if writer.postgres:
            for table in ("groups", "reports", "report_events"):
                writer.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        writer.commit()
        if writer.postgres:
            writer.raw.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            writer.execute("VACUUM ANALYZE")
        else:
            writer.execute("ANALYZE")
            writer.commit()
        say("done (analyzed)")
    finally:
        writer.close()
        engine.dispose()
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--url", required=True, help="SQLAlchemy database URL (sqlite:///... or postgresql+psycopg://...)"
    )
    ap.add_argument("--reports", type=int, required=True, help="how many reports to write")
    ap.add_argument("--now", default=None, help="the ledger's present, ISO 8601 with offset (default: now)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fresh", action="store_true", help="empty the ledger tables first")
    args = ap.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    if now.tzinfo is None:
        raise SystemExit("--now needs an offset, e.g. 2026-12-01T00:00:00+00:00")
    counts = generate(args.url, args.reports, now, args.seed, args.fresh)
    out = io.StringIO()
    for name, value in counts.items():
        out.write(f"{name}\t{value}\n")
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
