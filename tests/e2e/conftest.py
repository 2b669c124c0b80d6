"""The hub as real processes: ``omsx ingest`` and ``omsx worker`` on fresh servers.

One hub per test module (processes start once); each hub has its own nats-server,
Valkey, data dir and SQLite database, so modules cannot see each other's messages.
A hub given ``database_url`` (e.g. a PostgreSQL of its own) uses that database instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from contracts.filenames import Party
from messages.gateway import Gateway
from omsx import embedded
from omsx.embedded import EmbeddedServer, free_port
from tests.builders import erz_for

OMSX = str(Path(sys.executable).parent / "omsx")


class Hub:
    """A running hub; ``start``/``kill`` its processes, ``sql`` reads its database."""

    def __init__(
        self, root: Path, nats: EmbeddedServer, redis: EmbeddedServer, **settings: str
    ) -> None:
        self._erz_number = 0
        self.root = root
        self.nats = nats
        self.redis = redis
        self.data_dir = root / "var"
        self.database_url = (
            settings.pop("database_url", None)
            or f"sqlite:///{(self.data_dir / 'omsx.db').as_posix()}"
        )
        self.env = {
            **os.environ,
            "OMSX_NATS_URL": nats.url,
            "OMSX_REDIS_URL": redis.url,
            "OMSX_DATA_DIR": str(self.data_dir),
            "OMSX_DATABASE_URL": self.database_url,
            "OMSX_LOG_FORMAT": "json",
            "OMSX_WORKER_PROCESSES": "1",
            "OMSX_BROKER": "redis",
            "OMSX_WORKER_THREADS": "4",
            **{f"OMSX_{k.upper()}": v for k, v in settings.items()},
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # pre-ping: a test may restart the database under the hub (tests/faults)
        self._engine = create_engine(self.database_url, pool_pre_ping=True)

    def omsx(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OMSX, *args],
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [OMSX, *args],
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 15.0) -> None:
        """Signal the process group; a process that outlives ``timeout`` is SIGKILLed."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise AssertionError(f"{name} ignored signal {sig} for {timeout} s") from None
        finally:
            # the group may hold children (dramatiq's worker processes) after the leader exits
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        """Stop every process (SIGTERM, as honcho does); report any that would not stop."""
        stubborn = []
        for name in list(self.procs):
            try:
                self.kill(name, signal.SIGTERM)
            except AssertionError as exc:
                stubborn.append(str(exc))
        self._engine.dispose()
        assert not stubborn, stubborn

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def wait_log(self, name: str, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(name):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not log {text!r}:\n{self.log(name)}")
            time.sleep(0.1)

    def start_ingest(self, **extra_env: str) -> None:
        log = self.root / "ingest.log"
        log.unlink(missing_ok=True)
        self.start("ingest", "ingest", **extra_env)
        self.wait_log("ingest", "ingest.started")

    def sql(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        with self._engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]

    def wait_for(
        self, query: str, predicate: Any = bool, timeout: float = 30.0, **params: Any
    ) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.sql(query, **params)
            if predicate(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

    async def gateway(self, token: str) -> Gateway:
        return await Gateway.connect(self.nats.url, Party.from_token(token))

    async def insure(self, *registers: tuple[str, bytes], smo: str = "64004") -> None:
        """Publish an erz of ``smo`` insuring everyone the registers name; wait for its A.

        МЭК (005K.64.0001) refuses cases of people the registry does not know insured."""
        self._erz_number += 1
        name, data = erz_for(*registers, smo=smo, number=self._erz_number)
        gw = await self.gateway(f"smo.{smo}")
        async with gw:
            got = await gw.wait_protocol(await gw.publish(data, name), timeout=60)
        assert got.protocol.result == "A", got.raw.decode("utf-8", "replace")


def start_hub(root: Path, **settings: str) -> tuple[Hub, list[EmbeddedServer]]:
    nats = embedded.nats_server(free_port(), root / "nats")
    redis = embedded.valkey_server(free_port(), root / "valkey")
    for server in (nats, redis):
        server.start()
        server.wait_ready()
    hub = Hub(root, nats, redis, **settings)
    for args in (("db", "upgrade"), ("refs", "load", "--seed")):
        done = hub.omsx(*args)
        assert done.returncode == 0, done.stderr
    hub.start_ingest()
    hub.start("worker", "worker")
    hub.wait_log("worker", "Worker process is ready for action")
    return hub, [nats, redis]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    # a short JetStream window lets a test publish the same bytes "outside" it
    running, servers = start_hub(tmp_path_factory.mktemp("hub"), in_duplicate_window_s="2")
    try:
        yield running
    finally:
        running.stop_all()
        for server in servers:
            server.stop()
