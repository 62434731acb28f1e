"""nightly schedules: schedules, schedule_firings; batches.schedule_id, slot_at, character_budget

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("cron", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("manifest_text", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("overlap", _enum("overlap_policy", "skip", "allow"), nullable=False),
        sa.Column("catch_up", _enum("catch_up_policy", "skip", "latest"), nullable=False),
        sa.Column("character_budget", sa.Integer(), nullable=True),
        sa.Column("next_slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )
    op.create_index(op.f("ix_schedules_next_slot_at"), "schedules", ["next_slot_at"], unique=False)
    op.create_table(
        "schedule_firings",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", _enum("firing_outcome", "fired", "skipped", "failed"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_schedule_firings_batch_id_batches"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_schedule_firings_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_firings")),
        sa.UniqueConstraint("schedule_id", "slot_at", name=op.f("uq_schedule_firings_schedule_id_slot_at")),
    )
    # SQLite rebuilds the table for the foreign key (env.py keeps the jobs referring to it)
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "schedule_id",
                sa.Integer(),
                sa.ForeignKey(
                    "schedules.id", name=op.f("fk_batches_schedule_id_schedules"), ondelete="SET NULL"
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("slot_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("character_budget", sa.Integer(), nullable=True))
        batch_op.create_index(
            op.f("ix_batches_schedule_id_slot_at"), ["schedule_id", "slot_at"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_batches_schedule_id_slot_at"))
        batch_op.drop_constraint(op.f("fk_batches_schedule_id_schedules"), type_="foreignkey")
        batch_op.drop_column("character_budget")
        batch_op.drop_column("slot_at")
        batch_op.drop_column("schedule_id")
    op.drop_table("schedule_firings")
    op.drop_index(op.f("ix_schedules_next_slot_at"), table_name="schedules")
    op.drop_table("schedules")
