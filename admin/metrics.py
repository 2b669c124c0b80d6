"""``/metrics`` (Prometheus) and the dependency checks of ``/health``.

``/metrics`` is read at scrape time by :class:`HubCollector` from the database, Redis
and NATS (nothing is counted in this process, so any number of admin instances give
the same figures). Open like ``/health`` unless ``OMSX_METRICS_TOKEN`` is set; then it
needs ``Authorization: Bearer <token>`` (else 401). Every series is a gauge:

- ``omsx_up{dependency}``: 1 when database / redis / nats answered this scrape, else 0
  (and that dependency's series are absent);
- ``omsx_packages{kind,state}``: packages per kind and state, all time;
- ``omsx_package_results{kind,result}``: packages per kind and protocol RESULT
  (A accepted, P partly, R refused, ``none``: no protocol yet), all time;
- ``omsx_packages_finished_last_hour{state,result}``: packages finished in the last 60
  minutes (final state or failed, by ``updated_at``; see :mod:`admin.overview`);
- ``omsx_package_error_ratio_last_hour``: (refused + failed) / finished of those —
  refused is RESULT R, failed is state failed or quarantined; absent when none finished;
- ``omsx_protocol_codes_last_hour{code}``: of those, the packages whose protocol carries
  the OSHIB code (805 duplicate, FLK codes …; a package counts once per code), read from
  the timeline row of the concluding transition, which lists the protocol's codes;
- ``omsx_queue_messages{queue,state}``: Dramatiq messages per queue in state ready,
  delayed, dead, in_progress (definitions in :mod:`admin.overview`);
- ``omsx_outbox_pending``: messages owed to participants, not yet acknowledged by NATS;
- ``omsx_jetstream_stream_messages{stream}``, ``_bytes``, ``_first_seq``, ``_last_seq``:
  OMS_IN and OMS_OUT;
- ``omsx_jetstream_consumer_pending{stream,consumer}``: not yet delivered to the
  consumer; ``_ack_pending``: delivered, not acknowledged; ``_redelivered``: of those,
  delivered more than once; ``_waiting``: pull requests waiting;
- ``omsx_daily_unbalanced``: failed conservation checks (participant-days) of the last 7
  daily reports; ``omsx_daily_latest_built_timestamp_seconds``: when the latest daily
  report was built (absent before the first).

The record-level protocol lines of the stateful rules (``recordproblem``) are not
exported: they grow with every register and a GROUP BY over them is no scrape-time
query.

Dramatiq's own ``dramatiq.middleware.prometheus.Prometheus`` (per-actor message, error,
retry and dead-letter counters, in-progress gauges and durations) is not enabled: it
serves its own HTTP endpoint from a fork of each ``dramatiq`` command (port
``dramatiq_prom_port``, default 9191 on ``dramatiq_prom_host`` 0.0.0.0), aggregating
that command's worker processes through ``prometheus_client``'s multiprocess files in
``dramatiq_prom_db``. To have it, add ``Prometheus()`` in ``workers.broker.build_broker``
and give each ``omsx worker`` on a host its own port and database directory; Prometheus
then scrapes every worker host's port besides this ``/metrics``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import redis
from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func
from sqlmodel import Session, col, select

from admin.overview import (
    FAILED,
    FINISHED,
    MINUTES,
    jetstream_state,
    outbox_pending,
    queue_counts,
)
from messages.connect import connect
from omsx.errors import StorageUnavailable
from omsx.logs import get_logger
from omsx.settings import Settings, get_settings
from storage.daily import daily_status
from storage.db import session_scope
from storage.models import Package, PackageEvent, utcnow

CHECK_TIMEOUT_S = 2.0
log = get_logger("admin.metrics")


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _protocol_codes(session: Session, since: datetime) -> dict[str, int]:
    """OSHIB codes of the protocols of packages finished since ``since``."""
    stmt = (
        select(PackageEvent.detail)
        .join(Package, col(Package.id) == col(PackageEvent.package_id))
        .where(col(Package.state).in_([s.value for s in FINISHED]))
        .where(col(Package.updated_at) >= since)  # the (state, updated_at) index
        .where(col(PackageEvent.at) >= since)
        .where(col(PackageEvent.outcome).contains(":"))  # conclude(): "<state>:<RESULT>"
        .where(col(PackageEvent.detail) != "")
    )
    codes: dict[str, int] = defaultdict(int)
    for detail in session.exec(stmt):
        for code in {c.strip() for c in detail.split(",") if c.strip()}:
            codes[code] += 1
    return dict(codes)


def _database(session: Session) -> Iterator[Metric]:
    packages = _gauge("omsx_packages", "Packages per kind and state", ["kind", "state"])
    results = _gauge(
        "omsx_package_results", "Packages per kind and protocol RESULT", ["kind", "result"]
    )
    by_result: dict[tuple[str, str], int] = defaultdict(int)
    stmt = select(Package.kind, Package.state, Package.result, func.count()).group_by(
        col(Package.kind), col(Package.state), col(Package.result)
    )
    by_state: dict[tuple[str, str], int] = defaultdict(int)
    for kind, state, result, n in session.exec(stmt):
        by_state[kind, state] += n
        by_result[kind, result or "none"] += n
    for (kind, state), n in sorted(by_state.items()):
        packages.add_metric([kind, state], n)
    for (kind, result), n in sorted(by_result.items()):
        results.add_metric([kind, result], n)
    yield packages
    yield results

    now = utcnow()
    finished = _gauge(
        "omsx_packages_finished_last_hour",
        "Packages finished in the last 60 minutes",
        ["state", "result"],
    )
    stmt_f = (
        select(Package.state, Package.result, func.count())
        .where(col(Package.state).in_([s.value for s in FINISHED]))
        .where(col(Package.updated_at) >= now - timedelta(minutes=MINUTES))
        .group_by(col(Package.state), col(Package.result))
    )
    total = errors = 0
    for state, result, n in session.exec(stmt_f):
        finished.add_metric([state, result or "none"], n)
        total += n
        errors += n if state in FAILED or result == "R" else 0
    yield finished
    if total:
        ratio = _gauge(
            "omsx_package_error_ratio_last_hour",
            "Refused (RESULT R) and failed among the packages finished in the last 60 minutes",
        )
        ratio.add_metric([], round(errors / total, 4))
        yield ratio
    codes = _gauge(
        "omsx_protocol_codes_last_hour",
        "Packages finished in the last 60 minutes whose protocol carries the OSHIB code",
        ["code"],
    )
    for code, n in sorted(_protocol_codes(session, now - timedelta(hours=1)).items()):
        codes.add_metric([code], n)
    yield codes

    pending = _gauge("omsx_outbox_pending", "Outbox messages not yet acknowledged by NATS")
    pending.add_metric([], outbox_pending(session))
    yield pending

    daily = daily_status(session)
    unbalanced = _gauge(
        "omsx_daily_unbalanced",
        "Failed conservation checks (participant-days) of the last 7 daily reports",
    )
    unbalanced.add_metric([], len(daily["unbalanced"]))
    yield unbalanced
    if daily["latest"] is not None:
        built = _gauge(
            "omsx_daily_latest_built_timestamp_seconds", "When the latest daily report was built"
        )
        built.add_metric([], datetime.fromisoformat(daily["latest"]["built_at"]).timestamp())
        yield built


def _queues(settings: Settings) -> Iterator[Metric]:
    queues = _gauge(
        "omsx_queue_messages", "Dramatiq messages per queue and state", ["queue", "state"]
    )
    for queue, counts in queue_counts(settings).items():
        for state, n in counts.items():
            queues.add_metric([queue, state], n)
    yield queues


STREAM_FIELDS = {
    "messages": "Messages in the stream",
    "bytes": "Bytes in the stream",
    "first_seq": "First sequence in the stream",
    "last_seq": "Last sequence in the stream",
}
CONSUMER_FIELDS = {
    "num_pending": ("pending", "Messages in the stream not yet delivered to the consumer"),
    "num_ack_pending": ("ack_pending", "Messages delivered to the consumer, not yet acked"),
    "num_redelivered": ("redelivered", "Unacked messages delivered more than once"),
    "num_waiting": ("waiting", "Pull requests waiting"),
}


def _jetstream(settings: Settings) -> Iterator[Metric]:
    streams = jetstream_state(settings)
    families = {
        f: _gauge(f"omsx_jetstream_stream_{f}", doc, ["stream"]) for f, doc in STREAM_FIELDS.items()
    }
    consumers = {
        f: _gauge(f"omsx_jetstream_consumer_{name}", doc, ["stream", "consumer"])
        for f, (name, doc) in CONSUMER_FIELDS.items()
    }
    for stream, state in streams.items():
        if "error" in state:
            continue
        for field, family in families.items():
            family.add_metric([stream], state[field])
        for consumer, numbers in state["consumers"].items():
            for field, family in consumers.items():
                family.add_metric([stream, consumer], numbers[field])
    yield from families.values()
    yield from consumers.values()


class HubCollector(Collector):
    """The hub's figures, read at each scrape (see the module doc)."""

    def collect(self) -> Iterator[Metric]:
        settings = get_settings()
        up = _gauge("omsx_up", "1 when the dependency answered this scrape", ["dependency"])
        try:
            with session_scope() as session:
                found = list(_database(session))
        except StorageUnavailable as exc:
            log.warning("metrics.unavailable", dependency="database", error=type(exc).__name__)
            found = []
        up.add_metric(["database"], 1 if found else 0)
        yield from found
        for name, part in (("redis", _queues), ("nats", _jetstream)):
            try:
                found = list(part(settings))
            except Exception as exc:  # noqa: BLE001 - a server down is omsx_up 0
                log.warning("metrics.unavailable", dependency=name, error=type(exc).__name__)
                found = []
            up.add_metric([name], 1 if found else 0)
            yield from found
        yield up


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(HubCollector())


