"""Helpers shared by the benchmarks: run a measurement in a child process, print tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from omsx.text import table

__all__ = [
    "OMSX",
    "ROOT",
    "bench_dbs",
    "descendants",
    "hwm_mb",
    "measure",
    "peak_mb",
    "postgres_for",
    "save",
    "table",
    "wait_log",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OMSX = str(ROOT / ".venv" / "bin" / "omsx")


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


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (e.g. dramatiq's worker processes)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        queue.extend(int(c) for c in children)
    return found


def hwm_mb(pid: int) -> tuple[str, float]:
    """(command line, peak resident MB) of a running process: its VmHWM."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]
    except OSError:
        return "", 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return cmd, int(line.split()[1]) / 1024
    return cmd, 0.0


def wait_log(path: Path, text: str, timeout: float = 60) -> None:
    """Wait until the log file ``path`` contains ``text``."""
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path.name} did not log {text!r}")
        time.sleep(0.1)


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
