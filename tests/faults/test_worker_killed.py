"""Fault 1: a worker killed (SIGKILL) in the middle of applying a 20k-case register.

After the worker restarts, the sweeper (the scheduler runs throughout, its stage
deadline cut to 5 s) re-drives the package; the applier resumes at the first batch that
did not commit. Case count and money equal what the file states and nothing is written
twice. One person in 250 is left uninsured, so МЭК refuses cases in every batch and the
protocol's counts must add up across the two runs too.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Hub
from tests.faults.conftest import (
    BigRegister,
    out_messages,
    own_hub,
    protocols_per_package,
    restart_worker,
)

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(420)]

BATCH = 1000


def one(hub: Hub, query: str, **params: object) -> object:
    rows = hub.sql(query, **params)
    assert len(rows) == 1, (query, rows)
    return rows[0][0] if len(rows[0]) == 1 else rows[0]


async def test_a_worker_killed_mid_apply_loses_and_doubles_nothing_of_a_20k_register(
    tmp_path: Path, big_register: BigRegister
) -> None:
    facts = big_register.facts
    main_batches = -(-facts.records // BATCH)
    t0 = time.monotonic()
    with own_hub(
        tmp_path, scheduler=True, apply_batch=str(BATCH), stage_deadline_s="5",
        sweep_interval_s="1",
    ) as hub:  # fmt: skip
        erz_name, erz_data = big_register.erz
        gw = await hub.gateway("smo.64004")
        async with gw:
            got = await gw.wait_protocol(await gw.publish(erz_data, erz_name), timeout=120)
        assert got.protocol.result == "A"
        t_erz = time.monotonic()
        gw = await hub.gateway("mo.640001")
        async with gw:
            sent = await gw.publish(big_register.data, big_register.name)
            stored = hub.wait_for("SELECT id FROM package WHERE sha256 = :s", s=sent.sha256)
            package_id = stored[0][0]
            progress = "SELECT coalesce(max(batches), 0) FROM applyprogress WHERE package_id = :p"
            at_kill = main_batches // 4
            done = hub.wait_for(progress, lambda r: r[0][0] >= at_kill, timeout=180, p=package_id)
            hub.kill("worker")  # SIGKILL: the apply dies between two batches or inside one
            t_kill = time.monotonic()
            killed_at = one(hub, progress, p=package_id)
            cases_at_kill = one(hub, "SELECT count(*) FROM carecase WHERE package_id = :p",
                                p=package_id)  # fmt: skip
            state_at_kill = one(hub, "SELECT state FROM package WHERE id = :p", p=package_id)
            assert state_at_kill == "applying" and 0 < killed_at < main_batches, done
            restart_worker(hub)
            protocol = (await gw.wait_protocol(sent, timeout=240)).protocol
        t_done = time.monotonic()
        hub.wait_for(  # the forward to the СМО follows the protocol out of the outbox
            "SELECT count(*) FROM outbox WHERE package_id = :p AND published_at IS NULL",
            lambda r: r == [(0,)], timeout=60, p=package_id,
        )  # fmt: skip
        outs = await out_messages(hub.nats.url)
        state, result, n_acc, n_rej, attempts = one(
            hub, "SELECT state, result, n_acc, n_rej, attempts FROM package WHERE id = :p",
            p=package_id,
        )  # type: ignore[misc]  # fmt: skip
        cases, sumv, accepted, refused, sump, refused_kop = one(
            hub,
            "SELECT count(*), sum(sumv_kop), sum(status = 'accepted'), sum(status = 'refused'),"
            " sum(sump_kop), sum(refused_kop) FROM carecase WHERE package_id = :p",
            p=package_id,
        )  # type: ignore[misc]
        distinct = one(hub, "SELECT count(DISTINCT pos) FROM carecase WHERE package_id = :p",
                       p=package_id)  # fmt: skip
        sls = one(hub, "SELECT count(*) FROM caresl WHERE package_id = :p", p=package_id)
        usls = one(hub, "SELECT count(*) FROM careusl WHERE package_id = :p", p=package_id)
        invoice = one(
            hub,
            "SELECT count(*), sum(summav_kop), sum(presented_kop), sum(accepted_kop),"
            " sum(refused_kop), sum(cases), sum(accepted), sum(refused), min(complete)"
            " FROM invoice WHERE package_id = :p",
            p=package_id,
        )
        timeline = dict(
            hub.sql(
                "SELECT stage || ':' || outcome, count(*) FROM packageevent"
                " WHERE package_id = :p GROUP BY stage, outcome",
                p=package_id,
            )
        )
        mek = one(hub, "SELECT count(*) FROM recordproblem WHERE package_id = :p", p=package_id)
        forwards = sum(1 for o in outs if o.kind == "registry" and o.headers.get("Oms-Source")
                       == sent.sha256)  # fmt: skip
    print(
        f"\nfault 1 (worker killed mid-apply): file records={facts.records} SD_Z={facts.sd_z}"
        f" SUMMAV={facts.summav_kop / 100:.2f} SL={facts.sl} USL={facts.usl} PERS={facts.persons}"
        f" uninsured people={big_register.uninsured}; batch={BATCH}"
        f" ({main_batches} main batches)\n"
        f"  at the kill: batches committed={killed_at} cases={cases_at_kill}"
        f" state={state_at_kill}\n"
        f"  after restart: state={state} result={result} cases={cases} (distinct pos"
        f" {distinct}) SL={sls} USL={usls} sum SUMV={sumv / 100:.2f} accepted={accepted}"
        f" refused={refused} (МЭК lines {mek}); invoice={invoice};"
        f" protocol n_acc={protocol.n_acc} n_rej={protocol.n_rej}; timeline={timeline}"
        f" attempts={attempts}; protocols on OMS_OUT={protocols_per_package(outs)[sent.sha256]}"
        f" forwards={forwards}\n"
        f"  timings: erz {t_erz - t0:.1f} s, kill at {t_kill - t_erz:.1f} s,"
        f" resumed to done {t_done - t_kill:.1f} s"
    )
    assert (state, result) == ("applied", "P")  # P: some cases refused
    assert cases == distinct == facts.records == facts.sd_z
    assert (sls, usls) == (facts.sl, facts.usl)
    assert sumv == facts.sumv_kop == facts.summav_kop
    assert sump + refused_kop == sumv
    assert refused > 0 and accepted + refused == cases
    assert invoice == (1, facts.summav_kop, facts.summav_kop, sump, refused_kop, cases,
                       accepted, refused, True)  # fmt: skip
    assert (protocol.n_acc, protocol.n_rej) == (n_acc, n_rej) == (accepted, refused)
    assert timeline["apply:started"] >= 2  # the killed run and the re-driven one
    assert timeline["validate:started"] == 1  # FLK ran long, but beating: never re-driven
    assert protocols_per_package(outs)[sent.sha256] == 1
    assert forwards == 1
