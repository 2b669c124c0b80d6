"""package.held_by, beat_at: the delivery working on a package and its last beat

:class:`workers.middleware.CrashGuard` counts a delivery that never finished as a crash
only when its beat (:mod:`workers.heartbeat`) has stopped; a delivery that arrives
while another one still beats is skipped instead.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("beat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_column("beat_at")
        batch_op.drop_column("held_by")
