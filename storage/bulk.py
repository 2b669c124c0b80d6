"""Bulk writes through SQLAlchemy Core (design.md: the ORM path is ~10× slower).

``insert_rows`` writes many rows in one statement per chunk, skipping rows whose unique
key is already there (``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL), so an
applier that re-runs a batch meets its own rows instead of failing or doubling them.
``put_row`` inserts or replaces one row by its key. ``update_rows`` applies many
``UPDATE … WHERE id = :id`` with executemany.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

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
    dialect = session.connection().dialect
    for start in range(0, len(rows), chunk):  # converted a chunk at a time: memory
        insert_prepared(session, prepare_rows(dialect, model, rows[start : start + chunk]))


@dataclass
class Prepared:
    """Rows of :func:`insert_rows` already turned into the driver's parameters, to write
    later (:func:`insert_prepared`): on SQLite the conversion, most of a bulk write's
    cost, then runs before the transaction takes the write lock, not while it holds it.
    ``fill`` sets a column that is known only at the write (an id just inserted)."""

    sql: str
    params: list[tuple[Any, ...]]
    positions: dict[str, int]

    def fill(self, key: str, value: Any) -> None:
        at = self.positions[key]
        self.params = [(*row[:at], value, *row[at + 1 :]) for row in self.params]


def prepare_rows(
    dialect: Dialect, model: type[SQLModel], rows: Sequence[Mapping[str, Any]]
) -> Prepared | None:
    """``rows`` for :func:`insert_prepared` (None when there are none)."""
    if not rows:
        return None
    plan = _plan(table_of(model), dialect, tuple(rows[0]))
    positions = {key: at for at, (key, _default, _process) in enumerate(plan.fields)}
    return Prepared(plan.sql, [plan.values(row) for row in rows], positions)


def insert_prepared(session: Session, prepared: Prepared | None, *, chunk: int = CHUNK) -> None:
    """Write rows :func:`prepare_rows` prepared, ignoring those already present."""
    if prepared is None:
        return
    connection = session.connection()
    for start in range(0, len(prepared.params), chunk):
        connection.exec_driver_sql(prepared.sql, prepared.params[start : start + chunk])


@overload
def insert_row(session: Session, model: type[SQLModel], row: Mapping[str, Any]) -> bool: ...
@overload
def insert_row(
    session: Session, model: type[SQLModel], row: Mapping[str, Any], *, returning: str
) -> Any | None: ...
def insert_row(
    session: Session, model: type[SQLModel], row: Mapping[str, Any], *, returning: str = ""
) -> Any:
    """Insert one row unless its unique key is there already; True when it was inserted
    — or, with ``returning`` (a column), the inserted row's value of it, None if not.

    The statement :func:`insert_rows` uses, run once: no ORM object, no savepoint."""
    connection = session.connection()
    plan = _plan(table_of(model), connection.dialect, tuple(row))
    if returning:
        column = connection.dialect.identifier_preparer.quote(table_of(model).c[returning].name)
        result = connection.exec_driver_sql(f"{plan.sql} RETURNING {column}", plan.values(row))
        return result.scalar_one_or_none()
    inserted: bool = connection.exec_driver_sql(plan.sql, plan.values(row)).rowcount == 1
    return inserted


def put_row(
    session: Session, model: type[SQLModel], row: Mapping[str, Any], *, key: tuple[str, ...]
) -> None:
    """Insert ``row``, or replace the columns it names in the row with the same ``key``
    (``INSERT … ON CONFLICT (key) DO UPDATE``): one statement, not a delete and an insert."""
    connection = session.connection()
    plan = _plan(table_of(model), connection.dialect, tuple(row), key)
    connection.exec_driver_sql(plan.sql, plan.values(row))


class _InsertPlan:
    """``INSERT … ON CONFLICT DO NOTHING`` for one table and column set — or, with
    ``replace`` (the conflict's key), ``DO UPDATE`` of the set's other columns — with
    how each row becomes the driver's positional parameters (defaults and types)."""

    def __init__(
        self, table: Table, dialect: Dialect, keys: tuple[str, ...], replace: tuple[str, ...]
    ) -> None:
        unknown = set(keys) - set(table.c.keys())
        if unknown:
            raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
        # the row's own columns first, then those it leaves to their defaults
        columns = [c for c in table.columns if c.key in keys] + [
            c
            for c in table.columns
            if c.key not in keys and c.default is not None and not c.primary_key
        ]
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        # identifiers from our own table metadata, quoted by the dialect; values are bound
        names = ", ".join(quote(c.name) for c in columns)
        marks = ", ".join(mark for _ in columns)
        into = f"INSERT INTO {quote(table.name)} ({names})"
        if replace:  # the row's other columns replace those of the row holding its key
            target = ", ".join(quote(table.c[k].name) for k in replace)
            changes = ", ".join(
                f"{quote(c.name)} = excluded.{quote(c.name)}"
                for c in columns
                if c.key in keys and c.key not in replace
            )
            self.sql = f"{into} VALUES ({marks}) ON CONFLICT ({target}) DO UPDATE SET {changes}"
        else:
            self.sql = f"{into} VALUES ({marks}) ON CONFLICT DO NOTHING"
        self.fields = [
            (c.key, _default(c), c.type._cached_bind_processor(dialect)) for c in columns
        ]

        given = [key for key, _default, _process in self.fields if key in keys]
        self._given = operator.itemgetter(*given) if len(given) > 1 else None
        self._width = len(given)
        self._defaults = [default for key, default, _process in self.fields if key not in keys]
        self._processes = [(at, process) for at, (_k, _d, process) in enumerate(self.fields)
                           if process is not None]  # fmt: skip

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row as the driver's parameters: its values in the plan's order, then the
        defaults of the columns it leaves out, each through its type's bind processor.
        The fast path takes a row with exactly the plan's keys (as many, all there);
        another row of the batch goes column by column."""
        given = None
        if self._given is not None and len(row) == self._width:
            try:
                given = self._given(row)
            except KeyError:  # as many keys, other ones
                given = None
        if given is None:
            out = [row[key] if key in row else default() for key, default, _p in self.fields]
        else:
            out = [*given, *(default() for default in self._defaults)]
        for at, process in self._processes:
            value = out[at]
            if value is not None:
                out[at] = process(value)
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
def _plan(
    table: Table, dialect: Dialect, keys: tuple[str, ...], replace: tuple[str, ...] = ()
) -> _InsertPlan:
    return _InsertPlan(table, dialect, keys, replace)


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