def _authorized(request: Request[Any, Any, Any], token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(given.strip(), token)


@get("/metrics", sync_to_thread=True)
def metrics(request: Request[Any, Any, Any]) -> Response[Any]:
    """Prometheus metrics: packages, protocol codes, queues, JetStream, daily checks.

    Open, or with ``Authorization: Bearer <OMSX_METRICS_TOKEN>`` when that is set (else 401).
    """
    token = get_settings().metrics_token
    if token and not _authorized(request, token):
        return Response(
            {"status_code": 401, "detail": "a bearer token is required"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="omsx-metrics"'},
        )
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_PLAIN_0_0_4)


ROUTES = [metrics]


# ---------------------------------------------------------------- /health


def _check_redis(settings: Settings) -> None:
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()


async def _check_nats(settings: Settings) -> None:
    nc = await connect(settings, name="omsx-health", wait_s=CHECK_TIMEOUT_S, allow_reconnect=False)
    try:
        await nc.jsm().account_info()  # JetStream, not only the server, answers
    finally:
        await nc.close()


async def dependency_status(
    settings: Settings, check_database: Callable[[], object], timeout: float = CHECK_TIMEOUT_S
) -> dict[str, str]:
    """``{"status": "ok"|"down", "database": …, "redis": …, "nats": …}``, each ``"ok"`` or
    ``"error: <exception class>"``, checked concurrently, each within ``timeout``.

    ``check_database`` (run in a thread) raises when the database does not answer."""
    checks = {
        "database": asyncio.to_thread(check_database),
        "redis": asyncio.to_thread(_check_redis, settings),
        "nats": _check_nats(settings),
    }
    done = await asyncio.gather(
        *(asyncio.wait_for(check, timeout) for check in checks.values()), return_exceptions=True
    )
    status = {"status": "ok"}
    for name, outcome in zip(checks, done, strict=True):
        status[name] = "ok" if outcome is None else f"error: {type(outcome).__name__}"
        if outcome is not None:
            status["status"] = "down"
    return status
