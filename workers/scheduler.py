"""The scheduler process: periodic jobs, one active instance cluster-wide.

The instance holding the Redis lock ``omsx:scheduler`` enqueues the jobs; the lock
expires if the holder dies, so another instance takes over within ``LOCK_TTL``.

- the sweeper, every ``OMSX_SWEEP_INTERVAL_S``;
- the daily consolidation of the region's previous day, once ``OMSX_DAILY_AT`` (the
  region's time, ``OMSX_TIMEZONE``) has passed;
  the Redis key ``omsx:daily:<date>`` records that the day was enqueued, so a restart or
  a change of the active instance does not enqueue it twice.
"""

from __future__ import annotations

import signal
import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import FrameType

import redis

from omsx.logs import configure_logging, get_logger
from omsx.settings import get_settings

LOCK_KEY = "omsx:scheduler"
LOCK_TTL_MS = 30_000
DAILY_KEY = "omsx:daily:{day}"
DAILY_KEY_TTL_S = 7 * 24 * 3600

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


def due_day(now: datetime, daily_at: str, zone: tzinfo) -> date:
    """The day the nightly consolidation covers at ``now``: yesterday once ``daily_at``
    (HH:MM of ``zone``, the region's time) has passed today, else the day before — days
    of the region, not of UTC."""
    hours, minutes = (int(part) for part in daily_at.split(":"))
    local = now.astimezone(zone)
    passed = local.time() >= time(hours, minutes)
    return local.date() - timedelta(days=1 if passed else 2)


def enqueue_daily(client: redis.Redis, now: datetime, daily_at: str, zone: tzinfo) -> date | None:
    """Enqueue the consolidation of the due day unless it already was; the day, if sent.

    The job is sent before the day is marked: a scheduler killed in between sends it
    again at its next tick (a consolidation is idempotent, and only the scheduler that
    holds the lock gets here), where marking first would lose the day.
    """
    from workers.daily import consolidate_day

    day = due_day(now, daily_at, zone)
    key = DAILY_KEY.format(day=day.isoformat())
    if client.exists(key):
        return None
    consolidate_day.send(day.isoformat())
    client.set(key, now.isoformat(), ex=DAILY_KEY_TTL_S)
    log.info("scheduler.daily_enqueued", day=day.isoformat())
    return day


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
                enqueue_daily(client, datetime.now(UTC), settings.daily_at, settings.zone)
        except redis.RedisError as exc:
            log.warning("scheduler.redis_unavailable", error=type(exc).__name__)
        stop.wait(settings.sweep_interval_s)
    log.info("scheduler.stopped")
