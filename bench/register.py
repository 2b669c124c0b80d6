"""``make bench-register``: one big register through the running hub, beside its floor.

One generated register (H + L, ``BENCH_CASES`` cases, default 100000, ~2 SL × 2 USL
each) goes through a real hub — embedded nats-server and Valkey, ``omsx ingest`` and
``omsx worker`` processes — on SQLite and on PostgreSQL (``BENCH_DBS``, default both):

- before the clock starts, an erz package insures the register's people (МЭК reads it);
- ``hub``: from the publish (through the object store) until the protocol is out and
  the forward to the СМО is published; the protocol goes out only after every row is
  committed, and the bench then counts the rows;
- ``floor``: in one process, streaming validation of both files (lxml, each record
  against our XSD) plus a Core bulk insert of the same rows (cases, SL, USL, persons)
  into the same kind of database.

Targets (issue "registry"): hub ≤ 3 × floor; no process above 300 MB resident. Peak
memory is each process's high-water mark (VmHWM), read before it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.common import OMSX, bench_dbs, measure, peak_mb, postgres_for, save, table
from bench.common import descendants as _descendants
from bench.common import hwm_mb as _hwm_mb
from bench.common import wait_log as _wait_log
from bench.validate import prepare

RSS_LIMIT_MB = 300


# ------------------------------------------------------------------ the data


def write_erz(register_zip: Path, out: Path) -> Path:
    """An erz of СМО 64004 insuring everyone the register names."""
    from tests.builders import erz_for

    name, data = erz_for((register_zip.name, register_zip.read_bytes()), smo="64004")
    path = out / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ the floor


def floor(url: str, zip_path: Path) -> dict[str, float]:
    """Streaming validation + Core bulk insert of the same rows, in this process."""
    from contracts.filecheck import schemas_for
    from contracts.formats import find_format
    from contracts.reader import RecordReader
    from contracts.records import to_kop, to_record
    from storage.bulk import insert_rows
    from storage.care import CareCase, CareSl, CareUsl, Invoice, Person, PersonVersion
    from storage.db import session_scope
    from storage.migrate import upgrade
    from storage.models import Package
    from storage.registry import digest_of
    from workers.persons import person_details
    from workers.registry import _sections

    os.environ["OMSX_DATABASE_URL"] = url
    upgrade(url)
    with session_scope(url) as s:
        pkg = Package(sha256="f" * 64, file_name=zip_path.name, subject="bench", kind="registry")
        s.add(pkg)
        s.flush()
        inv = Invoice(package_id=pkg.id, file_type="H", code_mo="640001", year=2025, month=11,
                      nschet="1", dschet=date(2025, 11, 30), payer="64004")  # fmt: skip
        s.add(inv)
        s.flush()
        package_id, invoice_id = pkg.id, inv.id
    started = time.perf_counter()
    batch = 2000
    pacs: dict[str, str] = {}
    with zipfile.ZipFile(zip_path) as zf:
        main, personal = sorted(zf.namelist(), key=lambda n: n.startswith("L"))
        for member, tag, file_type in ((main, "ZAP", "H"), (personal, "PERS", "L")):
            schema, _shell = schemas_for(find_format(file_type, "3.2"))
            rows: dict[str, list[dict[str, Any]]] = {"c": [], "s": [], "u": [], "p": [], "v": []}
            with zf.open(member) as fh:
                for pos, elem in RecordReader(fh, {tag}):
                    if not schema.validate(elem):
                        raise RuntimeError(f"{member}: record {pos} is not valid")
                    record = to_record(elem)
                    if tag == "ZAP":
                        z = record["Z_SL"]
                        pacs[record["PACIENT"]["ID_PAC"]] = record["PACIENT"].get("ENP")
                        rows["c"].append(
                            {
                                "package_id": package_id,
                                "invoice_id": invoice_id,
                                "pos": pos,
                                "n_zap": record["N_ZAP"],
                                "idcase": z["IDCASE"],
                                "code_mo": "640001",
                                "year": 2025,
                                "month": 11,
                                "id_pac": record["PACIENT"]["ID_PAC"],
                                "enp": record["PACIENT"].get("ENP"),
                                "payer": "64004",
                                "date_z_1": z["DATE_Z_1"],
                                "date_z_2": z["DATE_Z_2"],
                                "sumv_kop": to_kop(z["SUMV"]),
                                "sump_kop": to_kop(z["SUMV"]),
                                "status": "accepted",
                            }
                        )
                        _sections(package_id, pos, record, rows["s"], rows["u"])
                    else:
                        enp = pacs.get(record["ID_PAC"])
                        details = person_details(record)
                        digest = digest_of(details)
                        rows["p"].append({"enp": enp, "digest": digest, "package_id": package_id,
                                          **details})  # fmt: skip
                        rows["v"].append({"enp": enp, "package_id": package_id, "source": "L",
                                          "recorded_on": date(2025, 11, 30), "digest": digest,
                                          **details})  # fmt: skip
                    if len(rows["c"]) + len(rows["p"]) >= batch:
                        _flush(
                            session_scope,
                            url,
                            rows,
                            insert_rows,
                            (CareCase, CareSl, CareUsl, Person, PersonVersion),
                        )
            _flush(
                session_scope,
                url,
                rows,
                insert_rows,
                (CareCase, CareSl, CareUsl, Person, PersonVersion),
            )
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def _flush(
    session_scope: Any, url: str, rows: dict[str, list], insert_rows: Any, models: tuple
) -> None:
    with session_scope(url) as s:
        for key, model in zip("csupv", models, strict=True):
            insert_rows(s, model, rows[key])
            rows[key].clear()


# ------------------------------------------------------------------ the hub


def run_hub(database_url: str, register_zip: Path, erz_zip: Path, root: Path) -> dict[str, Any]:
    from omsx import embedded
    from omsx.embedded import free_port

    nats = embedded.nats_server(free_port(), root / "nats")
    redis = embedded.valkey_server(free_port(), root / "valkey")
    for server in (nats, redis):
        server.start()
        server.wait_ready()
    env = {
        **os.environ,
        "OMSX_NATS_URL": nats.url,
        "OMSX_REDIS_URL": redis.url,
        "OMSX_DATA_DIR": str(root / "var"),
        "OMSX_DATABASE_URL": database_url,
        "OMSX_LOG_FORMAT": "json",
        "OMSX_BROKER": "redis",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for args in (("db", "upgrade"), ("refs", "load", "--seed")):
            subprocess.run([OMSX, *args], env=env, check=True, capture_output=True)
        for name, ready in (("ingest", "ingest.started"), ("worker", "ready for action")):
            log_path = root / f"{name}.log"
            with log_path.open("ab") as log:
                procs.append(
                    subprocess.Popen([OMSX, name], env=env, stdout=log, stderr=subprocess.STDOUT)
                )
            _wait_log(log_path, ready)
        result = asyncio.run(_exchange(nats.url, register_zip, erz_zip))
        peaks = [_hwm_mb(pid) for proc in procs for pid in _descendants(proc.pid)]
        result["peaks"] = sorted((p for p in peaks if p[1]), key=lambda p: -p[1])
        result["rows"] = _count_rows(database_url)
        return result
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in (nats, redis):
            server.stop()


async def _exchange(url: str, register_zip: Path, erz_zip: Path) -> dict[str, Any]:
    from nats.js.api import ConsumerConfig, DeliverPolicy

    from contracts.filenames import Party
    from messages.gateway import Gateway
    from messages.streams import OUT_STREAM

    smo = await Gateway.connect(url, Party.from_token("smo.64004"))
    mo = await Gateway.connect(url, Party.from_token("mo.640001"))
    try:
        erz = await smo.wait_protocol(await smo.publish_file(erz_zip), timeout=1800)
        if erz.protocol.result != "A":
            raise RuntimeError(f"the erz was not accepted: {erz.raw[:500]!r}")
        since = datetime.now(UTC)
        started = time.perf_counter()
        sent = await mo.publish_file(register_zip)
        got = await mo.wait_protocol(sent, timeout=3600)
        protocol_s = time.perf_counter() - started
        sub = await smo.js.subscribe(
            "oms.out.smo.64004.registry",
            stream=OUT_STREAM,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since),
        )
        msg = await sub.next_msg(timeout=600)
        forward_s = time.perf_counter() - started
        await sub.unsubscribe()
        return {
            "seconds": max(protocol_s, forward_s),
            "protocol_s": protocol_s,
            "result": got.protocol.result,
            "n_acc": got.protocol.n_acc,
            "forward_records": (msg.headers or {}).get("Oms-Records"),
            "forward_via_object": bool((msg.headers or {}).get("Oms-Object")),
        }
    finally:
        await smo.close()
        await mo.close()


def _count_rows(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("carecase", "caresl", "careusl", "person", "personversion", "insurance")
        }


# ------------------------------------------------------------------ the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "URL", "ZIP"))
    args = parser.parse_args()
    if args.one:
        _method, url, zip_path = args.one
        print(json.dumps(floor(url, Path(zip_path))))
        return
    cases = int(os.environ.get("BENCH_CASES", "100000"))
    dbs = bench_dbs()
    register_zip = prepare(cases)
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="omsx-bench-") as tmp:
        root = Path(tmp)
        erz_zip = write_erz(register_zip, root)
        with postgres_for(root, dbs) as pg_database:
            for db in dbs:
                if db == "sqlite":
                    floor_url = f"sqlite:///{root / 'floor.db'}"
                    hub_url = f"sqlite:///{root / db / 'var' / 'omsx.db'}"
                else:
                    floor_url = pg_database("bench_floor")
                    hub_url = pg_database("bench_hub")
                measured_floor = measure("bench.register", "floor", floor_url, str(register_zip))
                hub = run_hub(hub_url, register_zip, erz_zip, root / db)
                ratio = hub["seconds"] / measured_floor["seconds"]
                top = hub["peaks"][0] if hub["peaks"] else ("", 0.0)
                rows.append(
                    [
                        db,
                        measured_floor["seconds"],
                        measured_floor["peak_mb"],
                        hub["seconds"],
                        hub["protocol_s"],
                        ratio,
                        top[1],
                        hub["rows"]["carecase"],
                        hub["forward_records"],
                    ]
                )
                results[db] = {"floor": measured_floor, "hub": hub, "ratio": ratio}
    print(f"register: {cases} cases, {register_zip.stat().st_size / 2**20:.1f} MiB zipped")
    print(
        table(
            [
                "db",
                "floor s",
                "floor MB",
                "hub s",
                "protocol s",
                "hub/floor",
                "max RSS MB",
                "cases stored",
                "forwarded",
            ],
            rows,
        )
    )
    for db, r in results.items():
        print(f"{db}: peak resident memory per process (MB):")
        for cmd, mb in r["hub"]["peaks"][:8]:
            print(f"  {mb:8.1f}  {cmd}")
    ok = all(r["ratio"] <= 3 for r in results.values()) and all(
        mb <= RSS_LIMIT_MB for r in results.values() for _c, mb in r["hub"]["peaks"]
    )
    print(
        f"targets (hub ≤ 3 × floor, every process ≤ {RSS_LIMIT_MB} MB): "
        f"{'met' if ok else 'NOT met'}"
    )
    save("register", {"cases": cases, "results": results})


if __name__ == "__main__":
    main()
