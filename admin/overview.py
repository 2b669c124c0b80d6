"""What the overview shows, shared by the admin page, its API, ``/metrics`` and ``omsx status``.

:func:`overview` gathers, each part on its own so that one dependency down leaves the
others shown (its failure is a line in ``errors``):

``queues``
    Per Dramatiq queue (:data:`workers.broker.QUEUES`), read from the Redis broker's keys
    (``dramatiq/brokers/redis/dispatch.lua``):

    - ``ready``: waiting in the queue (``LLEN dramatiq:<q>``);
    - ``delayed``: retries and delayed sends not yet due — still in the delay queue
      (``LLEN dramatiq:<q>.DQ``) or already held by a worker until their time
      (``SCARD dramatiq:__acks__.<worker>.<q>.DQ``: a worker fetches delayed messages
      ahead and keeps them in memory);
    - ``dead``: dead-lettered (``ZCARD dramatiq:<q>.XQ``);
    - ``in_progress``: fetched by a worker and not yet acknowledged — running, or
      prefetched and waiting for a free thread (``SCARD dramatiq:__acks__.<worker>.<q>``
      summed over workers; the sets of a worker that died without a heartbeat count until
      the broker's maintenance puts its messages back, after a minute).
``jetstream``
    Per stream (``OMS_IN``, ``OMS_OUT``): ``messages``, ``bytes``, ``first_seq``,
    ``last_seq``, and per consumer (the ingest's durable on OMS_IN, the participants'
    on OMS_OUT): ``num_pending`` (in the stream, not yet delivered to it),
    ``num_ack_pending`` (delivered, not yet acknowledged), ``num_redelivered`` (of those,
    delivered more than once), ``num_waiting`` (pull requests waiting). A stream not
    provisioned yet is ``{"error": "stream not found"}``.
``packages``
    Packages per state, all time.
``hours``
    The last :data:`HOURS` UTC clock hours, oldest first, the current one partial: per
    hour the packages *received* in it and the state each is in now.
``throughput``
    The packages *finished* in the last 60 minutes, by the time of their last transition
    (``updated_at``). Finished: a final state (applied, rejected, duplicate, quarantined)
    or failed. ``per_minute`` is their number / 60; ``minutes`` counts them per minute,
    oldest first. ``results`` counts them by protocol RESULT (A accepted, P partly,
    R refused; ``-`` none). ``error_rate`` = (refused + failed) / finished, ``None``
    when none finished, where *refused* is RESULT R (FLK errors, transport problems,
    805 duplicates: the whole package is refused to its sender) and *failed* is state
    failed or quarantined (the hub could not process it). A partial acceptance (P) is
    not an error.
``outbox_pending``
    Messages the hub owes participants (protocols, forwards, extracts) that NATS has not
    acknowledged yet.
``daily``
    The latest daily report and failed conservation checks (:func:`storage.daily.daily_status`).

Cost on a large ``package`` table: ``packages`` is a GROUP BY state (the
``ix_package_state_updated`` index covers it); ``hours`` and ``throughput`` read only
the rows touched in their window through the same index (``state IN (…) AND
updated_at >= since``; a package received in the window was updated in it too).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import redis
from nats.aio.client import Client
from nats.js.errors import NotFoundError
from sqlalchemy import ColumnElement, case, func
from sqlmodel import Session, col, select

from messages.connect import connect
from messages.streams import IN_STREAM, OUT_STREAM
from omsx.errors import StorageUnavailable
from omsx.settings import Settings
from storage.daily import daily_status
from storage.db import session_scope
from storage.models import FINAL_STATES, Outbox, Package, State, utcnow
from storage.packages import count_by_state
from workers.broker import QUEUES

HOURS = 24
MINUTES = 60
STREAMS = (IN_STREAM, OUT_STREAM)
#: a package in one of these states is done with, for the throughput
FINISHED = tuple(sorted({*FINAL_STATES, State.FAILED}))
FAILED = frozenset({State.FAILED.value, State.QUARANTINED.value})
NATS_TIMEOUT_S = 3.0
ACKS = "dramatiq:__acks__."
MAX_CONSUMERS = 1024  # listed per stream; the API pages by 256


def queue_counts(settings: Settings) -> dict[str, dict[str, int]]:
    """Per Dramatiq queue: ready, delayed, dead-lettered and in-progress message counts."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        held: dict[str, int] = defaultdict(int)  # "<q>" or "<q>.DQ" -> un-acked messages
        sets = [key.decode() for key in client.scan_iter(match=f"{ACKS}*", count=1000)]
        pipe = client.pipeline(transaction=False)
        for key in sets:
            pipe.scard(key)
        for key, n in zip(sets, pipe.execute(), strict=True):
            # dramatiq:__acks__.<worker id (a UUID, no dots)>.<queue name>
            _worker, _, queue = key.removeprefix(ACKS).partition(".")
            held[queue] += int(n)
        pipe = client.pipeline(transaction=False)
        for q in QUEUES:
            pipe.llen(f"dramatiq:{q}")
            pipe.llen(f"dramatiq:{q}.DQ")
            pipe.zcard(f"dramatiq:{q}.XQ")
        counts = pipe.execute()
        out: dict[str, dict[str, int]] = {}
        for i, q in enumerate(QUEUES):
            ready, delayed, dead = (int(n) for n in counts[3 * i : 3 * i + 3])
            out[q] = {
                "ready": ready,
                "delayed": delayed + held[f"{q}.DQ"],
                "dead": dead,
                "in_progress": held[q],
            }
        return out
    finally:
        client.close()


