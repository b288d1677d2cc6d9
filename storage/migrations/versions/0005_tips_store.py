"""Anonymous reports move to their own tables under random numbers, with times kept to the hour only.

Existing anonymous rows leave ``reports`` (and their events, idempotency links and duplicate links with them);
the numbers of group reports already issued stay as they are.

Revision ID: 0005
Revises: 0004
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIP_COLUMNS = (
    "kind",
    "category",
    "severity",
    "status",
    "text",
    "location",
    "village",
    "confidence",
    "evidence",
    "receipt_hash",
    "deadline",
    "public_note",
    "rectification_note",
    "rectified_by",
    "rectified_at",
    "created_at",
    "updated_at",
)


def upgrade() -> None:
    op.create_table(
        "tips",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=128), nullable=True),
        sa.Column("village", sa.String(length=128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("receipt_hash", sa.String(length=64), nullable=True),
        sa.Column("receipt_voided", sa.Boolean(), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("public_note", sa.Text(), nullable=True),
        sa.Column("rectification_note", sa.Text(), nullable=True),
        sa.Column("rectified_by", sa.String(length=128), nullable=True),
        sa.Column("rectified_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt_hash"),
    )
    op.create_table(
        "tip_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["tip_id"], ["tips.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_tip_events_tip_id"), "tip_events", ["tip_id"], unique=False)
    _move_anonymous_reports()


def _hour(value: object) -> object:
    return value.replace(minute=0, second=0, microsecond=0) if value is not None else None  # type: ignore[attr-defined]


def _move_anonymous_reports() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    reports = sa.Table("reports", meta, autoload_with=conn)
    events = sa.Table("report_events", meta, autoload_with=conn)
    processed = sa.Table("processed_messages", meta, autoload_with=conn)
    reviews = sa.Table("review_items", meta, autoload_with=conn)
    tips = sa.Table("tips", meta, autoload_with=conn)
    tip_events = sa.Table("tip_events", meta, autoload_with=conn)
    rows = conn.execute(sa.select(reports).where(reports.c.anonymous.is_(True))).mappings().all()
    if not rows:
        return
    # Shuffle so that even the insertion order of the new rows says nothing about the old ids.
    rows = sorted(rows, key=lambda _: secrets.randbelow(1 << 30))
    taken: set[int] = set()
    old_ids = []
    for row in rows:
        number = 100_000 + secrets.randbelow(900_000)
        while number in taken:
            number = 100_000 + secrets.randbelow(900_000)
        taken.add(number)
        values = {col: row[col] for col in _TIP_COLUMNS}
        values["created_at"] = _hour(values["created_at"])
        values["updated_at"] = _hour(values["updated_at"])
        conn.execute(tips.insert().values(id=number, receipt_voided=False, **values))
        for ev in conn.execute(sa.select(events).where(events.c.report_id == row["id"])).mappings():
            at = _hour(ev["at"]) if ev["actor"] == "anonymous" else ev["at"]
            conn.execute(
                tip_events.insert().values(
                    id=secrets.token_hex(16),
                    tip_id=number,
                    at=at,
                    actor=ev["actor"],
                    action=ev["action"],
                    from_status=ev["from_status"],
                    to_status=ev["to_status"],
                    note=ev["note"],
                )
            )
        old_ids.append(row["id"])
    conn.execute(events.delete().where(events.c.report_id.in_(old_ids)))
    conn.execute(processed.update().where(processed.c.report_id.in_(old_ids)).values(report_id=None))
    conn.execute(reviews.update().where(reviews.c.report_id.in_(old_ids)).values(report_id=None))
    # Group messages once linked to an anonymous report stand on their own again.
    conn.execute(
        reports.update()
        .where(reports.c.duplicate_of.in_(old_ids))
        .values(duplicate_of=None, status="reported")
    )
    conn.execute(reports.delete().where(reports.c.id.in_(old_ids)))


def downgrade() -> None:
    # Tips are not moved back: that would put them into the group numbering again.
    op.drop_index(op.f("ix_tip_events_tip_id"), table_name="tip_events")
    op.drop_table("tip_events")
    op.drop_table("tips")
