"""Benchmark: the daily consolidation of one day for a region of 200 МО and 4 СМО with
50,000 events that day (the issue's target: under a minute on 2 cores), on SQLite and
PostgreSQL, against its floor measured in the same run.

The database is filled directly (bulk inserts, not the pipeline) with a seeded region:
the day's events across the seven categories, 90 days of history before it (oncology
pathways, dispensary registrations, consultations, schedules), 6,000 hospital
referrals, free beds, cases of care for the dispensary check, and the day's packages
with their protocols for the conservation check.

- floor: one ``GROUP BY`` over the day's events (what any report must at least read);
- consolidate: :func:`workers.daily.consolidate` — build, store, queue the extracts.

``make bench-daily``; ``BENCH_EVENTS`` (default 50000) and ``BENCH_DBS``
(default ``sqlite,postgres``) change the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import bench_dbs, measure, peak_mb, postgres_for, save, table

DAY = date(2026, 11, 22)
MOS = [f"64{n:04d}" for n in range(1, 201)]
SMOS = ["64001", "64002", "64003", "64004"]
PEOPLE = 200_000
HISTORY_DAYS = 90
LIMIT_S = 60.0

# kind → (category, share of the day's events, details to draw from)
MIX: dict[str, tuple[int, float, tuple[str, ...]]] = {
    "exam.done": (1, 0.12, ("DP:1", "DP:2", "DP:31", "DP:32", "DV:1", "DO:2")),
    "exam.dispensary": (1, 0.03, ("I10", "E11.9")),
    "exam.referral": (1, 0.05, ("1", "3", "5")),
    "onco.suspicion": (2, 0.03, ("D48.5",)),
    "onco.consultation": (2, 0.02, ("2",)),
    "onco.diagnosis": (2, 0.02, ("C16.9", "C50.9")),
    "onco.treatment": (2, 0.02, ("0",)),
    "hosp.referral": (3, 0.06, ("97", "112", "136")),
    "hosp.planned": (3, 0.05, ("97", "112", "136")),
    "hosp.emergency": (3, 0.05, ("97", "112")),
    "hosp.discharge": (3, 0.08, ("1", "2")),
    "hosp.cancelled": (3, 0.01, ("1", "2", "3", "4")),
    "tmk.request": (4, 0.03, ("",)),
    "tmk.consultation": (4, 0.03, ("",)),
    "tmk.implemented": (4, 0.02, ("",)),
    "appeal.received": (6, 0.05, ("1", "2", "3", "4")),
    "appeal.answered": (6, 0.04, ("1", "2", "3")),
    "mek.refused": (7, 0.19, ("002K.00.0330", "005K.64.0001")),
    "expert.mee": (7, 0.06, ("5.1.1",)),
    "expert.ekmp": (7, 0.04, ("3.2.1",)),
}


def _enp(n: int) -> str:
    return f"64{n:014d}"


def fill(url: str, events: int, seed: int = 7) -> dict[str, int]:
    """A region's day and its history (deterministic by ``seed``)."""
    from storage.bulk import insert_rows
    from storage.care import CareCase, Invoice
    from storage.db import session_scope
    from storage.events import BedReport, Event, HospReferral
    from storage.migrate import upgrade
    from storage.models import Outbox, Package, Receipt

    upgrade(url)
    rng = random.Random(seed)
    now = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC)
    with session_scope(url) as s:
        packages = [
            {"sha256": f"{i:064x}", "file_name": f"P{i}.zip", "subject": "oms.in.mo.x.registry",
             "sender_role": "mo", "sender_code": MOS[i % len(MOS)], "kind": "registry",
             "state": "applied", "result": "A", "received_at": now, "updated_at": now}
            for i in range(1, 1001)
        ]  # fmt: skip
        insert_rows(s, Package, packages)
        ids = [p for (p,) in s.execute(Package.__table__.select().with_only_columns(
            Package.__table__.c.id).order_by(Package.__table__.c.id))]  # fmt: skip
        insert_rows(s, Receipt, [{"stream_seq": i, "package_id": pid, "received_at": now}
                                 for i, pid in enumerate(ids, 1)])  # fmt: skip
        insert_rows(s, Outbox, [
            {"package_id": pid, "subject": "oms.out.mo.x.protocol", "msg_id": f"protocol-{i}",
             "file_name": "V.xml", "kind": "protocol", "receipt_seq": i, "body": b"<x/>",
             "headers": "{}", "created_at": now, "published_at": now}
            for i, pid in enumerate(ids, 1)
        ])  # fmt: skip
    kinds = list(MIX)
    weights = [MIX[k][1] for k in kinds]
    written = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal written
        with session_scope(url) as s:
            insert_rows(s, Event, batch)
        written += len(batch)
        batch.clear()

    pos = 0
    for when, count in [(DAY, events)] + [
        (DAY - timedelta(days=k), events // 10) for k in range(1, HISTORY_DAYS + 1)
    ]:
        for kind in rng.choices(kinds, weights, k=count):
            category, _share, details = MIX[kind]
            pos += 1
            person = rng.randrange(PEOPLE)
            batch.append({
                "day": when, "category": category, "kind": kind, "enp": _enp(person),
                "mo": MOS[person % len(MOS)], "smo": SMOS[person % len(SMOS)],
                "ref": f"r{rng.randrange(events * 2)}", "detail": rng.choice(details),
                "amount_kop": rng.randrange(100_000) if category == 7 else 0,
                "package_id": ids[pos % len(ids)], "pos": pos, "n": 0,
            })  # fmt: skip
            if len(batch) >= 20_000:
                flush()
    for i, mo in enumerate(MOS):  # the schedules in force: 20 units per МО
        for unit in range(20):
            pos += 1
            batch.append({
                "day": DAY - timedelta(days=30), "category": 5, "kind": "schedule.unit",
                "mo": mo, "ref": f"u{unit}", "detail": ("E" if unit % 3 == 0 else "")
                + ("S" if unit % 4 == 0 else ""), "amount_kop": 0, "package_id": ids[i],
                "pos": pos, "n": 0,
            })  # fmt: skip
    flush()
    with session_scope(url) as s:
        insert_rows(s, HospReferral, [
            {"id_d": f"d{i}", "date_d": DAY - timedelta(days=rng.randrange(60)),
             "mo_d": rng.choice(MOS), "mo_h": rng.choice(MOS),
             "profil": rng.choice(MIX["hosp.planned"][2]),
             "date_hosp": DAY - timedelta(days=rng.randrange(-10, 40)),
             "enp": _enp(rng.randrange(PEOPLE)), "smo": rng.choice(SMOS), "package_id": ids[0],
             "admitted_on": DAY if i % 5 == 0 else None, "cancelled_on": None}
            for i in range(6000)
        ])  # fmt: skip
        insert_rows(s, BedReport, [
            {"mo": mo, "date_pl": DAY, "profil": profil, "profil_k": "", "free": rng.randrange(20),
             "package_id": ids[0]}
            for mo in MOS for profil in ("97", "112", "136")
        ])  # fmt: skip
        insert_rows(s, Invoice, [{"package_id": ids[0], "file_type": "H", "code_mo": MOS[0],
                                  "year": DAY.year, "month": DAY.month, "nschet": "1",
                                  "dschet": DAY, "payer": SMOS[0]}])  # fmt: skip
        invoice = s.execute(
            Invoice.__table__.select().with_only_columns(Invoice.__table__.c.id)
        ).scalar_one()
        insert_rows(s, CareCase, [
            {"package_id": ids[0], "invoice_id": invoice, "pos": i, "n_zap": str(i),
             "idcase": str(i), "code_mo": MOS[0], "year": DAY.year, "month": DAY.month,
             "id_pac": str(i), "enp": _enp(rng.randrange(PEOPLE)), "payer": SMOS[0],
             "status": "accepted", "date_z_1": DAY - timedelta(days=rng.randrange(30))}
            for i in range(1, 20_001)
        ])  # fmt: skip
    return {"events": written, "events_of_day": events}


def floor(url: str) -> dict[str, float]:
    """Read and count the day's events per МО and kind: the least a report does."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    started = time.perf_counter()
    with engine.connect() as conn:
        groups = conn.execute(
            text("SELECT mo, kind, count(*) FROM event WHERE day = :d GROUP BY mo, kind"),
            {"d": DAY},
        ).all()
    return {"seconds": time.perf_counter() - started, "groups": len(groups), "peak_mb": peak_mb()}


def consolidate(url: str) -> dict[str, float]:
    os.environ["OMSX_DATABASE_URL"] = url
    from omsx.settings import get_settings
    from workers.daily import consolidate as run

    get_settings.cache_clear()
    started = time.perf_counter()
    done = run(DAY)
    return {
        "seconds": time.perf_counter() - started,
        "events": done.events,
        "figures": done.figures,
        "accompany": done.accompany,
        "extracts": done.extracts,
        "peak_mb": peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "URL"))
    args = parser.parse_args()
    os.environ.setdefault("OMSX_BROKER", "stub")
    if args.one:
        method, url = args.one
        print(json.dumps({"floor": floor, "consolidate": consolidate}[method](url)))
        return
    events = int(os.environ.get("BENCH_EVENTS", "50000"))
    dbs = bench_dbs()
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="omsx-bench-daily-") as tmp:
        root = Path(tmp)
        with postgres_for(root, dbs) as pg_database:
            for db in dbs:
                if db == "sqlite":
                    url = f"sqlite:///{root / 'daily.db'}"
                else:
                    url = pg_database("bench_daily")
                filled = fill(url, events)
                low = measure("bench.daily", "floor", url)
                hub = measure("bench.daily", "consolidate", url)
                rows.append([db, filled["events_of_day"], filled["events"], low["seconds"],
                             hub["seconds"], hub["seconds"] / max(low["seconds"], 1e-9),
                             hub["peak_mb"], int(hub["figures"]), int(hub["accompany"]),
                             int(hub["extracts"])])  # fmt: skip
                results[db] = {"filled": filled, "floor": low, "consolidate": hub}
    print(f"daily: {len(MOS)} МО, {len(SMOS)} СМО, {events} events on {DAY}, "
          f"{HISTORY_DAYS} days of history")  # fmt: skip
    print(table(["db", "events (day)", "events (all)", "floor s", "consolidate s", "ratio",
                 "max RSS MB", "figures", "accompany", "extracts"], rows))  # fmt: skip
    ok = all(r["consolidate"]["seconds"] < LIMIT_S for r in results.values())
    print(f"target (consolidate < {LIMIT_S:.0f} s): {'met' if ok else 'NOT met'}")
    save("daily", {"events": events, "results": results})


if __name__ == "__main__":
    main()
