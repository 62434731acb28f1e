"""submission keys: the Idempotency-Key of an HTTP submission and the batch it made

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission_keys",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_submission_keys_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_submission_keys")),
    )
    op.create_index(op.f("ix_submission_keys_batch_id"), "submission_keys", ["batch_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_submission_keys_batch_id"), table_name="submission_keys")
    op.drop_table("submission_keys")
