"""Bulk writes through SQLAlchemy Core (design.md: the ORM path is ~10× slower).

``insert_rows`` writes many rows in one statement per chunk, skipping rows whose unique
key is already there (``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL), so an
applier that re-runs a batch meets its own rows instead of failing or doubling them.
``update_rows`` applies many ``UPDATE … WHERE id = :id`` with executemany.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

CHUNK = 5_000


def table_of(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def insert_rows(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[Mapping[str, Any]],
    *,
    chunk: int = CHUNK,
) -> None:
    """Insert ``rows`` (dicts of column → value), ignoring those already present."""
    if not rows:
        return
    table = table_of(model)
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing()
    connection = session.connection()
    for start in range(0, len(rows), chunk):
        connection.execute(statement, list(rows[start : start + chunk]))


def update_rows(
    session: Session,
    model: type[SQLModel],
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    key: str = "id",
) -> None:
    """``UPDATE model SET <columns> WHERE <key> = row[key]`` for each row (executemany)."""
    batch = [{"_key": row[key], **{f"_v_{c}": row[c] for c in columns}} for row in rows]
    if not batch:
        return
    table = table_of(model)
    statement = (
        update(table)
        .where(table.c[key] == bindparam("_key"))
        .values({c: bindparam(f"_v_{c}") for c in columns})
    )
    session.connection().execute(statement, batch)
