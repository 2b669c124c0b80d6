"""The Dramatiq broker, built once per process from the settings.

``OMSX_BROKER=stub`` gives Dramatiq's own StubBroker (unit tests of actors); the
default is Redis/Valkey at ``OMSX_REDIS_URL``. Importing this module sets the global
broker, so every actor module imports it before declaring actors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from omsx.settings import Settings, get_settings
from workers.middleware import CrashGuard, DeadLetterReason, FlushMarks, StageLog

QUEUES = ("validate", "apply", "reply", "maintenance")
P = ParamSpec("P")


def build_broker(settings: Settings) -> dramatiq.Broker:
    broker: dramatiq.Broker
    if settings.broker == "stub":
        broker = StubBroker()
        broker.emit_after("process_boot")
    else:
        broker = RedisBroker(url=settings.redis_url, heartbeat_timeout=60_000)  # type: ignore[no-untyped-call]
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(StageLog())
    broker.add_middleware(CrashGuard())
    broker.add_middleware(DeadLetterReason())
    broker.add_middleware(FlushMarks())
    return broker


def current_attempt() -> int:
    """How many times the message being processed was retried (0 outside a worker)."""
    message = CurrentMessage.get_current_message()
    return int(message.options.get("retries", 0)) if message else 0


broker = build_broker(get_settings())
dramatiq.set_broker(broker)


def pipeline_actor(queue_name: str) -> Callable[[Callable[P, None]], dramatiq.Actor[P, None]]:
    """The pipeline's actor policy: transient failures retry with backoff 0.5 s … 60 s."""
    return dramatiq.actor(
        queue_name=queue_name,
        max_retries=get_settings().max_retries,
        min_backoff=500,
        max_backoff=60_000,
    )
