"""Bulk writes through SQLAlchemy Core (design.md: the ORM path is ~10× slower).

``insert_rows`` writes many rows in one statement per chunk, skipping rows whose unique
key is already there (``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL), so an
applier that re-runs a batch meets its own rows instead of failing or doubling them.
``update_rows`` applies many ``UPDATE … WHERE id = :id`` with executemany.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Table, bindparam, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.schema import CallableColumnDefault
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
    """Insert ``rows`` (dicts of column → value), ignoring those already present.

    The statement is rendered once per table and column set and run with the driver's
    executemany (psycopg pipelines it): SQLAlchemy's per-row parameter processing was
    most of the cost of a bulk write. Columns a row leaves out take their defaults.
    """
    if not rows:
        return
    connection = session.connection()
    plan = _plan(table_of(model), connection.dialect, tuple(rows[0]))
    for start in range(0, len(rows), chunk):
        params = [plan.values(row) for row in rows[start : start + chunk]]
        connection.exec_driver_sql(plan.sql, params)


def insert_row(session: Session, model: type[SQLModel], row: Mapping[str, Any]) -> bool:
    """Insert one row unless its unique key is there already; True when it was inserted.

    The statement :func:`insert_rows` uses, run once: no ORM object, no savepoint."""
    connection = session.connection()
    plan = _plan(table_of(model), connection.dialect, tuple(row))
    inserted: bool = connection.exec_driver_sql(plan.sql, plan.values(row)).rowcount == 1
    return inserted


class _InsertPlan:
    """``INSERT … ON CONFLICT DO NOTHING`` for one table and column set, with how each
    row becomes the driver's positional parameters (defaults and type processing)."""

    def __init__(self, table: Table, dialect: Dialect, keys: tuple[str, ...]) -> None:
        unknown = set(keys) - set(table.c.keys())
        if unknown:
            raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
        columns = [
            c
            for c in table.columns
            if c.key in keys or (c.default is not None and not c.primary_key)
        ]
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        # identifiers from our own table metadata, quoted by the dialect; values are bound
        names = ", ".join(quote(c.name) for c in columns)
        marks = ", ".join(mark for _ in columns)
        into = f"INSERT INTO {quote(table.name)} ({names})"
        self.sql = f"{into} VALUES ({marks}) ON CONFLICT DO NOTHING"
        self.fields = [
            (c.key, _default(c), c.type._cached_bind_processor(dialect)) for c in columns
        ]

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for key, default, process in self.fields:
            value = row[key] if key in row else default()
            out.append(process(value) if process is not None and value is not None else value)
        return tuple(out)


def _default(column: Column[Any]) -> Callable[[], Any]:
    """A column's Python-side default as a callable (None when it has none)."""
    default = column.default
    if default is None:
        return lambda: None
    if isinstance(default, CallableColumnDefault):
        function = default.arg
        return lambda: function(None)  # type: ignore[arg-type]  # ours ignore the context
    value = getattr(default, "arg", None)
    return lambda: value


@functools.lru_cache(maxsize=256)
def _plan(table: Table, dialect: Dialect, keys: tuple[str, ...]) -> _InsertPlan:
    return _InsertPlan(table, dialect, keys)


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
