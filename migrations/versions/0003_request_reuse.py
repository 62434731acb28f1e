"""reusing outputs: jobs.request_sha256 and cached_from, batches.fresh

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fresh", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "cached_from", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_index(batch_op.f("ix_jobs_request_sha256"), ["request_sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_request_sha256"))
        batch_op.drop_column("cached_from")
        batch_op.drop_column("request_sha256")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("fresh")
