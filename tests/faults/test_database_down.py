"""Fault 4: the database (PostgreSQL, a server of this test's own) stopped for 30 s while
packages are published and processed, then started again.

Nothing is lost: every package published before or during the outage is answered with
one protocol once the database is back. Meanwhile ingest cannot store a package, so it
naks the message with a delay (``messages.ingest.NAK_DELAY_S``) instead of spinning or
dying; workers retry with backoff, and the sweeper re-drives what stayed behind.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import nats
import pytest

from messages.gateway import Published
from messages.ingest import NAK_DELAY_S
from messages.streams import IN_STREAM
from omsx.embedded import EmbeddedPostgres
from omsx.settings import Settings
from tests.builders import register
from tests.faults.conftest import all_logs, own_hub, protocols_per_package, published_all

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.postgres, pytest.mark.timeout(300)]

DOWN_S = 30.0
MO = [f"6400{n:02d}" for n in range(1, 21)]
BEFORE = 5  # МО whose packages are published before the outage; the rest during it


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test alone: it is stopped and started under the hub."""
    server = EmbeddedPostgres(tmp_path / "pg" / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def nak_gaps(ingest_log: str) -> dict[int, list[float]]:
    """Seconds between the retries of each message ingest could not store, by stream seq."""
    at: defaultdict[int, list[datetime]] = defaultdict(list)
    for line in ingest_log.splitlines():
        if '"ingest.retry_later"' in line:
            entry = json.loads(line)
            at[int(entry["seq"])].append(datetime.fromisoformat(entry["timestamp"]))
    return {
        seq: [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        for seq, times in at.items()
    }


async def ingest_redelivered(url: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(IN_STREAM, Settings().ingest_durable)
    finally:
        await nc.close()
    return int(info.num_redelivered or 0)


async def test_a_database_down_for_30_s_loses_nothing_and_ingest_naks_with_delay(
    tmp_path: Path, postgres: EmbeddedPostgres
) -> None:
    registers = [register(f"HM{mo}S64004_25111", n=5, seed=i) for i, mo in enumerate(MO)]
    junk = [(f"HM{mo}S64004_25112.zip", f"not a zip from {mo}".encode()) for mo in MO]
    t0 = time.monotonic()
    with own_hub(
        tmp_path / "hub", scheduler=True, database_url=postgres.url, stage_deadline_s="5",
        sweep_interval_s="1",
    ) as hub:  # fmt: skip
        await hub.insure(*registers)
        gateways = {mo: await hub.gateway(f"mo.{mo}") for mo in MO}
        sent: list[Published] = []

        async def publish(mos: list[str]) -> None:
            for mo in mos:
                i = MO.index(mo)
                sent.append(await gateways[mo].publish(registers[i][1], registers[i][0]))
                sent.append(await gateways[mo].publish(junk[i][1], junk[i][0]))

        await publish(MO[:BEFORE])
        hub.wait_for(  # stop it with some of them done and others under way
            "SELECT count(*) FROM package WHERE state IN ('applied', 'rejected')",
            lambda r: r[0][0] >= 1 + 3,
        )
        before = dict(hub.sql("SELECT state, count(*) FROM package GROUP BY state"))
        postgres.stop()
        t_down = time.monotonic()
        await publish(MO[BEFORE:])
        await asyncio.sleep(DOWN_S - (time.monotonic() - t_down) - 1)
        redelivered = await ingest_redelivered(hub.nats.url)
        await asyncio.sleep(DOWN_S - (time.monotonic() - t_down))
        naks_in_outage = hub.log("ingest").count('"ingest.retry_later"')
        postgres.start()
        t_up = time.monotonic()
        for name in ("ingest", "worker", "scheduler"):  # nobody died of it
            proc = hub.procs[name]
            assert proc.poll() is None, f"{name} exited:\n{hub.log(name)[-3000:]}"
        total = 1 + len(sent)
        rows = hub.wait_for(
            "SELECT count(*), count(*) FILTER (WHERE state IN ('applied', 'rejected'))"
            " FROM package",
            lambda r: r[0] == (total, total),
            timeout=120,
        )
        assert rows[0] == (total, total), rows
        t_done, outs = await published_all(hub, gateways.values())
        after = dict(hub.sql("SELECT state, count(*) FROM package GROUP BY state"))
        receipts = hub.sql("SELECT count(*) FROM receipt")[0][0]
        cases = hub.sql("SELECT count(*), count(DISTINCT package_id) FROM carecase")[0]
        gaps = nak_gaps(hub.log("ingest"))
        dead = hub.sql("SELECT count(*) FROM deadletter")[0][0]
        worker_log = all_logs(hub, "worker")
    per_package = protocols_per_package(outs)
    ours = [per_package[p.sha256] for p in sent]
    retried = sum(1 for line in worker_log.splitlines() if "Retrying message" in line)
    every_gap = [g for seq_gaps in gaps.values() for g in seq_gaps]
    print(
        f"\nfault 4 (PostgreSQL stopped {DOWN_S:.0f} s): published={len(sent)}"
        f" ({2 * BEFORE} before the outage, {len(sent) - 2 * BEFORE} during it);"
        f" before the stop: {before}\n"
        f"  during: ingest naks={naks_in_outage} over {len(gaps)} messages, gaps between"
        f" retries {min(every_gap):.1f}–{max(every_gap):.1f} s (nak delay {NAK_DELAY_S} s),"
        f" OMS_IN consumer num_redelivered={redelivered}; worker retries={retried}"
        f" dead letters={dead}\n"
        f"  after: packages by state={after} receipts={receipts} protocols: one each"
        f" {ours.count(1)}, more {sum(1 for n in ours if n > 1)}, none {ours.count(0)};"
        f" cases={cases[0]} in {cases[1]} registers\n"
        f"  timings: all answered {t_done - t_up:.1f} s after the database came back,"
        f" {t_done - t0:.1f} s in all"
    )
    assert after == {"applied": 1 + len(registers), "rejected": len(junk)}
    assert receipts == total
    assert ours.count(1) == len(sent)
    assert cases == (5 * len(registers), len(registers))
    assert len(gaps) >= len(sent) - 2 * BEFORE  # every message of the outage was nak'ed
    assert every_gap and min(every_gap) >= NAK_DELAY_S - 0.5
    assert redelivered > 0
    assert dead == 0  # a transient outage is retried, never dead-lettered
