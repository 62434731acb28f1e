"""batch priority: the order workers take queued jobs in, and an index to find a batch's next

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UNENDED_JOBS = "status IN ('paused', 'pending', 'queued', 'retrying', 'running')"


def upgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), server_default="50", nullable=False))
    op.create_index(
        "ix_jobs_unended_batch_id_queue",
        "jobs",
        ["batch_id", "queue", "status", "id"],
        postgresql_where=sa.text(UNENDED_JOBS),
        sqlite_where=sa.text(UNENDED_JOBS),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_unended_batch_id_queue", table_name="jobs")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("priority")
