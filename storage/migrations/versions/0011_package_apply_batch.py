"""package.apply_batch: the batch size a package's apply commits with, pinned at its start

The applier's progress counts batches; a re-run after a crash resumes at the first
batch not committed. Were the size read from ``OMSX_APPLY_BATCH`` at each run, changing
it while a package is half-applied would move the boundaries under the count.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.add_column(sa.Column("apply_batch", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_column("apply_batch")
