"""Cross-cutting policies as Dramatiq middleware (not repeated in actors).

``StageLog`` binds the log context (actor, message id, package id) and writes the one
summary line per processed message: duration and outcome.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy

from omsx.logs import get_logger

log = get_logger("workers")


class StageLog(Middleware):
    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()
        first = message.args[0] if message.args else None
        structlog.contextvars.bind_contextvars(
            actor=message.actor_name,
            message_id=message.message_id,
            attempt=message.options.get("retries", 0),
        )
        if isinstance(first, int):  # the pipeline's actors take a package id
            structlog.contextvars.bind_contextvars(package_id=first)
        elif isinstance(first, str):  # maintenance actors: a day, never personal data
            structlog.contextvars.bind_contextvars(arg=first[:32])
        message.options["_omsx_t0"] = time.perf_counter()

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        started = message.options.pop("_omsx_t0", None)
        ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        if exception is None:
            log.info("message.processed", outcome="ok", duration_ms=ms)
        else:
            log.warning(
                "message.processed", outcome="error", error=type(exception).__name__, duration_ms=ms
            )
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        message.options.pop("_omsx_t0", None)
        log.info("message.processed", outcome="skipped")
        structlog.contextvars.clear_contextvars()


class DeadLetterReason(Middleware):
    """Keeps why a message was dead-lettered: the Redis broker stores the message as it
    was enqueued, without the traceback Retries attached. The last line of the traceback
    (the exception's class and message — no personal data, by policy) goes into the hash
    ``dramatiq:<queue>.XQ.reasons`` under the message's Redis id
    (:mod:`workers.deadletters` reads and prunes it)."""

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        client = getattr(broker, "client", None)
        redis_id = message.options.get("redis_message_id")
        if client is None or not redis_id:
            return
        lines = [ln for ln in str(message.options.get("traceback") or "").splitlines() if ln]
        reason = lines[-1].strip()[:300] if lines else "unknown"
        client.hset(f"dramatiq:{message.queue_name}.XQ.reasons", redis_id, reason)
