"""Reference data in the database: the participant registry (exchange.md §1) and the
directories an operator loaded with ``omsx refs load`` (they replace the shipped seed's
directory of the same name)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar, cast

from sqlmodel import Session, col, delete, select

from contracts.filenames import Role
from contracts.participants import Participant as ParticipantRef
from contracts.participants import ParticipantDirectory
from contracts.refs import Directories, Directory, Entry, from_rows
from storage.db import session_scope
from storage.models import Participant, RefEntry, utcnow


def upsert_participants(session: Session, rows: Iterable[ParticipantRef]) -> int:
    """Insert or update participants; returns how many rows were written."""
    n = 0
    for ref in rows:
        row = session.get(Participant, (ref.role, ref.code))
        if row is None:
            session.add(Participant(role=ref.role, code=ref.code, name=ref.name, active=ref.active))
        else:
            row.name, row.active, row.updated_at = ref.name, ref.active, utcnow()
        n += 1
    return n


def directory(session: Session) -> ParticipantDirectory:
    rows = session.exec(select(Participant)).all()
    return ParticipantDirectory(
        ParticipantRef(role=cast(Role, r.role), code=r.code, name=r.name, active=r.active)
        for r in rows
    )


def store_directory(session: Session, loaded: Directory) -> int:
    """Replace the stored rows of one directory with ``loaded``'s; returns the row count."""
    session.exec(delete(RefEntry).where(col(RefEntry.directory) == loaded.name))
    n = 0
    for entry in loaded:
        session.add(
            RefEntry(
                directory=loaded.name,
                code=entry.code,
                name=entry.name[:1000],
                begin=entry.begin,
                end=entry.end,
            )
        )
        n += 1
    return n


def reference_directories(session: Session) -> Directories:
    """The shipped seed with every directory loaded into the database laid over it."""
    refs = Directories.seed()
    rows = session.exec(select(RefEntry)).all()
    for loaded in from_rows(
        ((r.directory, Entry(code=r.code, name=r.name, begin=r.begin, end=r.end)) for r in rows),
        source="omsx refs load",
    ):
        refs.add(loaded)
    return refs


T = TypeVar("T")


class Cached(Generic[T]):
    """A value read from the database at most every ``ttl_s`` seconds per process."""

    def __init__(self, read: Callable[[Session], T], ttl_s: float = 30.0) -> None:
        self.read = read
        self.ttl_s = ttl_s
        self._value: T | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self.ttl_s:
                with session_scope() as session:
                    self._value = self.read(session)
                self._at = time.monotonic()
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value = None


participants: Cached[ParticipantDirectory] = Cached(directory)
directories: Cached[Directories] = Cached(reference_directories, ttl_s=300.0)
