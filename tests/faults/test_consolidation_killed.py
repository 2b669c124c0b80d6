"""Fault 6: the daily consolidation killed (SIGKILL) in the middle of writing its report.

The report of a day is replaced in one transaction, so a run killed mid-way leaves the
report that was there before — none, or the last complete one — and the rerun writes
the same report as a clean run on the same data, queueing no second extract.

The hub's database is filled with a region's day (``bench.daily.fill``: events of the
seven categories, 90 days of history, referrals, beds, cases, the day's packages), and
``omsx consolidate --date D`` is killed the moment it holds the database's write lock:
it is then deleting the old rows or writing the new ones.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from bench.daily import DAY, fill
from storage.db import dispose_engines
from tests.e2e.conftest import Hub
from tests.faults.conftest import own_hub

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(240)]

EVENTS = 6_000  # of the day; the history adds nine times as many
REPORT = {
    "dailyfigure": "scope, code, category, indicator, key, value",
    "dailyaccompany": "smo, enp, reason, since, due, mo, ref",
    "dailybalance": "role, code, received, accepted, rejected, duplicate, in_flight, unaccounted",
    "dailyrun": "events, figures, accompany, unbalanced",
}


def report(hub: Hub) -> dict[str, list[tuple[Any, ...]]]:
    """The stored report of ``DAY``, without ids and times of the run."""
    day = DAY.isoformat()
    return {
        table: sorted(hub.sql(f"SELECT {cols} FROM {table} WHERE day = :d", d=day))
        for table, cols in REPORT.items()
    }


def extracts(hub: Hub) -> int:
    return int(hub.sql("SELECT count(*) FROM outbox WHERE kind = 'daily'")[0][0])


def kill_while_writing(hub: Hub, database: Path) -> float:
    """Start ``omsx consolidate --date DAY`` and SIGKILL it once it holds the write lock
    (probed with BEGIN IMMEDIATE, which fails at once while another writer holds it);
    returns how long it had run."""
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        started = time.monotonic()
        proc = hub.start("consolidate", "consolidate", "--date", DAY.isoformat())
        while True:
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc), exc
                break
            probe.execute("ROLLBACK")
            assert proc.poll() is None, f"ended before writing:\n{hub.log('consolidate')}"
            time.sleep(0.002)
        hub.kill("consolidate")
        return time.monotonic() - started
    finally:
        probe.close()


def test_a_consolidation_killed_mid_write_is_redone_to_the_same_report(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with own_hub(tmp_path) as hub:
        database = hub.data_dir / "omsx.db"
        filled = fill(hub.database_url, EVENTS)
        dispose_engines()
        t_filled = time.monotonic()
        # 1. killed before any report of the day existed: nothing of it is left
        first_kill = kill_while_writing(hub, database)
        after_first_kill = report(hub)
        # 2. the rerun, then a clean run on the same data
        done = hub.omsx("consolidate", "--date", DAY.isoformat())
        assert done.returncode == 0, done.stderr
        rerun, extracts_rerun = report(hub), extracts(hub)
        t_run = time.monotonic()
        done = hub.omsx("consolidate", "--date", DAY.isoformat())
        assert done.returncode == 0, done.stderr
        clean, extracts_clean = report(hub), extracts(hub)
        t_clean = time.monotonic()
        # 3. killed while replacing a complete report: the complete one stays
        hub.wait_for(  # the worker has published the extracts (it writes, too)
            "SELECT count(*) FROM outbox WHERE published_at IS NULL", lambda r: r == [(0,)]
        )
        second_kill = kill_while_writing(hub, database)
        after_second_kill = report(hub)
        done = hub.omsx("consolidate", "--date", DAY.isoformat())
        assert done.returncode == 0, done.stderr
        last, extracts_last = report(hub), extracts(hub)
    sizes = {table: len(rows) for table, rows in clean.items()}
    print(
        f"\nfault 6 (omsx consolidate --date {DAY} killed mid-write): filled {filled}"
        f" in {t_filled - t0:.1f} s; a clean run takes {t_clean - t_run:.1f} s\n"
        f"  kill 1 after {first_kill:.2f} s: rows left="
        f"{ {t: len(r) for t, r in after_first_kill.items()} }; rerun = clean run:"
        f" {rerun == clean} ({sizes}); daily extracts queued {extracts_rerun} →"
        f" {extracts_clean}\n"
        f"  kill 2 after {second_kill:.2f} s: report unchanged {after_second_kill == clean};"
        f" rerun = clean run: {last == clean}; extracts {extracts_last}"
    )
    assert not any(after_first_kill.values())
    assert sizes["dailyfigure"] > 1000 and sizes["dailyaccompany"] > 100
    assert rerun == clean == after_second_kill == last
    assert extracts_rerun == extracts_clean == extracts_last > 0