async def _stream_state(nc: Client, name: str) -> dict[str, Any]:
    jsm = nc.jsm()
    try:
        info = await jsm.stream_info(name)
    except NotFoundError:
        return {"error": "stream not found"}
    consumers: dict[str, dict[str, int]] = {}
    offset = 0
    while offset < MAX_CONSUMERS:
        page = await jsm.consumers_info(name, offset=offset or None)
        offset += len(page)
        for c in page:
            consumers[c.name] = {
                "num_pending": c.num_pending or 0,
                "num_ack_pending": c.num_ack_pending or 0,
                "num_redelivered": c.num_redelivered or 0,
                "num_waiting": c.num_waiting or 0,
            }
        if not page or len(page) < 256:
            break
    state = info.state
    return {
        "messages": state.messages,
        "bytes": state.bytes,
        "first_seq": state.first_seq,
        "last_seq": state.last_seq,
        "consumers": dict(sorted(consumers.items())),
    }


async def _jetstream(settings: Settings) -> dict[str, dict[str, Any]]:
    nc = await connect(settings, name="omsx-admin", wait_s=NATS_TIMEOUT_S, allow_reconnect=False)
    try:
        return {name: await _stream_state(nc, name) for name in STREAMS}
    finally:
        await nc.close()


def jetstream_state(settings: Settings, timeout: float = NATS_TIMEOUT_S) -> dict[str, Any]:
    """The state of OMS_IN and OMS_OUT over a short-lived connection (see the module doc).

    Runs its own event loop: call it from a thread without one (a sync handler, the CLI).
    Raises on a NATS that does not answer within ``timeout``.
    """

    async def bounded() -> dict[str, Any]:
        return await asyncio.wait_for(_jetstream(settings), timeout)

    return asyncio.run(bounded())


def _bucket(column: Any, starts: list[datetime]) -> ColumnElement[int]:
    """The index of the last start ``column`` is at or after (0 below the first)."""
    whens = [(column >= start, i) for i, start in reversed(list(enumerate(starts)))]
    return case(*whens, else_=0)


