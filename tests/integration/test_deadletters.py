"""Dead letters of a real Redis broker: a message that failed all its retries is
listed with its error class, replayed (it runs again) or purged."""

from __future__ import annotations

import time

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from workers.deadletters import DeadFilter, dead_letters, purge, replay

pytestmark = pytest.mark.integration


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


def test_a_corrupt_dead_letter_is_listed_as_undecodable_and_can_only_be_purged(
    dead: tuple[redis.Redis, RedisBroker, list[int]],
) -> None:
    client, broker, _seen = dead
    [letter] = dead_letters(client)
    client.hset("dramatiq:apply.XQ.msgs", letter.message_id, b"\x00not a message")  # the fault
    [broken] = dead_letters(client)
    assert (broken.error_class, broken.actor) == ("undecodable", "?")
    assert replay(client, broker, [broken]) == 0
    assert dead_letters(client) == [broken]
    assert purge(client, [broken]) == 1 and dead_letters(client) == []
