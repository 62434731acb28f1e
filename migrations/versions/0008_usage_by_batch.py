"""usage by batch: attempts and artifacts carry their job's batch, indexed for a batch's sums

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SUMMED = {"attempts": "character_cost", "artifacts": "bytes"}
"""Each table and the column a batch's usage sums, which its index carries on PostgreSQL."""


def upgrade() -> None:
    for table, summed in SUMMED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("batch_id", sa.String(32), nullable=True))
        op.execute(
            f"UPDATE {table} SET batch_id = (SELECT batch_id FROM jobs WHERE jobs.id = {table}.job_id)"
        )
        # SQLite rebuilds the table for NOT NULL and the foreign key (env.py keeps the rows)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("batch_id", existing_type=sa.String(32), nullable=False)
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_batch_id_batches"),
                "batches",
                ["batch_id"],
                ["id"],
                ondelete="CASCADE",
            )
            batch_op.create_index(
                op.f(f"ix_{table}_batch_id"), ["batch_id"], postgresql_include=[summed]
            )


def downgrade() -> None:
    for table in reversed(SUMMED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(op.f(f"ix_{table}_batch_id"))
            batch_op.drop_constraint(op.f(f"fk_{table}_batch_id_batches"), type_="foreignkey")
            batch_op.drop_column("batch_id")
