"""carecase: the insuring territory of out-of-region cases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("carecase", schema=None) as batch_op:
        batch_op.add_column(sa.Column("territory", sa.String(length=5), nullable=True))
        batch_op.create_index(
            "ix_carecase_out_of_region", ["out_of_region", "year", "month"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("carecase", schema=None) as batch_op:
        batch_op.drop_index("ix_carecase_out_of_region")
        batch_op.drop_column("territory")
