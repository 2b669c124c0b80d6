"""A running stage keeps its package fresh, so the sweeper re-drives only dead work.

The sweeper re-drives a package whose ``updated_at`` has not moved for
``OMSX_STAGE_DEADLINE_S`` (design.md ◆ SQL is the source of truth). A stage that runs
longer than that without writing — FLK of a large file, an applier replaying the
batches a crashed run committed, the invoice totals and the forward at its end — would
be re-driven while it still runs: a second delivery of the same package in parallel,
which :class:`workers.middleware.CrashGuard` counts like a crashed one, so a slow but
healthy package could even be quarantined. :func:`heartbeat` touches ``updated_at``
every third of the deadline while the stage runs in this worker; a killed worker stops
beating, and its package goes stale as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import update
from sqlmodel import col

from omsx.errors import TransientError
from omsx.logs import get_logger
from storage.db import session_scope
from storage.models import Package, State, utcnow

log = get_logger("workers.heartbeat")


def beat(package_id: int, state: State) -> None:
    """Touch the package's ``updated_at`` if it is still in ``state``."""
    with session_scope() as session:
        session.execute(
            update(Package)
            .where(col(Package.id) == package_id, col(Package.state) == state.value)
            .values(updated_at=utcnow())
        )


@contextmanager
def heartbeat(package_id: int, state: State, deadline_s: float) -> Iterator[None]:
    """While the block runs, beat every ``deadline_s / 3`` seconds (in a thread)."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(deadline_s / 3):
            try:
                beat(package_id, state)
            except TransientError as exc:  # the database is down: the stage will notice
                log.warning("heartbeat.missed", package_id=package_id, error=type(exc).__name__)

    thread = threading.Thread(target=run, name=f"heartbeat-{package_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
