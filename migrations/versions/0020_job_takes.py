"""job takes: a retake renders a job again under a new take, kept apart from the one before

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


# plain ALTER TABLE on both dialects (SQLite adds and drops a column in place since 3.35): a
# batch_alter_table would rebuild ``jobs`` on SQLite and lose the kept counts' triggers (0019)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("take", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    op.drop_column("jobs", "take")
