"""The scheduler process: periodic jobs, one active instance cluster-wide.

The instance holding the Redis lock ``omsx:scheduler`` enqueues the jobs; the lock
expires if the holder dies, so another instance takes over within ``LOCK_TTL``.
"""

from __future__ import annotations

import signal
import threading
import uuid
from types import FrameType

import redis

from omsx.logs import configure_logging, get_logger
from omsx.settings import get_settings

LOCK_KEY = "omsx:scheduler"
LOCK_TTL_MS = 30_000

log = get_logger("workers.scheduler")


def hold_lock(client: redis.Redis, token: str) -> bool:
    """Take or renew the lock; True while this instance is the active scheduler."""
    if client.set(LOCK_KEY, token, nx=True, px=LOCK_TTL_MS):
        return True
    renewed = client.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
        1,
        LOCK_KEY,
        token,
        LOCK_TTL_MS,
    )
    return bool(renewed)


def run(stop: threading.Event | None = None) -> None:
    configure_logging()
    from workers.actors import sweep  # the broker must exist before enqueueing

    settings = get_settings()
    stop = stop or threading.Event()

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    client = redis.Redis.from_url(settings.redis_url)
    token = uuid.uuid4().hex
    log.info("scheduler.started", sweep_interval_s=settings.sweep_interval_s)
    while not stop.is_set():
        try:
            if hold_lock(client, token):
                sweep.send()
        except redis.RedisError as exc:
            log.warning("scheduler.redis_unavailable", error=type(exc).__name__)
        stop.wait(settings.sweep_interval_s)
    log.info("scheduler.stopped")
