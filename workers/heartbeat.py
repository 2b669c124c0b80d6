"""Running deliveries beat, so dead work is told apart from slow work.

Two readers need to know whether the delivery working on a package is still alive:

- the sweeper re-drives a package whose ``updated_at`` has not moved for
  ``OMSX_STAGE_DEADLINE_S`` (design.md ◆ SQL is the source of truth). A stage that
  runs longer than that without writing (FLK of a large file, an applier replaying the
  batches a crashed run committed, the invoice totals and the forward at its end) would
  otherwise be re-driven while it still runs;
- :class:`workers.middleware.CrashGuard` counts a delivery that never finished as a
  crash only when nothing beats for it any more; a second delivery that arrives while
  the first is alive (a duplicate message, a re-drive) is skipped, not counted.

One :class:`Beater` thread per worker process beats every package its deliveries hold,
in one ``UPDATE`` per interval: ``beat_at`` always, ``updated_at`` while the package is
in a state the sweeper re-drives. A killed worker stops beating: its packages' beats go
stale within :func:`alive_window` (at most 30 s, less than the 60 s after which
Redis hands a dead worker's messages to another), and their ``updated_at`` within the
deadline, as before.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import case, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from omsx.errors import TransientError
from omsx.logs import get_logger
from storage.db import session_scope
from storage.models import WORKING_STATES, Package, utcnow

log = get_logger("workers.heartbeat")

MAX_INTERVAL_S = 10.0


def interval(deadline_s: float) -> float:
    """Seconds between beats: a third of the stage deadline, at most 10 s."""
    return min(deadline_s / 3, MAX_INTERVAL_S)


def alive_window(deadline_s: float) -> timedelta:
    """A beat younger than this (three intervals) means the delivery is alive."""
    return timedelta(seconds=3 * interval(deadline_s))


def beat(package_ids: list[int], now: datetime | None = None) -> None:
    """One beat for these packages."""
    now = now or utcnow()
    working = col(Package.state).in_([s.value for s in WORKING_STATES])
    with session_scope() as session:
        session.execute(
            update(Package)
            .where(col(Package.id).in_(package_ids))
            .values(beat_at=now, updated_at=case((working, now), else_=col(Package.updated_at)))
        )


class Beater:
    """The packages this process's deliveries hold, beaten by one daemon thread."""

    def __init__(self, deadline_s: float) -> None:
        self.every = interval(deadline_s)
        self._held: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, package_id: int) -> None:
        with self._lock:
            self._held[package_id] += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="omsx-beater", daemon=True)
                self._thread.start()

    def release(self, package_id: int) -> None:
        with self._lock:
            self._held[package_id] -= 1
            if self._held[package_id] <= 0:
                del self._held[package_id]

    def held(self) -> list[int]:
        with self._lock:
            return sorted(self._held)

    def _run(self) -> None:
        while True:  # a daemon thread: it lives as long as the process
            time.sleep(self.every)
            ids = self.held()
            if not ids:
                continue
            try:
                beat(ids)
            except TransientError as exc:  # the database is down: the stages will notice
                log.warning("heartbeat.missed", packages=len(ids), error=type(exc).__name__)
            except SQLAlchemyError as exc:  # not an outage: say so, and keep beating
                log.error("heartbeat.failed", packages=len(ids), error=type(exc).__name__)
