"""Officials get scoped roles, a tips permission and an active flag; binding codes can be voided; an audit table.

The old catch-all role ``official`` becomes ``station`` (town-wide hazards, no tips). Binding codes still unused
were stored with an unkeyed hash; they are voided, and the admin issues new ones.

Revision ID: 0007
Revises: 0006
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("officials") as batch:
        batch.add_column(sa.Column("tips", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("binding_codes") as batch:
        batch.add_column(sa.Column("tips", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("voided_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE officials SET role = 'station' WHERE role = 'official'")
    op.execute("UPDATE binding_codes SET role = 'station' WHERE role = 'official'")
    now = datetime.now(UTC).replace(tzinfo=None)
    op.get_bind().execute(
        sa.text("UPDATE binding_codes SET voided_at = :now WHERE used_at IS NULL AND voided_at IS NULL"),
        {"now": now},
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=160), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_table("audit_events")
    with op.batch_alter_table("binding_codes") as batch:
        batch.drop_column("voided_at")
        batch.drop_column("tips")
    with op.batch_alter_table("officials") as batch:
        batch.drop_column("active")
        batch.drop_column("tips")
    op.execute("UPDATE officials SET role = 'official' WHERE role IN ('station', 'village')")
