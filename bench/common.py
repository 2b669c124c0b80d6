"""Helpers shared by the benchmarks: run a measurement in a child process, print tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from omsx.text import table

__all__ = ["ROOT", "bench_dbs", "measure", "peak_mb", "postgres_for", "save", "table"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def measure(module: str, *args: str, timeout: float = 1800) -> dict[str, float]:
    """Run ``python -m <module> --one …`` and return the JSON line it prints last.

    Each child reports its own wall time and peak resident memory (ru_maxrss), so
    the methods do not share an allocator or caches.
    """
    done = subprocess.run(
        [sys.executable, "-m", module, "--one", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(name: str, payload: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"cores": os.cpu_count(), **payload}, indent=2, ensure_ascii=False))
    return path


def bench_dbs() -> list[str]:
    """``BENCH_DBS`` (default ``sqlite,postgres``): the databases a benchmark runs on."""
    return [d for d in os.environ.get("BENCH_DBS", "sqlite,postgres").split(",") if d]


@contextmanager
def postgres_for(root: Path, dbs: list[str]) -> Iterator[Callable[[str], str]]:
    """An embedded PostgreSQL under ``root`` for the run when ``dbs`` names postgres;
    yields ``create(name)``, which (re)creates that database and returns its URL."""
    if "postgres" not in dbs:

        def unavailable(name: str) -> str:
            raise RuntimeError(f"no PostgreSQL in this run (BENCH_DBS): {name}")

        yield unavailable
        return
    from omsx import embedded

    server = embedded.postgres_server(root / "pg" / "data")
    server.start()
    try:
        yield lambda name: _pg_database(server.url, name)
    finally:
        server.stop()


def _pg_database(server_url: str, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(server_url)
    with psycopg.connect(
        dbname="postgres", user=parsed.username, host=parsed.query.get("host"), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)
