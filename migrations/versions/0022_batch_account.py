"""batch account: the registered account (its API key) a batch renders with

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.add_column(
            sa.Column("account", sa.String(40), server_default="default", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("account")
