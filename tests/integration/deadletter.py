"""A real dead letter: a Redis broker whose ``apply`` actor fails its first run; the
middleware records it in the test's database (migrated here) as the worker's does."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries
from sqlmodel import Session, select

from omsx.settings import Settings
from storage.db import get_engine
from storage.deadletters import DeadLetterRecord
from storage.migrate import upgrade
from tests.conftest import EmbeddedServer
from workers.middleware import DeadLetterReason


def _recorded(settings: Settings) -> bool:
    with Session(get_engine(settings.database_url)) as s:
        return s.exec(select(DeadLetterRecord)).first() is not None


class Flaky(RuntimeError):
    """The failure of the test actor."""


@pytest.fixture
def dead(
    fresh_redis: EmbeddedServer, omsx_env: Settings
) -> Iterator[tuple[redis.Redis, RedisBroker, list[int]]]:
    """A Redis broker whose ``apply`` actor fails (no retries) while ``ran`` is empty."""
    upgrade(omsx_env.database_url)
    broker = RedisBroker(url=fresh_redis.url)
    broker.add_middleware(Retries(max_retries=0))
    broker.add_middleware(DeadLetterReason())
    seen: list[int] = []

    @dramatiq.actor(broker=broker, queue_name="apply", actor_name="apply", max_retries=0)
    def apply(package_id: int) -> None:
        if not seen:
            seen.append(-package_id)
            raise Flaky("the first run fails")
        seen.append(package_id)

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    apply.send(7)
    client = redis.Redis.from_url(fresh_redis.url)
    deadline = time.monotonic() + 20
    while not client.zcard("dramatiq:apply.XQ") or not _recorded(omsx_env):
        assert time.monotonic() < deadline, "the message was not dead-lettered and recorded"
        time.sleep(0.05)
    try:
        yield client, broker, seen
    finally:
        worker.stop()
        broker.close()
