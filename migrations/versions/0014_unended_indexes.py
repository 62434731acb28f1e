"""unended indexes: the reconciler's queries read indexes over unended jobs and batches only

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UNENDED_JOBS = sa.text("status IN ('paused', 'pending', 'queued', 'retrying', 'running')")
UNENDED_BATCHES = sa.text("status IN ('paused', 'queued', 'running')")
RESULTS_DUE = sa.text("results_at IS NULL")


def _where(predicate: sa.TextClause) -> dict[str, sa.TextClause]:
    return {"postgresql_where": predicate, "sqlite_where": predicate}


def upgrade() -> None:
    op.drop_index("ix_jobs_status_next_attempt_at", table_name="jobs")
    op.drop_index("ix_jobs_status_lease_expires_at", table_name="jobs")
    op.create_index(
        "ix_jobs_unended_next_attempt_at",
        "jobs",
        ["status", "next_attempt_at"],
        **_where(UNENDED_JOBS),
    )
    op.create_index(
        "ix_jobs_unended_lease_expires_at",
        "jobs",
        ["status", "lease_expires_at"],
        **_where(UNENDED_JOBS),
    )
    op.create_index(
        "ix_jobs_unended_queue_published_at",
        "jobs",
        ["status", "queue", "published_at", "id"],
        **_where(UNENDED_JOBS),
    )
    op.create_index("ix_batches_unended_status", "batches", ["status"], **_where(UNENDED_BATCHES))
    op.create_index("ix_batches_results_due", "batches", ["status"], **_where(RESULTS_DUE))


def downgrade() -> None:
    op.drop_index("ix_batches_results_due", table_name="batches")
    op.drop_index("ix_batches_unended_status", table_name="batches")
    op.drop_index("ix_jobs_unended_queue_published_at", table_name="jobs")
    op.drop_index("ix_jobs_unended_lease_expires_at", table_name="jobs")
    op.drop_index("ix_jobs_unended_next_attempt_at", table_name="jobs")
    op.create_index("ix_jobs_status_lease_expires_at", "jobs", ["status", "lease_expires_at"])
    op.create_index("ix_jobs_status_next_attempt_at", "jobs", ["status", "next_attempt_at"])
