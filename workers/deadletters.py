"""Dead letters: messages Dramatiq gave up on after their retries, kept in Redis by its
broker (``dramatiq:<queue>.XQ`` — ids by the time they died — and ``….XQ.msgs`` — the
encoded messages) for ``dead_message_ttl``.

Operators list them, with the error class that
:class:`workers.middleware.DeadLetterReason` kept from the traceback. They replay them
(one, or every one matching a filter, after a dry-run count) and purge them. A replay
enqueues the message again with its retries reset, then removes it from the dead
letters. A message that cannot be decoded is listed as ``undecodable`` (it can be
purged, not replayed), never dropped silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dramatiq
import redis
from dramatiq import Message
from dramatiq.errors import DecodeError

from workers.broker import QUEUES

NAMESPACE = "dramatiq"
UNDECODABLE = "undecodable"


@dataclass(frozen=True)
class DeadFilter:
    queue: str | None = None
    actor: str | None = None
    error_class: str | None = None
    package_id: int | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (self.queue is None or letter.queue == self.queue)
            and (self.actor is None or letter.actor == self.actor)
            and (self.error_class is None or letter.error_class == self.error_class)
            and (self.package_id is None or letter.package_id == self.package_id)
        )


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    actor: str
    args: tuple[Any, ...]
    died_at: datetime
    retries: int
    error_class: str  # the exception's class, from the last line of the traceback
    error: str  # that last line (exception messages carry no personal data, by policy)
    raw: bytes

    @property
    def package_id(self) -> int | None:
        first = self.args[0] if self.args else None
        return first if isinstance(first, int) else None

    def as_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "message_id": self.message_id, "actor": self.actor,
                "args": list(self.args), "package_id": self.package_id,
                "died_at": self.died_at.isoformat(timespec="seconds"), "retries": self.retries,
                "error_class": self.error_class, "error": self.error}  # fmt: skip


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


def dead_letters(client: redis.Redis, where: DeadFilter = DeadFilter()) -> list[DeadLetter]:
    """Every dead letter matching ``where``, oldest first."""
    out: list[DeadLetter] = []
    for queue in QUEUES if where.queue is None else (where.queue,):
        xq, msgs, reasons = _keys(queue)
        ids: list[tuple[bytes, float]] = client.zrange(xq, 0, -1, withscores=True)  # type: ignore[assignment]
        _prune(client, reasons, {mid for mid, _ in ids})
        if not ids:
            continue
        keys = [mid for mid, _ in ids]
        bodies: list[bytes | None] = client.hmget(msgs, keys)  # type: ignore[assignment]
        why: list[bytes | None] = client.hmget(reasons, keys)  # type: ignore[assignment]
        for (mid, score), raw, reason in zip(ids, bodies, why, strict=True):
            message_id = mid.decode()
            if raw is None:  # expired between the two reads
                continue
            died = datetime.fromtimestamp(score / 1000, UTC)
            try:
                message = Message.decode(raw)
            except DecodeError:
                letter = DeadLetter(queue, message_id, "?", (), died, 0, UNDECODABLE,
                                    "the stored message cannot be decoded", raw)  # fmt: skip
            else:
                error_class, error = _error_of(reason)
                letter = DeadLetter(queue, message_id, message.actor_name, tuple(message.args),
                                    died, int(message.options.get("retries", 0)), error_class,
                                    error, raw)  # fmt: skip
            if where.matches(letter):
                out.append(letter)
    return out


def replay(client: redis.Redis, broker: dramatiq.Broker, letters: Iterable[DeadLetter]) -> int:
    """Enqueue each letter again (retries reset), then drop it from the dead letters."""
    done = 0
    for letter in letters:
        if letter.error_class == UNDECODABLE:
            continue  # nothing to enqueue: purge it
        message = Message.decode(letter.raw)
        broker.declare_queue(message.queue_name)  # a no-op where it is known already
        options = {k: v for k, v in message.options.items()
                   if k not in {"retries", "traceback", "redis_message_id"}}  # fmt: skip
        broker.enqueue(dataclasses.replace(message, options=options))
        _remove(client, letter)
        done += 1
    return done


def purge(client: redis.Redis, letters: Iterable[DeadLetter]) -> int:
    done = 0
    for letter in letters:
        done += _remove(client, letter)
    return done


def _remove(client: redis.Redis, letter: DeadLetter) -> int:
    xq, msgs, reasons = _keys(letter.queue)
    with client.pipeline(transaction=True) as pipe:
        pipe.zrem(xq, letter.message_id)
        pipe.hdel(msgs, letter.message_id)
        pipe.hdel(reasons, letter.message_id)
        removed, _, _ = pipe.execute()
    return int(removed)


def _prune(client: redis.Redis, reasons: str, alive: set[bytes]) -> None:
    """Drop the reasons of letters the broker has expired meanwhile."""
    kept: list[bytes] = client.hkeys(reasons)  # type: ignore[assignment]
    gone = [key for key in kept if key not in alive]
    if gone:
        client.hdel(reasons, *gone)
