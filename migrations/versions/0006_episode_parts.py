"""episode parts: jobs.part_of names the episode job a part belongs to

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # SQLite rebuilds the table for the foreign key (env.py keeps the rows referring to it)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "part_of",
                BIG_ID,
                sa.ForeignKey("jobs.id", name=op.f("fk_jobs_part_of_jobs"), ondelete="CASCADE"),
                nullable=True,
            )
        )
        batch_op.create_index(op.f("ix_jobs_part_of"), ["part_of"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_jobs_part_of"))
        batch_op.drop_constraint(op.f("fk_jobs_part_of_jobs"), type_="foreignkey")
        batch_op.drop_column("part_of")
