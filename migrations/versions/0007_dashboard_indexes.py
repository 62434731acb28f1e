"""dashboard indexes: a batch's finished jobs and error classes, jobs and attempts over time

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_batch_id_finished_at", "jobs", ["batch_id", "finished_at"])
    op.create_index("ix_jobs_batch_id_error_code", "jobs", ["batch_id", "error_code"])
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])
    op.create_index("ix_attempts_finished_at", "attempts", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_attempts_finished_at", table_name="attempts")
    op.drop_index("ix_jobs_finished_at", table_name="jobs")
    op.drop_index("ix_jobs_batch_id_error_code", table_name="jobs")
    op.drop_index("ix_jobs_batch_id_finished_at", table_name="jobs")
