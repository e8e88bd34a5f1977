"""chat session titles as text: an encrypted title is longer than 200 characters

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite does not enforce VARCHAR lengths, and rebuilding the table there (its only way to
    # change a column) would drop chat_sessions, which cascades to every message: leave it.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "chat_sessions",
            "title",
            type_=sa.Text(),
            existing_type=sa.String(length=200),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "chat_sessions",
            "title",
            type_=sa.String(length=200),
            existing_type=sa.Text(),
            existing_nullable=False,
        )
