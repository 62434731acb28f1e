"""batch tags: labels a batch carries, found by tag through an index

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_tags",
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_batch_tags_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "tag", name=op.f("pk_batch_tags")),
    )
    op.create_index(op.f("ix_batch_tags_tag"), "batch_tags", ["tag"])


def downgrade() -> None:
    op.drop_index(op.f("ix_batch_tags_tag"), table_name="batch_tags")
    op.drop_table("batch_tags")
