"""Drop APScheduler's old job table: jobs live in memory now, and no pickle is ever read from the database.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JOBS_TABLE = "apscheduler_jobs"


def upgrade() -> None:
    """Drop the table if it exists (APScheduler created it on first start; a fresh database never had it)."""
    if JOBS_TABLE in sa.inspect(op.get_bind()).get_table_names():
        op.drop_table(JOBS_TABLE)


def downgrade() -> None:
    """Nothing to restore: the table was never part of the schema, and its pickled rows must not come back."""
