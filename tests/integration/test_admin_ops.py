"""The admin's operational view against real servers: the overview (queues from a real
Dramatiq Redis broker, JetStream from a real nats-server, packages per state, hour and
minute), ``/health``, ``/metrics`` and ``/schema`` (issue "Admin")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import nats
import pytest
from click.testing import CliRunner
from dramatiq.brokers.redis import RedisBroker
from litestar.testing import TestClient
from nats.js.api import ConsumerConfig
from prometheus_client.parser import text_string_to_metric_families

from messages.streams import provision
from omsx.embedded import EmbeddedServer, free_port
from omsx.settings import Settings, get_settings
from storage.db import dispose_engines, session_scope
from storage.migrate import upgrade
from storage.models import Package, PackageEvent, utcnow
from tests.integration.adminweb import PASSWORD, log_in

pytestmark = pytest.mark.integration

T = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
TOKEN = "s3cret-metrics-token-0123456789"


@pytest.fixture
def ops_env(
    omsx_env: Settings, fresh_redis: EmbeddedServer, fresh_nats: EmbeddedServer
) -> Iterator[Settings]:
    """A migrated database with a viewer, and a Redis and a NATS of this test alone."""
    from admin.cli import main

    upgrade(omsx_env.database_url)
    added = CliRunner().invoke(
        main,
        ["users", "add", "vera", "--role", "viewer", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    yield omsx_env
    dispose_engines()


@pytest.fixture
def client(ops_env: Settings) -> Iterator[TestClient[Any]]:
    from admin.app import create_app

    with TestClient(app=create_app()) as c:
        yield c


def add_package(
    n: int,
    state: str,
    result: str | None,
    received: datetime,
    updated: datetime,
    *,
    kind: str = "registry",
    codes: str = "",
) -> int:
    """A package row as the pipeline leaves it; a final one with its concluding event."""
    with session_scope() as s:
        p = Package(
            sha256=f"{n:064x}",
            file_name=f"F{n}.zip",
            subject="oms.in.mo.640001.registry",
            kind=kind,
            state=state,
            result=result,
            received_at=received,
            updated_at=updated,
        )
        s.add(p)
        s.flush()
        assert p.id is not None
        if result is not None:
            s.add(
                PackageEvent(
                    package_id=p.id,
                    at=updated,
                    stage="validate",
                    outcome=f"{state}:{result}",
                    detail=codes,
                )
            )
        return p.id


def known_packages(now: datetime) -> None:
    """Seven packages around ``now``: four finished in the last hour (A, R, R 805, failed)."""
    m, h = timedelta(minutes=1), timedelta(hours=1)
    add_package(1, "applied", "A", now - 20 * m, now - 5 * m)
    add_package(2, "rejected", "R", now - 2 * h, now - 50 * m, codes="802,904")
    add_package(3, "duplicate", "R", now - 30 * m, now - 1 * m, kind="erz", codes="805")
    add_package(4, "applied", "P", now - 3 * h, now - 2 * h, codes="904")
    add_package(5, "validating", None, now - 1 * m, now - 1 * m)
    add_package(6, "applied", "A", now - 30 * h, now - 29 * h)
    add_package(7, "failed", None, now - 40 * m, now - 10 * m)


@dataclass
class Broker:
    broker: RedisBroker
    consumers: list[Any]


@pytest.fixture
def busy_queue(fresh_redis: EmbeddedServer) -> Iterator[Broker]:
    """``validate`` of a real Redis broker: 1 ready, 2 fetched and not acked (in
    progress), 1 dead-lettered, 2 delayed (one still queued, one held by a consumer)."""
    broker = RedisBroker(url=fresh_redis.url)

    @dramatiq.actor(broker=broker, queue_name="validate", actor_name="ops_validate")
    def work(n: int) -> None:
        """Never run: the test fetches its messages by hand."""

    for n in range(4):
        work.send(n)
    for n in range(2):
        work.send_with_options(args=(10 + n,), delay=3_600_000)
    consumer = broker.consume("validate", prefetch=3, timeout=100)
    first = next(consumer)
    consumer.nack(first)  # dead-lettered: 2 of the 3 fetched remain un-acked
    delayed = broker.consume("validate.DQ", prefetch=1, timeout=100)
    assert next(delayed) is not None  # held, as a worker holds a delayed message
    try:
        yield Broker(broker, [consumer, delayed])
    finally:
        broker.close()


async def _busy_streams(settings: Settings) -> None:
    """OMS_IN with 3 messages, 2 of them delivered twice to the ingest's durable and not
    acked; OMS_OUT with 1 message and no consumer."""
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await provision(js, settings)
        for n in range(3):
            await js.publish("oms.in.mo.640001.registry", f"package {n}".encode())
        await js.publish("oms.out.mo.640001.protocol", b"protocol")
        sub = await js.pull_subscribe(
            "oms.in.>",
            durable=settings.ingest_durable,
            stream="OMS_IN",
            config=ConsumerConfig(ack_wait=1.0),
        )
        assert len(await sub.fetch(2, timeout=5)) == 2  # not acked
        await asyncio.sleep(1.5)
        again = await sub.fetch(2, timeout=5)
        assert [m.metadata.num_delivered for m in again] == [2, 2]
    finally:
        await nc.close()


def test_hours_and_throughput_count_known_packages(ops_env: Settings, database_url: str) -> None:
    from admin.overview import hourly_states, outbox_pending, throughput

    known_packages(T)
    with session_scope() as s:
        hours = hourly_states(s, now=T)
        hour = throughput(s, now=T)
        assert outbox_pending(s) == 0
    assert len(hours) == 24
    assert hours[-1] == {
        "hour": "2025-03-01T12:00:00+00:00",
        "received": 3,
        "states": {"validating": 1, "applied": 1, "duplicate": 1},
    }
    assert hours[-2] == {
        "hour": "2025-03-01T11:00:00+00:00",
        "received": 1,
        "states": {"failed": 1},
    }
    assert hours[-3] == {
        "hour": "2025-03-01T10:00:00+00:00",
        "received": 1,
        "states": {"rejected": 1},
    }
    assert hours[-4]["states"] == {"applied": 1}
    assert hours[0]["hour"] == "2025-02-28T13:00:00+00:00"
    assert sum(h["received"] for h in hours) == 6  # the 30-hour-old one is out
    assert hour["finished"] == 4 and hour["per_minute"] == round(4 / 60, 2)
    assert hour["results"] == {"-": 1, "A": 1, "R": 2}
    assert hour["states"] == {"applied": 1, "duplicate": 1, "failed": 1, "rejected": 1}
    assert (hour["refused"], hour["failed"], hour["error_rate"]) == (2, 1, 0.75)
    assert [i for i, n in enumerate(hour["minutes"]) if n] == [10, 50, 55, 59]
    with session_scope() as s:  # an hour later nothing finished: no rate
        later = throughput(s, now=T + timedelta(hours=3))
    assert (later["finished"], later["error_rate"]) == (0, None)


def test_the_overview_shows_queues_jetstream_and_packages(
    ops_env: Settings, database_url: str, client: TestClient[Any], busy_queue: Broker
) -> None:
    from admin.cli import main

    asyncio.run(_busy_streams(ops_env))
    known_packages(utcnow())
    assert client.get("/api/overview").status_code == 401
    log_in(client, "vera")
    data = client.get("/api/overview").json()
    assert data["errors"] == []
    assert data["queues"]["validate"] == {"ready": 1, "delayed": 2, "dead": 1, "in_progress": 2}
    assert data["queues"]["apply"] == {"ready": 0, "delayed": 0, "dead": 0, "in_progress": 0}
    oms_in, oms_out = data["jetstream"]["OMS_IN"], data["jetstream"]["OMS_OUT"]
    assert (oms_in["messages"], oms_in["first_seq"], oms_in["last_seq"]) == (3, 1, 3)
    assert oms_in["bytes"] > 0
    ingest = oms_in["consumers"][ops_env.ingest_durable]
    assert (ingest["num_pending"], ingest["num_ack_pending"], ingest["num_redelivered"]) == (
        1,
        2,
        2,
    )
    assert (oms_out["messages"], oms_out["consumers"]) == (1, {})
    assert data["packages"] == {
        "applied": 3,
        "rejected": 1,
        "duplicate": 1,
        "validating": 1,
        "failed": 1,
    }
    assert sum(h["received"] for h in data["hours"]) == 6 and len(data["hours"]) == 24
    assert (data["throughput"]["finished"], data["throughput"]["error_rate"]) == (4, 0.75)
    assert data["outbox_pending"] == 0
    assert data["daily"] == {"latest": None, "unbalanced": []}
    page = client.get("/")
    assert page.status_code == 200
    for part in (
        'id="queues"',
        'id="packages"',
        'id="jetstream"',
        'id="consumers"',
        'id="hours"',
        'id="throughput"',
        "в работе",
    ):
        assert part in page.text
    assert "https://" not in page.text and "http://" not in page.text  # no external asset
    shown = CliRunner().invoke(main, ["status"])
    assert shown.exit_code == 0, shown.output
    assert "queue validate" in shown.output and "packages applied" in shown.output
    assert "in progress" in shown.output and "last hour" in shown.output
    assert "stream OMS_IN" in shown.output


def test_the_overview_reports_servers_down_instead_of_failing(
    ops_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from admin.overview import overview

    dead = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("OMSX_REDIS_URL", f"redis://{dead}/0")
    monkeypatch.setenv("OMSX_NATS_URL", f"nats://{dead}")
    get_settings.cache_clear()
    started = time.monotonic()
    data = overview(get_settings())
    assert time.monotonic() - started < 10
    assert [e.split(":")[0] for e in data["errors"]] == ["redis", "nats"]
    assert data["queues"] == {} and data["jetstream"] == {}
    assert data["packages"] == {} and data["throughput"]["finished"] == 0


def test_health_is_public_and_names_each_dependency(
    ops_env: Settings, client: TestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    up = client.get("/health")
    assert up.status_code == 200
    assert up.json() == {"status": "ok", "database": "ok", "redis": "ok", "nats": "ok"}
    dead = f"127.0.0.1:{free_port()}"
    for env, url, name in (
        ("OMSX_REDIS_URL", f"redis://{dead}/0", "redis"),
        ("OMSX_NATS_URL", f"nats://{dead}", "nats"),
    ):
        with monkeypatch.context() as m:
            m.setenv(env, url)
            get_settings.cache_clear()
            started = time.monotonic()
            down = client.get("/health")
            assert time.monotonic() - started < 5
            assert down.status_code == 503
            body = down.json()
            assert body["status"] == "down" and body[name].startswith("error: ")
            assert all(
                body[other] == "ok" for other in ("database", "redis", "nats") if other != name
            )
        get_settings.cache_clear()
    assert client.get("/health").status_code == 200


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name, frozenset(s.labels.items())] = s.value
    return out


def test_metrics_in_prometheus_format_behind_an_optional_token(
    ops_env: Settings,
    client: TestClient[Any],
    busy_queue: Broker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asyncio.run(_busy_streams(ops_env))
    known_packages(utcnow())
    got = client.get("/metrics")  # no session needed
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
    found = samples(got.text)

    def value(name: str, **labels: str) -> float | None:
        return found.get((name, frozenset(labels.items())))

    assert [value("omsx_up", dependency=d) for d in ("database", "redis", "nats")] == [1, 1, 1]
    assert value("omsx_packages", kind="registry", state="applied") == 3
    assert value("omsx_packages", kind="erz", state="duplicate") == 1
    assert value("omsx_package_results", kind="registry", result="A") == 2
    assert value("omsx_package_results", kind="registry", result="none") == 2
    assert value("omsx_packages_finished_last_hour", state="rejected", result="R") == 1
    assert value("omsx_package_error_ratio_last_hour") == 0.75
    assert value("omsx_protocol_codes_last_hour", code="805") == 1
    assert value("omsx_protocol_codes_last_hour", code="802") == 1
    assert value("omsx_protocol_codes_last_hour", code="904") == 1  # not package 4's: 2 h ago
    assert value("omsx_queue_messages", queue="validate", state="in_progress") == 2
    assert value("omsx_queue_messages", queue="validate", state="delayed") == 2
    assert value("omsx_queue_messages", queue="validate", state="dead") == 1
    assert value("omsx_queue_messages", queue="apply", state="ready") == 0
    assert value("omsx_outbox_pending") == 0
    assert value("omsx_daily_unbalanced") == 0
    assert value("omsx_jetstream_stream_messages", stream="OMS_IN") == 3
    assert value("omsx_jetstream_stream_last_seq", stream="OMS_OUT") == 1
    ingest = {"stream": "OMS_IN", "consumer": ops_env.ingest_durable}
    assert value("omsx_jetstream_consumer_pending", **ingest) == 1
    assert value("omsx_jetstream_consumer_ack_pending", **ingest) == 2
    assert value("omsx_jetstream_consumer_redelivered", **ingest) == 2

    monkeypatch.setenv("OMSX_NATS_URL", f"nats://127.0.0.1:{free_port()}")
    monkeypatch.setenv("OMSX_METRICS_TOKEN", TOKEN)
    get_settings.cache_clear()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    down = samples(right.text)
    assert down["omsx_up", frozenset({("dependency", "nats")})] == 0
    assert not [name for name, _ in down if name.startswith("omsx_jetstream")]
    assert down["omsx_up", frozenset({("dependency", "redis")})] == 1


def test_the_openapi_description_is_behind_the_login_and_lists_every_api(
    client: TestClient[Any],
) -> None:
    for path in ("/schema", "/schema/openapi.json"):
        refused = client.get(path, follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    log_in(client, "vera")
    described = client.get("/schema/openapi.json")
    assert described.status_code == 200
    paths = described.json()["paths"]
    for path in (
        "/api/packages",
        "/api/dead",
        "/api/overview",
        "/api/persons",
        "/health",
        "/metrics",
        "/",
    ):
        assert path in paths, sorted(paths)
    assert paths["/api/overview"]["get"]["summary"].startswith("Overview as JSON")
    assert paths["/health"]["get"]["summary"].startswith("Each dependency's status")
    assert not [p for p in paths if p.startswith("/schema")]
    page = client.get("/schema")
    assert page.status_code == 200 and "/api/overview" in page.text
    assert "<script" not in page.text and "https://" not in page.text
    assert client.get("/schema/openapi.yaml").status_code == 200
