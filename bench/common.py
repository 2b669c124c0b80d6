"""Helpers shared by the benchmarks: run a measurement in a child process, print tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from omsx.text import table

__all__ = ["ROOT", "measure", "peak_mb", "save", "table"]

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
