"""flk outcome and loaded reference directories

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:07:15.249895
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("directory", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("begin", sa.Date(), nullable=True),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("refentry", schema=None) as batch_op:
        batch_op.create_index("ix_refentry_dir_code", ["directory", "code"], unique=False)

    op.create_table(
        "flkoutcome",
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.LargeBinary(), nullable=False),
        sa.Column("refused", sa.Text(), nullable=False),
        sa.Column("format_version", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["package.id"],
        ),
        sa.PrimaryKeyConstraint("package_id"),
    )


def downgrade() -> None:
    op.drop_table("flkoutcome")
    with op.batch_alter_table("refentry", schema=None) as batch_op:
        batch_op.drop_index("ix_refentry_dir_code")

    op.drop_table("refentry")
