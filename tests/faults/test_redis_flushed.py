"""Fault 2: Redis (Valkey) killed while packages are in flight, its data thrown away, and
started again empty. Every Dramatiq message of the moment is lost; SQL still knows each
package's state, and the sweeper (the scheduler, deadline cut to 5 s) re-drives every
one: each ends final with exactly one protocol.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from messages.gateway import Published
from tests.builders import register
from tests.faults.conftest import own_hub, protocols_per_package, published_all

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(240)]

MO = [f"6400{n:02d}" for n in range(1, 31)]
DEADLINE_S = 5
IN_FLIGHT = ("received", "validating", "checked", "applying")


def redrive_gaps(redrives: list[tuple[Any, ...]]) -> list[float]:
    """Seconds between two re-drives of the same package (rows ordered by package, time)."""

    def at(value: Any) -> datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)

    return [
        (at(b[1]) - at(a[1])).total_seconds()
        for a, b in itertools.pairwise(redrives)
        if a[0] == b[0]
    ]


async def test_a_redis_flushed_mid_flow_loses_no_package(tmp_path: Path) -> None:
    registers = [register(f"HM{mo}S64004_25111", n=5, seed=i) for i, mo in enumerate(MO)]
    junk = [(f"HM{mo}S64004_25112.zip", f"not a zip from {mo}".encode()) for mo in MO]
    t0 = time.monotonic()
    with own_hub(
        tmp_path, scheduler=True, stage_deadline_s=str(DEADLINE_S), sweep_interval_s="1"
    ) as hub:
        await hub.insure(*registers)
        gateways = {mo: await hub.gateway(f"mo.{mo}") for mo in MO}
        sent: list[Published] = []

        async def publish_all() -> None:  # faster than the hub applies: a queue in every stage
            for (name, data), (junk_name, junk_data), mo in zip(registers, junk, MO, strict=True):
                sent.append(await gateways[mo].publish(data, name))
                sent.append(await gateways[mo].publish(junk_data, junk_name))
                await asyncio.sleep(0.02)  # 100 packages/s offered, ~30/s applied

        publisher = asyncio.create_task(publish_all())
        # kill Valkey once half the packages are stored
        while hub.sql("SELECT count(*) FROM package")[0][0] < 1 + len(MO):
            await asyncio.sleep(0.05)
        hub.redis.kill()
        t_kill = time.monotonic()
        at_kill = Counter(dict(hub.sql("SELECT state, count(*) FROM package GROUP BY state")))
        shutil.rmtree(hub.redis.data_dir / "appendonlydir")  # the queues are gone
        await asyncio.sleep(2)
        hub.redis.start()
        hub.redis.wait_ready()
        t_back = time.monotonic()
        await publisher
        rows = hub.wait_for(
            "SELECT count(*), sum(state IN ('received', 'validating', 'checked', 'applying'))"
            " FROM package",
            lambda r: r[0] == (1 + len(sent), 0),
            timeout=120,
        )
        assert rows[0] == (1 + len(sent), 0), (rows, hub.log("ingest")[-3000:])
        t_done, outs = await published_all(hub, gateways.values())
        after = Counter(dict(hub.sql("SELECT state, count(*) FROM package GROUP BY state")))
        receipts = hub.sql("SELECT count(*) FROM receipt")[0][0]
        redrives = hub.sql(
            "SELECT package_id, at FROM packageevent WHERE stage = 'sweep' ORDER BY package_id, at"
        )
        ingest_retries = hub.log("ingest").count("ingest.retry_later")
        cases = hub.sql("SELECT count(*), count(DISTINCT package_id) FROM carecase")[0]
    per_package = protocols_per_package(outs)
    gaps = redrive_gaps(redrives)
    ours = {p.sha256: per_package[p.sha256] for p in sent}
    print(
        f"\nfault 2 (Valkey killed, its AOF deleted, started empty): published={len(sent)}"
        f" ({len(registers)} registers, {len(junk)} no-ZIP)\n"
        f"  at the kill: packages by state={dict(at_kill)} (in flight"
        f" {sum(at_kill[s] for s in IN_FLIGHT)})\n"
        f"  after: packages by state={dict(after)} receipts={receipts} sweeper re-drives"
        f"={len(redrives)} of {len({p for p, _ in redrives})} packages (twice for one:"
        f" {len(gaps)}, at least {min(gaps, default=DEADLINE_S):.1f} s apart)"
        f" ingest naks={ingest_retries}"
        f" protocols: one each"
        f" {sum(1 for n in ours.values() if n == 1)}, more"
        f" {sum(1 for n in ours.values() if n > 1)}, none"
        f" {sum(1 for n in ours.values() if n == 0)}; cases={cases[0]} in {cases[1]} registers\n"
        f"  timings: down {t_back - t_kill:.1f} s, all final {t_done - t_back:.1f} s after"
        f" Valkey came back, {t_done - t0:.1f} s in all"
    )
    assert sum(at_kill[s] for s in IN_FLIGHT) > 0
    assert after == {"applied": 1 + len(registers), "rejected": len(junk)}
    assert min(gaps, default=DEADLINE_S) >= DEADLINE_S - 0.5  # once a deadline, not every sweep
    assert all(n == 1 for n in ours.values()), ours
    assert receipts == 1 + len(sent)
    assert cases == (5 * len(registers), len(registers))
