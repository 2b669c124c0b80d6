"""The sweeper: re-drives packages whose state has not moved for a stage deadline,
and outbox rows that stayed unpublished, so a Redis flush or a crashed worker loses
nothing (design.md ◆ SQL is the source of truth); and records in SQL any dead letter
that only Redis holds. Failed and quarantined packages wait for a replay instead.
"""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import redis
from sqlalchemy import update
from sqlmodel import col, select

from omsx.errors import TransientError
from omsx.logs import get_logger
from omsx.settings import Settings, get_settings
from storage.db import session_scope
from storage.models import Outbox, Package, State, utcnow
from storage.packages import add_event
from workers.apply import apply
from workers.deadletters import mirror_redis
from workers.replies import publish_protocols
from workers.validation import validate

log = get_logger("workers.sweeper")

REDRIVE = {
    State.RECEIVED: validate,
    State.VALIDATING: validate,
    State.CHECKED: apply,
    State.APPLYING: apply,
}
OUTBOX_GRACE = timedelta(seconds=30)  # or the stage deadline, when that is shorter


def stale_packages(deadline_s: int, limit: int = 1000) -> list[tuple[int, str]]:
    cutoff = utcnow() - timedelta(seconds=deadline_s)
    with session_scope() as session:
        rows = session.exec(
            select(Package.id, Package.state)
            .where(col(Package.state).in_([s.value for s in REDRIVE]))
            .where(col(Package.updated_at) < cutoff)
            .order_by(col(Package.updated_at))
            .limit(limit)
        ).all()
    return [(int(pid), state) for pid, state in rows if pid is not None]


def unpublished_packages(deadline_s: int, limit: int = 1000) -> list[int | None]:
    cutoff = utcnow() - min(OUTBOX_GRACE, timedelta(seconds=deadline_s))
    with session_scope() as session:
        rows = session.exec(
            select(Outbox.package_id)
            .where(col(Outbox.published_at).is_(None))
            .where(col(Outbox.created_at) < cutoff)
            .distinct()
            .limit(limit)
        ).all()
    return list(rows)


def claim_redrive(package_id: int, state: str, deadline_s: int) -> bool:
    """Take a stale package for one re-drive: its ``updated_at`` restarts the deadline
    (unless it moved meanwhile, or another sweep took it), so a package is re-sent once
    per deadline, not at every sweep while the first re-drive waits in a queue."""
    cutoff = utcnow() - timedelta(seconds=deadline_s)
    with session_scope() as session:
        moved = session.execute(
            update(Package)
            .where(col(Package.id) == package_id, col(Package.state) == state,
                   col(Package.updated_at) < cutoff)
            .values(updated_at=utcnow())
        )  # fmt: skip
        taken = bool(moved.rowcount == 1)  # type: ignore[attr-defined]
        if taken:
            add_event(session, package_id, "sweep", "redriven", detail=f"from {state}")
    return taken


@dramatiq.actor(queue_name="maintenance", max_retries=0)
def sweep() -> None:
    """One sweep; with the database or Redis down it is skipped, not dead-lettered: the
    next sweep (every ``OMSX_SWEEP_INTERVAL_S``) does its work."""
    try:
        _sweep(get_settings())
    except (TransientError, redis.RedisError) as exc:
        log.warning("sweep.skipped", error=type(exc).__name__)


def _sweep(settings: Settings) -> None:
    stale = [(package_id, state) for package_id, state in stale_packages(settings.stage_deadline_s)
             if claim_redrive(package_id, state, settings.stage_deadline_s)]  # fmt: skip
    for package_id, state in stale:
        REDRIVE[State(state)].send(package_id)
    pending = unpublished_packages(settings.stage_deadline_s)
    for owner in pending:
        publish_protocols.send(owner)
    mirrored = _mirror_dead_letters(settings.redis_url)
    log.info("sweep.done", redriven=len(stale), outbox_redriven=len(pending),
             dead_letters_mirrored=mirrored)  # fmt: skip


def _mirror_dead_letters(redis_url: str) -> int:
    """Record in SQL any dead letter only Redis holds (it expires there in 7 days)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        with session_scope() as session:
            return mirror_redis(session, client)
    finally:
        client.close()
