"""The scheduler's nightly consolidation: which day is due, and enqueued once (real Redis)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from dramatiq import Broker, Message, Middleware
from dramatiq.middleware import MiddlewareError

from omsx.settings import Settings
from tests.conftest import EmbeddedServer
from workers.scheduler import due_day, enqueue_daily

pytestmark = pytest.mark.integration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_previous_day_is_due_once_the_time_of_the_run_has_passed() -> None:
    assert due_day(at("2026-11-23T01:59:59"), "02:00", UTC) == date(2026, 11, 21)
    assert due_day(at("2026-11-23T02:00:00"), "02:00", UTC) == date(2026, 11, 22)
    assert due_day(at("2026-11-23T23:59:00"), "00:00", UTC) == date(2026, 11, 22)


def test_the_due_day_is_the_regions_and_so_is_the_time_of_the_run() -> None:
    saratov = ZoneInfo("Europe/Saratov")  # UTC+4
    # 21:59:59 UTC is 01:59:59 on the 23rd in Saratov: before the run, two days back
    assert due_day(at("2026-11-22T21:59:59"), "02:00", saratov) == date(2026, 11, 21)
    assert due_day(at("2026-11-22T22:00:00"), "02:00", saratov) == date(2026, 11, 22)
    # 20:30 UTC on the 23rd is already the 24th in Saratov
    assert due_day(at("2026-11-23T20:30:00"), "00:00", saratov) == date(2026, 11, 23)


def test_a_day_is_enqueued_once_whatever_the_number_of_ticks(
    omsx_env: Settings, fresh_redis: EmbeddedServer
) -> None:
    from workers.broker import broker
    from workers.daily import consolidate_day

    client = redis.Redis.from_url(fresh_redis.url)
    queue = consolidate_day.queue_name
    before = broker.queues[queue].qsize() if queue in broker.queues else 0  # type: ignore[attr-defined]
    assert enqueue_daily(client, at("2026-11-23T02:05:00"), "02:00", UTC) == date(2026, 11, 22)
    assert enqueue_daily(client, at("2026-11-23T02:06:00"), "02:00", UTC) is None  # same day
    assert broker.queues[queue].qsize() == before + 1  # type: ignore[attr-defined]
    assert enqueue_daily(client, at("2026-11-24T02:00:00"), "02:00", UTC) == date(2026, 11, 23)
    broker.flush(queue)  # type: ignore[attr-defined]


class _Unreachable(MiddlewareError):
    """The broker refuses the message (a MiddlewareError, which Dramatiq lets through)."""


class _RefuseEnqueue(Middleware):
    def before_enqueue(self, broker: Broker, message: Message[Any], delay: int) -> None:
        raise _Unreachable("the broker is unreachable")


def test_a_day_whose_job_could_not_be_sent_is_sent_at_the_next_tick(
    omsx_env: Settings, fresh_redis: EmbeddedServer
) -> None:
    from workers.broker import broker
    from workers.daily import consolidate_day

    client = redis.Redis.from_url(fresh_redis.url)
    queue = consolidate_day.queue_name
    before = broker.queues[queue].qsize() if queue in broker.queues else 0  # type: ignore[attr-defined]
    refuse = _RefuseEnqueue()
    broker.middleware.append(refuse)
    try:
        with pytest.raises(_Unreachable):
            enqueue_daily(client, at("2026-11-23T02:05:00"), "02:00", UTC)
    finally:
        broker.middleware.remove(refuse)
    assert client.keys("omsx:daily:*") == []  # not marked: the day is not lost
    assert enqueue_daily(client, at("2026-11-23T02:06:00"), "02:00", UTC) == date(2026, 11, 22)
    assert broker.queues[queue].qsize() == before + 1  # type: ignore[attr-defined]
    broker.flush(queue)  # type: ignore[attr-defined]
