"""job loudness: what a job's loudness pass measured, recorded with its outputs

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


# plain ALTER TABLE on both dialects, as in 0020: a batch_alter_table would rebuild ``jobs`` on
# SQLite and lose the kept counts' triggers (0019). Jobs that succeeded before keep no value here;
# their ``loudness.json`` stays beside their outputs.


def upgrade() -> None:
    op.add_column("jobs", sa.Column("loudness", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "loudness")
