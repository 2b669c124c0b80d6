"""Dead letters and quarantine (design.md ◆; issue "faults" → dead letters, quarantine).

A message Dramatiq gave up on is recorded in SQL (``deadletter``) with its reason
class by :class:`workers.middleware.DeadLetterReason` as it dies. Dramatiq's own copy in
Redis (``dramatiq:<queue>.XQ`` + ``….XQ.msgs``, kept 7 days) is mirrored by
:func:`mirror_redis` too, so a letter whose SQL write failed is still recorded. A
package whose deliveries keep killing workers is quarantined by
:class:`workers.middleware.CrashGuard` and recorded here with reason ``crash``.

A dead package message leaves its package ``failed`` (the sweeper does not re-drive
it; the daily balance counts it in flight). Operators list the letters, replay them
(one, or all matching a filter after a dry-run count) and purge them — the admin's
buttons and ``omsx dlq`` call :func:`act`. A replay puts a failed or quarantined
package back where its stage starts and enqueues the message again with its retries
reset; each letter moves ``dead`` → ``replayed``/``purged`` by a guarded UPDATE in its
own transaction, so a replay clicked twice runs once. Every action is audited.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dramatiq
import redis
from dramatiq import Message
from dramatiq.errors import ActorNotFound, DecodeError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from omsx.errors import ContractError, OmsxError, TransientError
from omsx.logs import get_logger
from storage.db import session_scope
from storage.deadletters import (
    AGE_LIMIT,
    BUSINESS,
    CRASH,
    DEAD,
    PURGED,
    REPLAYED,
    SCHEMA,
    TRANSIENT,
    UNEXPECTED,
    UNKNOWN_ACTOR,
    DeadLetterRecord,
)
from storage.models import WORKING_STATES, State, utcnow
from storage.packages import transition
from storage.users import audit
from workers.broker import QUEUES

log = get_logger("workers.deadletters")

NAMESPACE = "dramatiq"
UNDECODABLE = "undecodable"
# where a failed or quarantined package starts again, by the actor that failed
RESUME = {"validate": State.RECEIVED, "apply": State.CHECKED}
WORKING = WORKING_STATES
TRANSIENT_NAMES = frozenset({"ConnectionError", "TimeoutError", "OperationalError",
                             "TimeLimitExceeded", "BrokerConnectionError",
                             "NoServersError", "StorageUnavailable", "BrokerUnavailable",
                             "TransportUnavailable", "Busy"})  # fmt: skip


def classify(exc: BaseException | None) -> str:
    """The reason class of a death: what the exception (or its absence) says."""
    if exc is None:
        return AGE_LIMIT  # failed without an exception: AgeLimit's way
    transient = (TransientError, redis.RedisError, SQLAlchemyError, OSError)
    for kind, reason in ((ActorNotFound, UNKNOWN_ACTOR), (ContractError, SCHEMA),
                         (transient, TRANSIENT), (OmsxError, BUSINESS)):  # fmt: skip
        if isinstance(exc, kind):
            return reason
    return TRANSIENT if type(exc).__name__ in TRANSIENT_NAMES else UNEXPECTED


def _classify_name(error_class: str) -> str:
    """The reason class from a class name only (a letter mirrored from Redis)."""
    if error_class in TRANSIENT_NAMES:
        return TRANSIENT
    if error_class.endswith(("ContractError", "Rejected", "FileNameError")):
        return SCHEMA
    return UNEXPECTED


def _package_of(args: Any) -> int | None:
    first = args[0] if args else None
    return first if isinstance(first, int) and not isinstance(first, bool) else None


def record(
    session: Session,
    *,
    key: str,
    queue: str,
    actor: str,
    args: Any,
    reason: str,
    error_class: str,
    error: str,
    retries: int,
    message: bytes | None,
    died_at: datetime | None = None,
) -> bool:
    """Keep one dead letter (once per broker delivery id); a package message leaves its
    package failed. True when the letter is new."""
    package_id = _package_of(args)
    row = DeadLetterRecord(key=key[:64], queue=queue[:32], actor=actor[:64],
                           args=json.dumps(list(args or []))[:10_000], package_id=package_id,
                           reason=reason, error_class=error_class[:64], error=error[:300],
                           retries=retries, message=message,
                           died_at=died_at or utcnow())  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False  # recorded already (by the middleware, or an earlier mirror)
    if package_id is not None and actor in RESUME and reason != CRASH:
        transition(session, package_id, source=WORKING, target=State.FAILED, stage=actor,
                   outcome="failed", detail=f"dead letter: {reason} {error_class}"[:500],
                   error_class=error_class[:32] or reason)  # fmt: skip
    return True


# ---------------------------------------------------------------- Redis's copy


def _keys(queue: str) -> tuple[str, str, str]:
    xq = f"{NAMESPACE}:{queue}.XQ"
    return xq, f"{xq}.msgs", f"{xq}.reasons"  # the last: workers.middleware.DeadLetterReason


def _error_of(reason: bytes | None) -> tuple[str, str]:
    """``("Flaky", "tests.Flaky: the first run fails")`` from the kept traceback line."""
    if not reason:
        return "unknown", ""
    last = reason.decode(errors="replace").strip()
    name = last.split(":", 1)[0].rsplit(".", 1)[-1]
    return name[:64], last[:300]


def mirror_redis(session: Session, client: redis.Redis) -> int:
    """Record every letter of Dramatiq's Redis dead-letter sets that SQL lacks (its SQL
    write failed, or it died in a process without the middleware). Returns how many."""
    added = 0
    for queue in QUEUES:
        xq, msgs, reasons = _keys(queue)
        ids: list[tuple[bytes, float]] = client.zrange(xq, 0, -1, withscores=True)  # type: ignore[assignment]
        if not ids:
            continue
        keys = [mid.decode() for mid, _ in ids]
        known = set(session.exec(select(DeadLetterRecord.key)
                                 .where(col(DeadLetterRecord.key).in_(keys))).all())  # fmt: skip
        for (mid, score), key in zip(ids, keys, strict=True):
            if key in known:
                continue
            raw: bytes | None = client.hget(msgs, mid)  # type: ignore[assignment]
            if raw is None:  # expired meanwhile
                continue
            died = datetime.fromtimestamp(score / 1000, UTC)
            why: bytes | None = client.hget(reasons, mid)  # type: ignore[assignment]
            error_class, error = _error_of(why)
            try:
                message = Message.decode(raw)
            except DecodeError:
                added += record(session, key=key, queue=queue, actor="?", args=[],
                                reason=UNEXPECTED, error_class=UNDECODABLE,
                                error="the stored message cannot be decoded", retries=0,
                                message=raw, died_at=died)  # fmt: skip
                continue
            added += record(session, key=key, queue=queue, actor=message.actor_name,
                            args=message.args, reason=_classify_name(error_class),
                            error_class=error_class, error=error,
                            retries=int(message.options.get("retries", 0)), message=raw,
                            died_at=died)  # fmt: skip
    return added


def _drop_from_redis(client: redis.Redis, queue: str, key: str) -> None:
    xq, msgs, reasons = _keys(queue)
    with client.pipeline(transaction=True) as pipe:
        pipe.zrem(xq, key)
        pipe.hdel(msgs, key)
        pipe.hdel(reasons, key)
        pipe.execute()


# ---------------------------------------------------------------- listing and acting


@dataclass(frozen=True)
class DeadFilter:
    queue: str | None = None
    actor: str | None = None
    reason: str | None = None
    error_class: str | None = None
    package_id: int | None = None
    key: str | None = None  # one letter

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in dataclasses.asdict(self).items() if v is not None]
        return " ".join(parts) or "all"


@dataclass(frozen=True)
class DeadLetter:
    id: int
    key: str
    queue: str
    actor: str
    args: list[Any]
    package_id: int | None
    reason: str
    error_class: str
    error: str
    retries: int
    died_at: datetime

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["died_at"] = self.died_at.isoformat(timespec="seconds")
        out["message_id"] = self.key  # the admin's forms name a letter by it
        return out


def _query(where: DeadFilter) -> Any:
    query = select(DeadLetterRecord).where(col(DeadLetterRecord.state) == DEAD)
    for name in ("queue", "actor", "reason", "error_class", "package_id", "key"):
        value = getattr(where, name)
        if value is not None:
            query = query.where(getattr(DeadLetterRecord, name) == value)
    return query.order_by(col(DeadLetterRecord.id))


def _letter(row: DeadLetterRecord) -> DeadLetter:
    assert row.id is not None
    died = row.died_at if row.died_at.tzinfo else row.died_at.replace(tzinfo=UTC)
    return DeadLetter(row.id, row.key, row.queue, row.actor, json.loads(row.args),
                      row.package_id, row.reason, row.error_class, row.error, row.retries,
                      died)  # fmt: skip


def dead_letters(session: Session, where: DeadFilter = DeadFilter()) -> list[DeadLetter]:
    """The letters still dead that match ``where``, oldest first."""
    return [_letter(row) for row in session.exec(_query(where)).all()]


def _ids(where: DeadFilter) -> list[int]:
    with session_scope() as session:
        return [row.id for row in session.exec(_query(where)).all() if row.id is not None]


def _take(session: Session, letter_id: int, state: str, who: str) -> DeadLetterRecord | None:
    """Move one letter out of ``dead``; None when someone else did first."""
    moved = session.execute(
        update(DeadLetterRecord)
        .where(col(DeadLetterRecord.id) == letter_id, col(DeadLetterRecord.state) == DEAD)
        .values(state=state, acted_by=who[:64], acted_at=utcnow())
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(DeadLetterRecord, letter_id)


def _resume(session: Session, row: DeadLetterRecord, who: str) -> None:
    """A failed or quarantined package goes back to the start of its stage."""
    if row.package_id is None or row.actor not in RESUME:
        return
    transition(session, row.package_id, source=(State.FAILED, State.QUARANTINED),
               target=RESUME[row.actor], stage="replay", outcome="replayed",
               detail=f"dead letter {row.id} replayed by {who}"[:500], attempts=0, held_by=None,
               error_class=None)  # fmt: skip


def _replay_one(letter_id: int, who: str, client: redis.Redis, broker: dramatiq.Broker) -> bool:
    with session_scope() as session:
        row = _take(session, letter_id, REPLAYED, who)
        if row is None:
            return False
        if row.message is None:
            raise OmsxError(f"dead letter {letter_id} has no stored message to replay")
        try:
            message = Message.decode(row.message)
        except DecodeError as exc:
            raise OmsxError(f"dead letter {letter_id} cannot be decoded: purge it") from exc
        _resume(session, row, who)
        broker.declare_queue(message.queue_name)  # a no-op where it is known already
        options = {k: v for k, v in message.options.items()
                   if k not in {"retries", "traceback", "redis_message_id"}}  # fmt: skip
        broker.enqueue(dataclasses.replace(message, options=options))
        queue, key = row.queue, row.key
    _drop_from_redis(client, queue, key)
    return True


def _purge_one(letter_id: int, who: str, client: redis.Redis) -> bool:
    with session_scope() as session:
        row = _take(session, letter_id, PURGED, who)
        if row is None:
            return False
        queue, key = row.queue, row.key
    _drop_from_redis(client, queue, key)
    return True


@dataclass(frozen=True)
class Outcome:
    action: str
    dry_run: bool
    matched: int
    done: int
    filter: str
    skipped: list[str] = dataclasses.field(default_factory=list)  # why some were not done

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def act(
    action: str,
    where: DeadFilter,
    *,
    who: str,
    confirm: bool,
    client: redis.Redis,
    broker: dramatiq.Broker,
) -> Outcome:
    """Replay or purge the letters matching ``where`` (without ``confirm``: count
    them); one audit line for the whole action. The admin and ``omsx dlq`` share it."""
    if action not in ("replay", "purge"):
        raise ValueError(f"unknown action {action!r}")
    with session_scope() as session:
        mirror_redis(session, client)
    ids = list(_ids(where))
    if not confirm:
        return Outcome(action, True, len(ids), 0, where.describe())
    done, skipped = 0, []
    for letter_id in ids:
        try:
            ok = (_replay_one(letter_id, who, client, broker) if action == "replay"
                  else _purge_one(letter_id, who, client))  # fmt: skip
        except OmsxError as exc:
            skipped.append(str(exc))
            continue
        done += ok
    with session_scope() as session:
        audit(session, who, action, target=where.describe(), count=done,
              detail="; ".join(skipped))  # fmt: skip
    log.info("deadletters.acted", action=action, matched=len(ids), done=done, who=who)
    return Outcome(action, False, len(ids), done, where.describe(), skipped)


def listing(where: DeadFilter, client: redis.Redis) -> list[DeadLetter]:
    """The dead letters matching ``where``, after mirroring Redis's copy into SQL."""
    with session_scope() as session:
        mirror_redis(session, client)
    with session_scope() as session:
        return dead_letters(session, where)
