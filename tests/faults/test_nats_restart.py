"""Fault 3: nats-server restarted (same port, same store) while a gateway publishes 1,000
packages. The gateway retries a publish that fails; every publish JetStream acknowledged
gets exactly one protocol on OMS_OUT, and none gets more.

The packages are small and distinct: 40 valid one-case registers (applied, forwarded to
their СМО; the generator keeps IDCASE unique per МО and period only across 10 numbers and
4 СМО), spread among bytes that are no ZIP (answered 801 by validation) — cheap enough
for 1,000 to pass through the hub in the suite's time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from nats.errors import Error as NatsError

from messages.gateway import Gateway, Published
from omsx.errors import TransportUnavailable
from tests.builders import register
from tests.faults.conftest import out_messages, own_hub, protocols_per_package, repeat_answers

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(300)]

PACKAGES = 1000
VALID = 40  # one in 25
RESTART_AFTER = 300  # acknowledged publishes before the restart
DOWN_S = 2.0  # how long the server stays down


def valid_register(k: int) -> tuple[str, bytes]:
    return register(f"HM640001S6400{1 + k // 10}_2511{1000 + k}", n=1, seed=k)


def packages() -> list[tuple[str, bytes]]:
    out = []
    for i in range(PACKAGES):
        if i % (PACKAGES // VALID) == PACKAGES // VALID // 2:
            out.append(valid_register(len(out) // (PACKAGES // VALID)))
        else:
            out.append((f"HM640001S64004_2511{i + 1}.zip", f"not a zip: package {i}".encode()))
    return out


async def publish_retrying(
    gw: Gateway, data: bytes, name: str, failures: Counter[str]
) -> Published:
    """Publish until JetStream acknowledges, as a gateway does (same bytes, same id)."""
    while True:
        try:
            return await asyncio.wait_for(gw.publish(data, name), timeout=5)
        except (TimeoutError, NatsError, TransportUnavailable) as exc:
            failures[type(exc).__name__] += 1
            await asyncio.sleep(0.2)


async def test_every_acknowledged_publish_gets_one_protocol_across_a_nats_restart(
    tmp_path: Path,
) -> None:
    batch = packages()
    valid = [p for p in batch if p[1].startswith(b"PK")]
    assert len(valid) == VALID
    t0 = time.monotonic()
    with own_hub(tmp_path, apply_busy_delay_s="0.2") as hub:
        hub.start("ingest-2", "ingest")  # two instances share the consumer, as deployed
        hub.wait_log("ingest-2", "ingest.started")
        await asyncio.gather(*(  # each СМО insures the people of its registers
            hub.insure(*(p for p in valid if p[0][9:14] == smo), smo=smo)
            for smo in ("64001", "64002", "64003", "64004")
        ))  # fmt: skip
        failures: Counter[str] = Counter()
        acked: list[Published] = []
        restarted = asyncio.Event()

        async def restart_nats() -> None:
            while len(acked) < RESTART_AFTER:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(hub.nats.stop)  # SIGTERM, as an operator's restart
            await asyncio.sleep(DOWN_S)
            hub.nats.start()
            await asyncio.to_thread(hub.nats.wait_ready)
            restarted.set()

        restarter = asyncio.create_task(restart_nats())
        gw = await hub.gateway("mo.640001")
        t_publish = time.monotonic()
        async with gw:
            for name, data in batch:
                acked.append(await publish_retrying(gw, data, name, failures))
                await asyncio.sleep(0.004)  # a gateway's pace, so the restart lands mid-way
            t_published = time.monotonic()
            await restarter
            assert restarted.is_set()
            ids = {p.sha256 for p in acked}
            hub.wait_for(
                "SELECT count(*) FROM outbox WHERE kind = 'protocol' AND published_at IS NULL"
                " UNION ALL SELECT count(*) FROM package WHERE state NOT IN"
                " ('applied', 'rejected', 'duplicate')",
                lambda r: r == [(0,), (0,)] and hub.sql("SELECT count(*) FROM package")[0][0]
                >= len(ids) + 4,
                timeout=240,
            )  # fmt: skip
        t_done = time.monotonic()
        # a pull answered 503 while JetStream came back once ended an ingest process
        codes = {name: hub.procs[name].poll() for name in ("ingest", "ingest-2")}
        exited = {name: code for name, code in codes.items() if code is not None}
        outs = await out_messages(hub.nats.url)
        per_package = protocols_per_package(outs)
        states = dict(hub.sql("SELECT state, count(*) FROM package GROUP BY state"))
        receipts = hub.sql("SELECT count(*) FROM receipt")[0][0]
        redelivered = sum(
            hub.log(i).count('"outcome": "redelivery"') for i in ("ingest", "ingest-2")
        )
    duplicates = sum(p.duplicate for p in acked)
    mine = {sha: per_package[sha] for sha in ids}
    repeats = repeat_answers(outs)
    results = Counter(o.headers.get("Oms-Result") for o in outs if o.first and o.sha256 in ids)
    forwards = sum(1 for o in outs if o.kind == "registry")
    print(
        f"\nfault 3 (nats-server down {DOWN_S:.0f} s after {RESTART_AFTER} acks): publishes acked"
        f"={len(acked)} distinct={len(ids)} acked as JetStream duplicates={duplicates}"
        f" failed attempts retried={dict(failures)}\n"
        f"  OMS_OUT: protocols for acked packages={sum(mine.values())} (packages with"
        f" exactly one: {sum(1 for n in mine.values() if n == 1)}, with more:"
        f" {sum(1 for n in mine.values() if n > 1)}, with none:"
        f" {sum(1 for n in mine.values() if n == 0)}) results={dict(results)}"
        f" 805 repeats={len(repeats)} forwards={forwards}\n"
        f"  hub: packages by state={states} receipts={receipts} ingest redeliveries"
        f"={redelivered}\n"
        f"  timings: setup {t_publish - t0:.1f} s, publishing {t_published - t_publish:.1f} s,"
        f" all answered {t_done - t_publish:.1f} s"
    )
    assert not exited, f"ingest processes exited across the restart: {exited}"
    assert len(ids) == PACKAGES
    assert all(n == 1 for n in mine.values()), {s: n for s, n in mine.items() if n != 1}
    assert sum(per_package.values()) == len(ids) + 4  # and the erz packages'
    assert not repeats
    assert results == {"A": VALID, "R": PACKAGES - VALID}
    assert forwards == VALID
