"""Indexes for a county-sized ledger: what the reports, digests, reminders, escalation and lists filter on.

By deadline, filing time, rectification time, the sender (the hourly flood limit), the audit trail by time, and
partial indexes over the open hazards only (待核实, 整改中), which stay small however long the ledger grows; /清单
counts and pages from the last one alone. On PostgreSQL the reports table keeps 10 % of each page free, so
listing an overdue hazard updates it in place.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN = "status IN ('reported', 'rectifying')"


def upgrade() -> None:
    op.create_index("ix_reports_deadline", "reports", ["deadline"])
    op.create_index("ix_reports_created_at", "reports", ["created_at"])
    op.create_index("ix_reports_rectified_at", "reports", ["rectified_at"])
    op.create_index("ix_reports_reporter", "reports", ["platform", "reporter_id", "created_at"])
    op.create_index(
        "ix_reports_open_deadline",
        "reports",
        ["deadline"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_reports_open_village",
        "reports",
        ["village", "anonymous", "severity", "id"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index("ix_report_events_at", "report_events", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        # Room on each page for a changed row's new version (listing, notes, rectification), so such updates
        # stay on the page and need no new index entries (HOT updates); applies to pages written from now on.
        op.execute("ALTER TABLE reports SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE reports RESET (fillfactor)")
    op.drop_index("ix_report_events_at", table_name="report_events")
    for name in (
        "ix_reports_open_village",
        "ix_reports_open_deadline",
        "ix_reports_reporter",
        "ix_reports_rectified_at",
        "ix_reports_created_at",
        "ix_reports_deadline",
    ):
        op.drop_index(name, table_name="reports")
