"""The engine and sessions; SQLite in WAL mode by default, PostgreSQL by URL.

:func:`one_transaction` makes every :func:`session_scope` opened inside it (in the same
thread) join one transaction: a small package is applied in one commit instead of a dozen.

Database errors that mean "the server is not there" are translated at this edge into
:class:`omsx.errors.StorageUnavailable`, which the workers retry with backoff.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from omsx.errors import StorageUnavailable
from omsx.settings import get_settings


@dataclass
class _Ambient:
    """The transaction of :func:`one_transaction`, and whether a step in it failed."""

    session: Session
    failed: bool = False


_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_ambient: ContextVar[_Ambient | None] = ContextVar("omsx_ambient_session", default=None)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_savepoint(connection: Any, _name: str) -> None:
    """pysqlite begins a transaction only before a write, so a SAVEPOINT ahead of any
    write would begin one of its own, and its RELEASE would commit everything before it
    (an ``IntegrityError`` guard in :func:`storage.packages.record_receipt`, a step in
    :func:`one_transaction`). The savepoint precedes a write: open the transaction with
    its write lock first."""
    if not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """A new engine for ``url``; SQLite gets WAL, NORMAL sync, FKs and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        return engine
    # a PostgreSQL that does not answer must fail a connection in seconds, not hang it
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args={"connect_timeout": 10})  # fmt: skip


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the settings' database)."""
    url = url or get_settings().database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, and after a fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def is_unavailable(exc: BaseException) -> bool:
    """True when a database error means the server is unreachable or busy (retry)."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success, rolls back on error, and translates outages.

    Inside :func:`one_transaction` (and without ``url``) it is that transaction's
    session instead, and commits nothing itself; an exception out of it fails the
    whole block, even if the caller catches it."""
    ambient = _ambient.get()
    if ambient is not None and url is None:
        try:
            yield ambient.session
        except BaseException:
            ambient.failed = True
            raise
        return
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        if is_unavailable(exc):
            raise StorageUnavailable(f"database unavailable: {type(exc.orig).__name__}") from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def in_one_transaction() -> bool:
    """Whether this thread is inside :func:`one_transaction`."""
    return _ambient.get() is not None


@contextmanager
def one_transaction() -> Iterator[Session]:
    """One transaction for everything in the block: each :func:`session_scope` opened
    inside (in this thread) joins it. It commits when the block ends, and rolls back
    when the block raises or any step inside it raised.

    On SQLite the transaction, and with it the database's write lock, begins at the
    block's first write (the driver's own BEGIN): its reads before that hold nothing.
    """
    if _ambient.get() is not None:
        raise RuntimeError("one_transaction() does not nest")
    with session_scope() as session:
        ambient = _Ambient(session)
        token = _ambient.set(ambient)
        try:
            yield session
        finally:
            _ambient.reset(token)
        if ambient.failed:
            raise RuntimeError("a step inside one_transaction() failed; nothing was committed")
