"""Cross-cutting policies as Dramatiq middleware (not repeated in actors).

``StageLog`` binds the log context (actor, message id, package id) and writes the one
summary line per processed message: duration and outcome.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import structlog
from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from omsx.errors import OmsxError, TransientError
from omsx.logs import get_logger
from omsx.settings import get_settings
from storage.bulk import table_of
from storage.db import session_scope
from storage.models import Package, utcnow
from storage.packages import RELEASES
from workers.heartbeat import Beater, alive_window

log = get_logger("workers")
_PACKAGE = table_of(Package)  # Core statements, built once: no per-delivery construction
# count a delivery unless another message's delivery holds the package and still beats
_COUNT = (
    update(_PACKAGE)
    .where(
        _PACKAGE.c.id == bindparam("package_id"),
        ~(
            _PACKAGE.c.held_by.isnot(None)
            & (_PACKAGE.c.held_by != bindparam("message_id"))
            & _PACKAGE.c.beat_at.isnot(None)
            & (_PACKAGE.c.beat_at >= bindparam("alive_since"))
        ),
    )
    .values(attempts=_PACKAGE.c.attempts + 1, held_by=bindparam("message_id"),
            beat_at=bindparam("now"))
    .returning(_PACKAGE.c.attempts)
)  # fmt: skip
_HOLDER = select(_PACKAGE.c.held_by).where(_PACKAGE.c.id == bindparam("package_id"))
_RELEASE = (
    update(_PACKAGE)
    .where(_PACKAGE.c.id == bindparam("package_id"), _PACKAGE.c.held_by == bindparam("holder"))
    .values(attempts=0, held_by=None, beat_at=None)
)


class FlushMarks(Middleware):
    """Writes the published answers' marks still waiting (:data:`workers.replies.MARKS`)
    when the worker stops, after its last message."""

    def after_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        replies = sys.modules.get("workers.replies")
        if replies is not None:
            replies.flush_marks()


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
    and takes the package (``held_by``, its message id), committed before the work
    starts; a finished delivery, failed or not, releases it and sets the count back to
    0, and so does the stage's move to ``checked`` or a final state
    (:func:`storage.packages.transition`), since the next stage may start before this
    delivery returns. So ``attempts`` is the number of deliveries in a row that died.
    At the delivery after ``OMSX_QUARANTINE_AFTER`` of them, the package is quarantined
    instead of processed: state ``quarantined``, a dead letter with reason ``crash``
    (replayable from the admin or ``omsx dlq`` after a fix), and the message is
    acknowledged.

    A delivery is known dead only when its beat stopped (:mod:`workers.heartbeat`): a
    delivery that arrives while the one holding the package still beats (a duplicate
    message, a re-drive) is skipped and not counted; the live one finishes the work,
    and if it dies after all, the sweeper re-drives the package.

    If the database is down when a delivery finishes, the release waits in this process
    and is written before its next delivery starts (only if the package is still held
    by that delivery), instead of failing at every message.
    """

    QUEUES = frozenset({"validate", "apply"})
    TAKEN = "_omsx_held"

    def __init__(self) -> None:
        self._beater: Beater | None = None
        self._unreleased: dict[int, str] = {}  # package → the finished delivery's id
        self._lock = threading.Lock()

    @property
    def beater(self) -> Beater:
        if self._beater is None:
            self._beater = Beater(get_settings().stage_deadline_s)
        return self._beater

    def _package(self, message: MessageProxy) -> int | None:
        first = message.args[0] if message.args else None
        if message.queue_name not in self.QUEUES or not isinstance(first, int):
            return None
        return first

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        from dramatiq.middleware import SkipMessage

        package_id = self._package(message)
        if package_id is None:
            return
        RELEASES.ids.clear()
        try:
            counted, died = self._count(message, package_id)
        except TransientError as exc:  # the actor meets the outage too, and retries
            log.warning("delivery.uncounted", package_id=package_id, error=type(exc).__name__)
            return
        if counted == 0:
            return  # an unknown package: the actor answers it itself
        if counted is None:
            log.info("delivery.concurrent", package_id=package_id,
                     note="another delivery of this package is alive")  # fmt: skip
            raise SkipMessage("another delivery is running")
        if died:
            log.error("package.quarantined", package_id=package_id, deliveries=died)
            raise SkipMessage("quarantined")
        message.options[self.TAKEN] = message.message_id
        self.beater.hold(package_id)

    def _count(self, message: MessageProxy, package_id: int) -> tuple[int | None, int]:
        """Count this delivery unless another one is alive: (the count, or None when one
        is, or 0 for an unknown package; the deliveries that died if it is quarantined).
        """
        settings = get_settings()
        now = utcnow()
        with session_scope() as session:  # committed before SkipMessage is raised
            self._write_releases(session)
            # another message's delivery; this message's own hold is a retry's (its
            # release was deferred) or a dead worker's (its beat stopped 60 s ago)
            counted = session.execute(
                _COUNT,
                {
                    "package_id": package_id,
                    "message_id": message.message_id,
                    "alive_since": now - alive_window(settings.stage_deadline_s),
                    "now": now,
                },
            ).scalar_one_or_none()
            if counted is None and session.get(Package, package_id) is None:
                return 0, 0
            if counted is not None and counted - 1 >= settings.quarantine_after:
                self._quarantine(session, message, package_id, counted - 1)
                return counted, counted - 1
        return counted, 0

    def _quarantine(self, session: Session, message: MessageProxy, package_id: int,
                    died: int) -> None:  # fmt: skip
        from storage.deadletters import CRASH
        from storage.models import State
        from storage.packages import transition
        from workers.deadletters import WORKING, record

        moved = transition(session, package_id, source=WORKING, target=State.QUARANTINED,
                           stage=message.actor_name, outcome="quarantined",
                           detail=f"{died} deliveries in a row ended without finishing "
                           "(worker killed or out of memory)",
                           error_class=CRASH, held_by=None, beat_at=None)  # fmt: skip
        if moved:
            record(session, key=str(message.options.get("redis_message_id")
                                    or message.message_id),
                   queue=message.queue_name, actor=message.actor_name, args=message.args,
                   reason=CRASH, error_class="WorkerCrash",
                   error=f"{died} deliveries crashed the worker",
                   retries=int(message.options.get("retries", 0)),
                   message=message.encode())  # fmt: skip

    def _write_releases(self, session: Session) -> None:
        with self._lock:
            pending, self._unreleased = self._unreleased, {}
        for package_id, held_by in pending.items():
            self._release(session, package_id, held_by)

    @staticmethod
    def _release(session: Session, package_id: int, held_by: str) -> None:
        # mostly the stage's last transition released it already: a read, not a write
        # (on SQLite even an UPDATE that matches nothing waits for the write lock)
        holder = session.execute(_HOLDER, {"package_id": package_id}).scalar_one_or_none()
        if holder != held_by:
            return
        session.execute(_RELEASE, {"package_id": package_id, "holder": held_by})

    def _finished(self, message: MessageProxy, *, failed: bool) -> None:
        package_id = self._package(message)
        held_by = message.options.pop(self.TAKEN, None)
        if package_id is None or held_by is None:
            return  # not a delivery this guard counted
        self.beater.release(package_id)
        if not failed and package_id in RELEASES.ids:
            # the stage's last transition released it, and committed (the actor
            # returned): it is free, or another delivery's since — nothing to write
            RELEASES.ids.discard(package_id)
            return
        try:
            with session_scope() as session:
                self._release(session, package_id, held_by)
        except TransientError as exc:
            with self._lock:
                self._unreleased[package_id] = held_by
            log.warning("delivery.release_deferred", package_id=package_id,
                        error=type(exc).__name__)  # fmt: skip

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._finished(message, failed=exception is not None)

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        return  # a skipped delivery was not counted, or the package is quarantined
