"""executions: the status index holds only unfinished executions

Almost every row is final and never looked up by its status; what is looked up by status is the
few queued or running ones (marked failed at start-up when a dead process left them). A partial
index on those stays tiny, and finished rows, nearly every row written, skip it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    op.drop_index("ix_executions_status", table_name="executions")
    op.create_index(
        "ix_executions_unfinished",
        "executions",
        ["status"],
        sqlite_where=UNFINISHED,
        postgresql_where=UNFINISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_executions_unfinished", table_name="executions")
    op.create_index("ix_executions_status", "executions", ["status"])
