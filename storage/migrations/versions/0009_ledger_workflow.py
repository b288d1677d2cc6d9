"""The ledger's workflow: assignment, measures, funds, supervision, acceptance and closing on each report; the
五落实 items of major hazards; photo attachments (before/after) of reports and tips.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_REPORT_COLUMNS = (
    ("responsible_unit", sa.String(length=128)),
    ("responsible_person", sa.String(length=64)),
    ("measures", sa.Text()),
    ("funds_fen", sa.BigInteger()),
    ("supervising_unit", sa.String(length=128)),
    ("accepted_by", sa.String(length=160)),
    ("accepted_at", sa.DateTime()),
    ("acceptance_verdict", sa.String(length=16)),
    ("acceptance_note", sa.Text()),
    ("closed_at", sa.DateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        for name, type_ in _REPORT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.add_column(sa.Column("failed_acceptances", sa.Integer(), nullable=False, server_default="0"))
    # Reports closed before acceptance existed keep their closing time from the audit trail.
    op.execute(
        "UPDATE reports SET closed_at = (SELECT MAX(e.at) FROM report_events e WHERE e.report_id = reports.id "
        "AND e.to_status = 'closed') WHERE status = 'closed'"
    )
    op.create_table(
        "five_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "item", name="uq_five_items_report_item"),
    )
    op.create_index("ix_five_items_report_id", "five_items", ["report_id"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("tip_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(length=32), nullable=False),
        sa.Column("added_by", sa.String(length=160), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.ForeignKeyConstraint(["tip_id"], ["tips.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attachments_report_id", "attachments", ["report_id"])
    op.create_index("ix_attachments_tip_id", "attachments", ["tip_id"])


def downgrade() -> None:
    op.drop_index("ix_attachments_tip_id", table_name="attachments")
    op.drop_index("ix_attachments_report_id", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index("ix_five_items_report_id", table_name="five_items")
    op.drop_table("five_items")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("failed_acceptances")
        for name, _ in reversed(_REPORT_COLUMNS):
            batch.drop_column(name)
