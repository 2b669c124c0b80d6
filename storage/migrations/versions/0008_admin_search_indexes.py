"""package: indexes of the admin's package search (state, id) and (sender_code, id)

The search orders by ``id DESC`` with a LIMIT (keyset paging). With an index on the
filter column and ``id``, a page is an index range read in that order; with only
(state, updated_at) SQLite read every package in the state and sorted them (~200 ms for
"applied" at 100k packages), and a participant's search sorted all of its packages or
walked the kind index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 06:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.create_index("ix_package_state_id", ["state", "id"], unique=False)
        batch_op.create_index("ix_package_sender_id", ["sender_code", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_index("ix_package_sender_id")
        batch_op.drop_index("ix_package_state_id")
