"""package.beat_at: the last beat of the delivery working on a package

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
        batch_op.add_column(sa.Column("beat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_column("beat_at")
