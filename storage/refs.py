"""Reference data in the database: the participant registry (exchange.md §1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import cast

from sqlmodel import Session, select

from contracts.filenames import Role
from contracts.participants import Participant as ParticipantRef
from contracts.participants import ParticipantDirectory
from storage.db import session_scope
from storage.models import Participant, utcnow


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


class CachedDirectory:
    """The participant directory, re-read from the database at most every ``ttl_s``."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._value: ParticipantDirectory | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> ParticipantDirectory:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self.ttl_s:
                with session_scope() as session:
                    self._value = directory(session)
                self._at = time.monotonic()
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value = None


participants = CachedDirectory()