def hourly_states(
    session: Session, now: datetime | None = None, hours: int = HOURS
) -> list[dict[str, Any]]:
    """The packages received per UTC hour of the last ``hours`` and their states now."""
    now = now or utcnow()
    current = now.replace(minute=0, second=0, microsecond=0)
    starts = [current - timedelta(hours=hours - 1 - i) for i in range(hours)]
    since = starts[0]
    inner = (
        select(
            col(Package.state).label("state"), _bucket(col(Package.received_at), starts).label("b")
        )
        .where(col(Package.state).in_([s.value for s in State]))  # the (state, updated_at) index
        .where(col(Package.updated_at) >= since)
        .where(col(Package.received_at) >= since)
        .subquery()
    )
    rows = session.execute(
        select(inner.c.state, inner.c.b, func.count()).group_by(inner.c.state, inner.c.b)
    ).all()
    order = {s.value: i for i, s in enumerate(State)}
    states: list[dict[str, int]] = [{} for _ in starts]
    for state, b, n in sorted(rows, key=lambda row: order.get(row[0], len(order))):
        states[int(b)][state] = int(n)
    return [
        {"hour": start.isoformat(), "received": sum(counts.values()), "states": counts}
        for start, counts in zip(starts, states, strict=True)
    ]


def throughput(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Packages finished in the last 60 minutes and their error rate (see the module doc)."""
    now = now or utcnow()
    starts = [now - timedelta(minutes=MINUTES - i) for i in range(MINUTES)]
    inner = (
        select(
            col(Package.state).label("state"),
            col(Package.result).label("result"),
            _bucket(col(Package.updated_at), starts).label("b"),
        )
        .where(col(Package.state).in_([s.value for s in FINISHED]))
        .where(col(Package.updated_at) >= starts[0])
        .subquery()
    )
    rows = session.execute(
        select(inner.c.state, inner.c.result, inner.c.b, func.count()).group_by(
            inner.c.state, inner.c.result, inner.c.b
        )
    ).all()
    minutes = [0] * MINUTES
    states: dict[str, int] = defaultdict(int)
    results: dict[str, int] = defaultdict(int)
    failed = refused = 0
    for state, result, b, n in rows:
        minutes[int(b)] += n
        states[state] += n
        results[result or "-"] += n
        if state in FAILED:
            failed += n
        elif result == "R":
            refused += n
    finished = sum(minutes)
    return {
        "window_min": MINUTES,
        "finished": finished,
        "per_minute": round(finished / MINUTES, 2),
        "minutes": minutes,
        "states": dict(sorted(states.items())),
        "results": dict(sorted(results.items())),
        "refused": refused,
        "failed": failed,
        "error_rate": round((refused + failed) / finished, 4) if finished else None,
    }


def outbox_pending(session: Session) -> int:
    """Outbox messages not yet acknowledged by NATS (the ``ix_outbox_pending`` index)."""
    stmt = select(func.count()).select_from(Outbox).where(col(Outbox.published_at).is_(None))
    return int(session.exec(stmt).one())


def overview(settings: Settings) -> dict[str, Any]:
    """Everything the overview shows (see the module doc); never raises for a server down."""
    data: dict[str, Any] = {
        "queues": {},
        "jetstream": {},
        "packages": {},
        "hours": [],
        "throughput": None,
        "outbox_pending": None,
        "daily": {"latest": None, "unbalanced": []},
        "errors": [],
    }
    try:
        data["queues"] = queue_counts(settings)
    except redis.RedisError as exc:
        data["errors"].append(f"redis: {type(exc).__name__}")
    try:
        data["jetstream"] = jetstream_state(settings)
    except Exception as exc:  # noqa: BLE001 - any NATS failure is shown, not raised
        data["errors"].append(f"nats: {type(exc).__name__}")
    try:
        with session_scope() as session:
            data["packages"] = count_by_state(session)
            data["hours"] = hourly_states(session)
            data["throughput"] = throughput(session)
            data["outbox_pending"] = outbox_pending(session)
            data["daily"] = daily_status(session)
    except StorageUnavailable as exc:  # the database is down
        data["errors"].append(f"database: {type(exc).__name__}")
    return data
