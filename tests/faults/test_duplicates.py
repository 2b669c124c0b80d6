"""Fault 5: 200 publishes of the same package — 10 gateways of one МО at once, 20 each.

One package row, one protocol for it; every other publish is either dropped by JetStream
(PubAck.duplicate, inside its duplicate window) or, stored as a new message, answered
805 naming the first receipt. The hub runs a 1 s duplicate window and the gateways
publish over a few seconds, so both kinds of repeat happen.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from messages.gateway import Published
from tests.builders import register
from tests.faults.conftest import out_messages, own_hub, repeat_answers

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(180)]

GATEWAYS, EACH = 10, 20


async def test_200_concurrent_repeats_of_one_package_give_one_package_and_one_protocol(
    tmp_path: Path,
) -> None:
    name, data = register("HM640001S64004_25111", n=3)
    t0 = time.monotonic()
    with own_hub(tmp_path, in_duplicate_window_s="1") as hub:
        await hub.insure((name, data))
        gateways = [await hub.gateway("mo.640001") for _ in range(GATEWAYS)]

        async def repeat(gw_index: int) -> list[Published]:
            out = []
            for _ in range(EACH):
                out.append(await gateways[gw_index].publish(data, name))
                await asyncio.sleep(0.2)
            return out

        t_publish = time.monotonic()
        sent = [p for batch in await asyncio.gather(*map(repeat, range(GATEWAYS))) for p in batch]
        t_published = time.monotonic()
        stored = sorted({p.seq for p in sent if not p.duplicate})
        sha = sent[0].sha256
        hub.wait_for(
            "SELECT count(*), sum(published_at IS NOT NULL) FROM outbox WHERE kind = 'protocol'"
            " AND package_id = (SELECT id FROM package WHERE sha256 = :s)",
            lambda r: r == [(len(stored), len(stored))],
            timeout=60,
            s=sha,
        )
        t_done = time.monotonic()
        for gw in gateways:
            await gw.close()
        packages = hub.sql("SELECT id, state, result FROM package WHERE sha256 = :s", s=sha)
        receipts = hub.sql(
            "SELECT count(*), sum(duplicate) FROM receipt WHERE package_id = :p", p=packages[0][0]
        )[0]
        cases = hub.sql("SELECT count(*) FROM carecase WHERE package_id = :p", p=packages[0][0])
        outs = [o for o in await out_messages(hub.nats.url) if o.sha256 == sha]
    firsts = [o for o in outs if o.first]
    repeats = repeat_answers(outs)
    codes = Counter(tuple(p.oshib for p in o.protocol().problems) for o in repeats)
    answered = sorted(int(o.headers["Oms-Receipt"]) for o in repeats)
    print(
        f"\nfault 5 ({GATEWAYS} gateways × {EACH} publishes of the same bytes):"
        f" publishes={len(sent)} dropped by JetStream (PubAck.duplicate)="
        f"{sum(p.duplicate for p in sent)} stored={len(stored)} (seq {stored})\n"
        f"  hub: packages={len(packages)} {packages} receipts={receipts[0]}"
        f" (repeats {receipts[1]}) cases={cases[0][0]}; OMS_OUT: protocols={len(firsts)}"
        f" ({firsts[0].headers.get('Oms-Result') if firsts else None}) 805 answers"
        f"={len(repeats)} {dict(codes)}\n"
        f"  timings: publishing {t_published - t_publish:.1f} s, answered"
        f" {t_done - t_publish:.1f} s, {t_done - t0:.1f} s in all"
    )
    assert len(sent) == GATEWAYS * EACH
    assert len(packages) == 1 and packages[0][1:] == ("applied", "A")
    assert receipts == (len(stored), len(stored) - 1)
    assert cases == [(3,)]
    assert len(firsts) == 1 and firsts[0].headers["Oms-Receipt"] == str(stored[0])
    assert answered == stored[1:] and set(codes) == {("805",)}
    assert len(stored) >= 2  # the window did expire between some publishes
