"""The sweeper: re-drives packages whose state has not moved for a stage deadline,
and outbox rows that stayed unpublished, so a Redis flush or a crashed worker loses
nothing (design.md ◆ SQL is the source of truth); and records in SQL any dead letter
that only Redis holds. Failed and quarantined packages wait for a replay instead.
"""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import redis
from sqlmodel import col, select

from omsx.logs import get_logger
from omsx.settings import get_settings
from storage.db import session_scope
from storage.models import Outbox, Package, State, utcnow
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
OUTBOX_GRACE = timedelta(seconds=30)


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


def unpublished_packages(limit: int = 1000) -> list[int | None]:
    cutoff = utcnow() - OUTBOX_GRACE
    with session_scope() as session:
        rows = session.exec(
            select(Outbox.package_id)
            .where(col(Outbox.published_at).is_(None))
            .where(col(Outbox.created_at) < cutoff)
            .distinct()
            .limit(limit)
        ).all()
    return list(rows)


@dramatiq.actor(queue_name="maintenance", max_retries=0)
def sweep() -> None:
    settings = get_settings()
    stale = stale_packages(settings.stage_deadline_s)
    for package_id, state in stale:
        REDRIVE[State(state)].send(package_id)
    pending = unpublished_packages()
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
