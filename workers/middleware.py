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
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from omsx.errors import OmsxError
from omsx.logs import get_logger
from omsx.settings import get_settings
from storage.db import session_scope
from storage.models import Package

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
    """Records a message as it is dead-lettered: in SQL, with its reason class
    (:func:`workers.deadletters.record`; a package message leaves its package failed),
    and the traceback's last line (the exception's class and message — no personal
    data, by policy) in ``dramatiq:<queue>.XQ.reasons`` beside Redis's copy, which
    keeps the message without it. If the SQL write fails, the letter is still in Redis
    for 7 days and :func:`workers.deadletters.mirror_redis` records it later."""

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        from workers.deadletters import classify, record

        lines = [ln for ln in str(message.options.get("traceback") or "").splitlines() if ln]
        last = lines[-1].strip()[:300] if lines else ""
        exc = getattr(message, "_exception", None)
        redis_id = message.options.get("redis_message_id")
        client = getattr(broker, "client", None)
        if client is not None and redis_id:
            client.hset(f"dramatiq:{message.queue_name}.XQ.reasons", redis_id, last or "unknown")
        reason = classify(exc)
        error_class = type(exc).__name__ if exc is not None else ""
        try:
            with session_scope() as session:
                record(session, key=str(redis_id or message.message_id), queue=message.queue_name,
                       actor=message.actor_name, args=message.args, reason=reason,
                       error_class=error_class, error=last,
                       retries=int(message.options.get("retries", 0)),
                       message=message.encode())  # fmt: skip
        except (SQLAlchemyError, OmsxError) as exc_sql:
            log.error("deadletter.not_recorded", error=type(exc_sql).__name__,
                      note="kept in Redis; the sweeper mirrors it")  # fmt: skip
        log.warning("message.dead", reason=reason, error=error_class)


class CrashGuard(Middleware):
    """Quarantines a package whose deliveries keep killing workers (issue "faults").

    A worker killed mid-task (kill -9, out of memory) never finishes its message, and
    Redis delivers it again without counting a retry — forever, if the package is what
    kills it. Each delivery of a validate/apply message counts in ``package.attempts``
    (committed before the work starts) and a finished delivery, failed or not, sets it
    back to 0; so ``attempts`` is the number of deliveries in a row that died. At the
    delivery after ``OMSX_QUARANTINE_AFTER`` of them, the package is quarantined instead
    of processed: state ``quarantined``, a dead letter with reason ``crash`` (replayable
    from the admin or ``omsx dlq`` after a fix), and the message is acknowledged.
    """

    QUEUES = frozenset({"validate", "apply"})

    def _package(self, message: MessageProxy) -> int | None:
        first = message.args[0] if message.args else None
        if message.queue_name not in self.QUEUES or not isinstance(first, int):
            return None
        return first

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        from dramatiq.middleware import SkipMessage

        from storage.deadletters import CRASH
        from storage.models import State
        from storage.packages import transition
        from workers.deadletters import WORKING, record

        package_id = self._package(message)
        if package_id is None:
            return
        limit = get_settings().quarantine_after
        with session_scope() as session:
            died = session.execute(
                update(Package).where(col(Package.id) == package_id)
                .values(attempts=col(Package.attempts) + 1).returning(col(Package.attempts))
            ).scalar_one_or_none()  # fmt: skip
            if died is None or died - 1 < limit:
                return
            moved = transition(session, package_id, source=WORKING, target=State.QUARANTINED,
                               stage=message.actor_name, outcome="quarantined",
                               detail=f"{died - 1} deliveries in a row ended without finishing "
                               "(worker killed or out of memory)",
                               error_class=CRASH)  # fmt: skip
            if moved:
                record(session, key=str(message.options.get("redis_message_id")
                                        or message.message_id),
                       queue=message.queue_name, actor=message.actor_name, args=message.args,
                       reason=CRASH, error_class="WorkerCrash",
                       error=f"{died - 1} deliveries crashed the worker",
                       retries=int(message.options.get("retries", 0)),
                       message=message.encode())  # fmt: skip
        log.error("package.quarantined", package_id=package_id, deliveries=died - 1)
        raise SkipMessage("quarantined")

    def _finished(self, message: MessageProxy) -> None:
        package_id = self._package(message)
        if package_id is None:
            return
        with session_scope() as session:
            session.execute(update(Package).where(col(Package.id) == package_id,
                                                  col(Package.attempts) > 0)
                            .values(attempts=0))  # fmt: skip

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._finished(message)

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        return  # a quarantine skip keeps the count; nothing else skips these messages
