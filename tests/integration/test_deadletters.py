"""Dead letters of a real Redis broker: a message that failed all its retries is
listed with its error class, replayed (it runs again) or purged."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries

from tests.conftest import EmbeddedServer
from workers.deadletters import DeadFilter, dead_letters, purge, replay
from workers.middleware import DeadLetterReason

pytestmark = pytest.mark.integration


class Flaky(RuntimeError):
    """The failure of the test actor."""


@pytest.fixture
def dead(fresh_redis: EmbeddedServer) -> Iterator[tuple[redis.Redis, RedisBroker, list[int]]]:
    """A Redis broker whose ``apply`` actor fails (no retries) while ``ran`` is empty."""
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
    while not client.zcard("dramatiq:apply.XQ"):
        assert time.monotonic() < deadline, "the message was not dead-lettered"
        time.sleep(0.05)
    try:
        yield client, broker, seen
    finally:
        worker.stop()
        broker.close()


def test_a_dead_letter_is_listed_with_its_error_and_replayed_once(
    dead: tuple[redis.Redis, RedisBroker, list[int]],
) -> None:
    client, broker, seen = dead
    [letter] = dead_letters(client)
    assert (letter.queue, letter.actor, letter.package_id) == ("apply", "apply", 7)
    assert letter.error_class == "Flaky" and "the first run fails" in letter.error
    assert dead_letters(client, DeadFilter(error_class="OtherError")) == []
    assert dead_letters(client, DeadFilter(package_id=7)) == [letter]
    assert replay(client, broker, [letter]) == 1
    deadline = time.monotonic() + 20
    while 7 not in seen:
        assert time.monotonic() < deadline, "the replayed message did not run"
        time.sleep(0.05)
    assert dead_letters(client) == [] and seen == [-7, 7]


def test_a_purged_dead_letter_is_gone_and_never_runs(
    dead: tuple[redis.Redis, RedisBroker, list[int]],
) -> None:
    client, _broker, seen = dead
    assert purge(client, dead_letters(client)) == 1
    assert dead_letters(client) == [] and not client.hlen("dramatiq:apply.XQ.msgs")
    assert not client.hlen("dramatiq:apply.XQ.reasons")
    time.sleep(0.5)
    assert seen == [-7]
