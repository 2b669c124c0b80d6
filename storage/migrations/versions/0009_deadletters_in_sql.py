"""deadletter: dead letters and quarantined packages in SQL; package (kind, state, result)

Dramatiq keeps dead letters in Redis for 7 days; ``deadletter`` keeps each one (and
each package quarantined for crashing workers) until it is replayed or purged. The
index on package (kind, state, result) serves /metrics' counts per kind, state and
result (the index on kind alone stays: with the id it keeps, it serves the admin's
search by kind, newest first).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deadletter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("error_class", sa.String(length=64), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("died_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("acted_by", sa.String(length=64), nullable=True),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("deadletter", schema=None) as batch_op:
        batch_op.create_index("ix_deadletter_state_id", ["state", "id"], unique=False)
        batch_op.create_index("ix_deadletter_package", ["package_id"], unique=False)
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.create_index(
            "ix_package_kind_state_result", ["kind", "state", "result"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_index("ix_package_kind_state_result")
    with op.batch_alter_table("deadletter", schema=None) as batch_op:
        batch_op.drop_index("ix_deadletter_package")
        batch_op.drop_index("ix_deadletter_state_id")
    op.drop_table("deadletter")
