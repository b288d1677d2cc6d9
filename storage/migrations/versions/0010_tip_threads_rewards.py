"""Tips that lead somewhere: the follow-up thread (questions and supplements), the reward ledger, and the mark of
a retention purge.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tips") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(), nullable=True))
    op.create_table(
        "tip_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=160), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tip_id"], ["tips.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tip_id", "seq", name="uq_tip_messages_tip_seq"),
    )
    op.create_index("ix_tip_messages_tip_id", "tip_messages", ["tip_id"])
    op.create_table(
        "tip_rewards",
        sa.Column("tip_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("fine_fen", sa.BigInteger(), nullable=True),
        sa.Column("computed_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("first_accepted_at", sa.DateTime(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.Column("verified_by", sa.String(length=160), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("claim_deadline", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("matter_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["tip_id"], ["tips.id"]),
        sa.ForeignKeyConstraint(["matter_of"], ["tips.id"]),
        sa.PrimaryKeyConstraint("tip_id"),
    )


def downgrade() -> None:
    op.drop_table("tip_rewards")
    op.drop_index("ix_tip_messages_tip_id", table_name="tip_messages")
    op.drop_table("tip_messages")
    with op.batch_alter_table("tips") as batch:
        batch.drop_column("purged_at")
