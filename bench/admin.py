"""``make bench-admin``: the admin's package search and person card on a full region,
through the real app, beside their floor (issue "Admin": under 200 ms at p95 with 1M
cases and 100k packages).

Each database (SQLite file, embedded PostgreSQL; ``BENCH_DBS``) gets the schema from the
project's migrations and is filled with bulk inserts (COPY on PostgreSQL): 100,000
packages over a year from 200 МО and 4 СМО (the real naming scheme, kinds, periods,
states), 1,000,000 cases of care on 200,000 persons (a few hundred with ~300 cases each)
with their invoices, a person, a version, insurance and attachment for each, and 500,000
events. PostgreSQL is then ``VACUUM ANALYZE``d (what autovacuum does after a load);
SQLite gets no ``ANALYZE`` (the hub never runs one).

Then one child process per database (``--one measure URL``) logs in as a viewer (sessions
in a real embedded Valkey) and, per scenario, runs ``BENCH_REQUESTS`` (default 200)
requests after a warm-up, each with its own parameters (a random МО, period, ENP …):

- floor: the same query called directly — ``search_packages`` / ``person_card`` in a
  session, no HTTP; and ``GET /health`` (no session: pings the database, Valkey and an
  embedded nats-server) and ``GET /persons`` (the look-up form: session, user, page)
  show what the app's own layers cost;
- app: ``GET /api/packages?…`` / ``POST /api/persons`` through Litestar's TestClient.

The query plans of each scenario (EXPLAIN / EXPLAIN QUERY PLAN of the statements the
floor ran) go to ``bench/results/admin.json``. ``BENCH_CASES`` (default 1000000) and
``BENCH_PACKAGES`` (default 100000) scale the data; persons = cases / 5, events =
cases / 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import bench_dbs, measure, peak_mb, postgres_for, save, table
from bench.daily import MIX, MOS, SMOS
from bench.daily import _enp as enp_of

TARGET_MS = 200.0
TFOMS = "T64"
END = datetime(2026, 11, 22, 12, tzinfo=UTC)  # the newest package
YEAR = timedelta(days=365)
BATCH = 50_000

# kind → (share of packages, sender role, file types with their weights)
KINDS: dict[str, tuple[float, str, dict[str, float]]] = {
    "hosp": (0.40, "mo", {"I01": 0.3, "I03": 0.05, "I04": 0.25, "I05": 0.1, "I06": 0.25,
                          "I07": 0.05}),
    "registry": (0.22, "mo", {"H": 0.75, "C": 0.1, "T": 0.05, "DP": 0.05, "DV": 0.05}),
    "schedule": (0.08, "mo", {"G": 1.0}),
    "attach": (0.08, "mo", {"AT": 1.0}),
    "tmk": (0.08, "any", {"K": 1.0}),
    "erz": (0.06, "smo", {"E": 1.0}),
    "appeal": (0.04, "smo", {"O": 1.0}),
    "expert": (0.04, "smo", {"A": 1.0}),
}  # fmt: skip
STATES = {"applied": 0.86, "rejected": 0.07, "duplicate": 0.03, "failed": 0.01,
          "quarantined": 0.005, "received": 0.005, "validating": 0.005, "checked": 0.005,
          "applying": 0.01}  # fmt: skip
RESULT = {"applied": "A", "rejected": "R"}
NAMES = (
    ("Иванов", "Иван", "Иванович", "1"),
    ("Петрова", "Анна", "Сергеевна", "2"),
    ("Сидоров", "Пётр", "Алексеевич", "1"),
    ("Кузнецова", "Мария", "Ивановна", "2"),
)
PROFILES = ("97", "112", "136", "29", "68", "60")
DIAGNOSES = ("I10", "E11.9", "J06.9", "C50.9", "K29.7", "M54.5", "Z00.0")


def _pick(rng: random.Random, weighted: dict[str, float]) -> str:
    return rng.choices(list(weighted), list(weighted.values()))[0]


# ------------------------------------------------------------------ the data


@contextmanager
def _writer(url: str) -> Iterator[Callable[[Any, list[dict[str, Any]]], None]]:
    """``write(model, rows)`` in one transaction: COPY on PostgreSQL, else
    :func:`storage.bulk.insert_rows` (executemany); the rows are cleared once written."""
    from storage.bulk import _plan, insert_rows, table_of
    from storage.db import session_scope

    with session_scope(url) as s:
        conn = s.connection()
        dialect = conn.dialect

        def write(model: Any, rows: list[dict[str, Any]]) -> None:
            if not rows:
                return
            if dialect.name != "postgresql":
                insert_rows(s, model, rows)
            else:
                t = table_of(model)
                plan = _plan(t, dialect, tuple(rows[0]))  # the columns and defaults insert uses
                quote = dialect.identifier_preparer.quote
                names = ", ".join(quote(key) for key, _default, _process in plan.fields)
                raw = conn.connection.driver_connection
                with (
                    raw.cursor() as cur,
                    cur.copy(f"COPY {quote(t.name)} ({names}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(plan.values(row))
            rows.clear()

        yield write


def _sizes() -> dict[str, int]:
    cases = int(os.environ.get("BENCH_CASES", "1000000"))
    people = max(100, cases // 5)
    return {
        "packages": int(os.environ.get("BENCH_PACKAGES", "100000")),
        "cases": cases,
        "people": people,
        "events": cases // 2,
        "heavy": max(10, people // 400),  # persons with ~300 cases each
    }


def fill(url: str, seed: int = 11) -> dict[str, Any]:
    """The region (deterministic by ``seed``); returns row counts and the ids the
    scenarios draw from."""
    from storage.care import Attachment, CareCase, Insurance, Invoice, Person, PersonVersion
    from storage.events import Event
    from storage.migrate import upgrade
    from storage.models import Package

    upgrade(url)
    size = _sizes()
    rng = random.Random(seed)
    by_kind: dict[str, list[int]] = {k: [] for k in KINDS}
    registers: list[tuple[int, str, str, str]] = []  # id, МО, file type, period
    counters: dict[tuple[str, str], int] = {}
    rows: list[dict[str, Any]] = []
    kinds = list(KINDS)
    kind_weights = [KINDS[k][0] for k in kinds]
    step = YEAR / size["packages"]
    with _writer(url) as write:
        for pid in range(1, size["packages"] + 1):
            kind = rng.choices(kinds, kind_weights)[0]
            _share, role, types = KINDS[kind]
            if role == "any":
                role = rng.choice(("mo", "mo", "smo", "tfoms"))
            code = {"mo": lambda: rng.choice(MOS), "smo": lambda: rng.choice(SMOS),
                    "tfoms": lambda: "64"}[role]()  # fmt: skip
            file_type = _pick(rng, types)
            received = END - YEAR + step * pid + timedelta(seconds=rng.randrange(60))
            of = received - timedelta(days=28) if kind == "registry" else received  # last month
            period = f"{of.year % 100:02d}{of.month:02d}"
            number = counters[code, file_type] = counters.get((code, file_type), 0) + 1
            letter = {"mo": "M", "smo": "S", "tfoms": "T"}[role]
            day = f"{of.day:02d}" if kind == "hosp" else ""
            name = f"{file_type}{letter}{code}{TFOMS}_{period}{day}{number}.zip"
            state = _pick(rng, STATES)
            records = rng.randrange(1, 5000)
            rejected = records if state == "rejected" else rng.randrange(records // 20 + 1)
            rows.append({
                "sha256": f"{pid:064x}", "file_name": name,
                "subject": f"oms.in.{role}.{code}.{kind}", "sender_role": role,
                "sender_code": code, "kind": kind, "file_type": file_type, "period": period,
                "size": rng.randrange(2_000, 20_000_000), "state": state,
                "result": RESULT.get(state), "records": records, "n_acc": records - rejected,
                "n_rej": rejected, "attempts": 1, "received_at": received,
                "updated_at": received + timedelta(seconds=rng.randrange(5, 900)),
            })  # fmt: skip
            by_kind[kind].append(pid)
            if kind == "registry" and state == "applied":
                registers.append((pid, code, file_type, period))
            if len(rows) >= BATCH:
                write(Package, rows)
        write(Package, rows)

    people, heavy_n = size["people"], size["heavy"]
    heavy = rng.sample(range(people), heavy_n)

    def person() -> int:  # 15 % of the cases and 25 % of the events are of the heavy few
        return rng.choice(heavy) if rng.random() < 0.15 else rng.randrange(people)

    with _writer(url) as write:
        for n in range(people):
            fam, im, ot, w = NAMES[n % len(NAMES)]
            details = {"fam": fam, "im": im, "ot": ot, "w": w,
                       "dr": date(1940, 1, 1) + timedelta(days=n % 30_000),
                       "snils": f"{n:011d}", "doctype": "14", "docser": f"{n % 10_000:04d}",
                       "docnum": f"{n % 1_000_000:06d}"}  # fmt: skip
            registry = rng.choice(by_kind["registry"])
            rows.append({"enp": enp_of(n), "digest": f"{n:032x}", "package_id": registry,
                         **details})  # fmt: skip
            if len(rows) >= BATCH:
                write(Person, rows)
        write(Person, rows)
        for n in range(people):
            rows.append({"enp": enp_of(n), "package_id": rng.choice(by_kind["registry"]),
                         "source": "L", "recorded_on": date(2026, 1, 1) + timedelta(days=n % 300),
                         "digest": f"{n:032x}"})  # fmt: skip
            if len(rows) >= BATCH:
                write(PersonVersion, rows)
        write(PersonVersion, rows)
        for n in range(people):
            start = date(2015, 1, 1) + timedelta(days=n % 3000)
            if n % 10 == 0:  # an earlier СМО, closed
                rows.append({"enp": enp_of(n), "smo": SMOS[(n + 1) % 4], "dbeg": start,
                             "dend": start + timedelta(days=300), "closed_by": None,
                             "package_id": rng.choice(by_kind["erz"])})  # fmt: skip
                start += timedelta(days=301)
            rows.append({"enp": enp_of(n), "smo": SMOS[n % 4], "dbeg": start, "dend": None,
                         "closed_by": None, "package_id": rng.choice(by_kind["erz"])})  # fmt: skip
            if len(rows) >= BATCH:
                write(Insurance, rows)
        write(Insurance, rows)
        for n in range(people):
            start = date(2018, 1, 1) + timedelta(days=n % 2000)
            if n % 20 == 0:
                rows.append({"enp": enp_of(n), "mo": MOS[(n + 7) % len(MOS)], "dbeg": start,
                             "dend": start + timedelta(days=200), "method": "2",
                             "doctor": f"{n:014d}",
                             "package_id": rng.choice(by_kind["attach"])})  # fmt: skip
                start += timedelta(days=201)
            rows.append({"enp": enp_of(n), "mo": MOS[n % len(MOS)], "dbeg": start, "dend": None,
                         "method": "1", "doctor": f"{n:014d}",
                         "package_id": rng.choice(by_kind["attach"])})  # fmt: skip
            if len(rows) >= BATCH:
                write(Attachment, rows)
        write(Attachment, rows)

    # one invoice per accepted register; the cases in blocks of consecutive registers
    total = size["cases"]
    with _writer(url) as write:
        for k, (pid, mo, file_type, period) in enumerate(registers):
            yy, mm = int(period[:2]), int(period[2:])
            cases = -(-(k + 1) * total // len(registers)) - -(-k * total // len(registers))
            rows.append({"package_id": pid, "file_type": file_type, "code_mo": mo,
                         "year": 2000 + yy, "month": mm, "nschet": str(pid),
                         "dschet": date(2000 + yy, mm, 28), "payer": SMOS[pid % 4],
                         "cases": cases, "accepted": cases, "refused": 0,
                         "complete": True})  # fmt: skip
        write(Invoice, rows)
    invoice_ids = _invoice_ids(url)
    written = 0
    with _writer(url) as write:
        pos = 0
        current = -1
        for i in range(total):
            k = i * len(registers) // total
            pid, mo, _file_type, period = registers[k]
            pos = pos + 1 if k == current else 1
            current = k
            n = person()
            yy, mm = int(period[:2]), int(period[2:])
            begin = date(2000 + yy, mm, rng.randrange(1, 28))
            refused = rng.random() < 0.07
            sumv = rng.randrange(50_000, 5_000_000)
            rows.append({
                "package_id": pid, "invoice_id": invoice_ids[pid], "pos": pos,
                "n_zap": str(pos), "idcase": f"{pid}-{pos}", "code_mo": mo, "year": 2000 + yy,
                "month": mm, "pr_nov": 0, "out_of_region": False, "id_pac": f"{n:x}",
                "enp": enp_of(n), "payer": SMOS[n % 4],
                "usl_ok": rng.choice("1233"), "vidpom": "13", "for_pom": "3",
                "profil": rng.choice(PROFILES), "ds1": rng.choice(DIAGNOSES),
                "date_z_1": begin, "date_z_2": begin + timedelta(days=rng.randrange(10)),
                "rslt": "101", "ishod": "101", "idsp": "33", "sumv_kop": sumv,
                "sump_kop": 0 if refused else sumv, "refused_kop": sumv if refused else 0,
                "status": "refused" if refused else "accepted",
                "reason": "MEK.005" if refused else None, "f014": "5.1.4" if refused else None,
            })  # fmt: skip
            if len(rows) >= BATCH:
                written += len(rows)
                write(CareCase, rows)
        written += len(rows)
        write(CareCase, rows)
    info = [p for k in ("hosp", "tmk", "appeal", "expert", "schedule") for p in by_kind[k]]
    mix = list(MIX)
    weights = [MIX[k][1] for k in mix]
    with _writer(url) as write:
        for pos in range(1, size["events"] + 1):
            kind = rng.choices(mix, weights)[0]
            category, _share, details = MIX[kind]
            n = rng.choice(heavy) if rng.random() < 0.25 else rng.randrange(people)
            rows.append({
                "day": (END - timedelta(days=rng.randrange(365))).date(), "category": category,
                "kind": kind, "enp": enp_of(n), "mo": MOS[n % len(MOS)], "smo": SMOS[n % 4],
                "ref": f"r{pos}", "detail": rng.choice(details),
                "amount_kop": rng.randrange(100_000) if category == 7 else 0,
                "package_id": rng.choice(info), "pos": pos, "n": 0,
            })  # fmt: skip
            if len(rows) >= BATCH:
                write(Event, rows)
        write(Event, rows)
    _settle(url)
    return {
        "sizes": size,
        "rows": _count_rows(url),
        "heavy": [enp_of(n) for n in heavy],
        "people": people,
        "kinds": {k: len(v) for k, v in by_kind.items()},
    }


def _invoice_ids(url: str) -> dict[int, int]:
    from sqlalchemy import text

    from storage.db import session_scope

    with session_scope(url) as s:
        return {p: i for p, i in s.execute(text("SELECT package_id, id FROM invoice"))}


def _settle(url: str) -> None:
    """PostgreSQL: VACUUM ANALYZE, the state autovacuum leaves after a bulk load."""
    from sqlalchemy import create_engine

    if not url.startswith("postgresql"):
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def _count_rows(url: str) -> dict[str, int]:
    from sqlalchemy import text

    from storage.db import session_scope

    tables = ("package", "invoice", "carecase", "person", "personversion", "insurance",
              "attachment", "event")  # fmt: skip
    with session_scope(url) as s:
        return {t: int(s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in tables}


# ------------------------------------------------------------------ the scenarios


def scenarios(filled: dict[str, Any], rng: random.Random, n: int) -> dict[str, Any]:
    """Scenario → (kind, parameters of each of ``n`` requests)."""
    months = [(END - timedelta(days=30 * k)) for k in range(12)]
    periods = [f"{m.year % 100:02d}{m.month:02d}" for m in months]
    first = (END - YEAR).date()

    def week() -> dict[str, str]:
        since = first + timedelta(days=rng.randrange(358))
        return {"since": since.isoformat(), "until": (since + timedelta(days=6)).isoformat()}

    mo_kinds = [k for k, v in KINDS.items() if v[1] == "mo"]
    people = filled["people"]
    return {
        "search: first page": ("search", [{} for _ in range(n)]),
        "search: participant (МО)": ("search", [{"participant": rng.choice(MOS)}
                                                for _ in range(n)]),
        "search: participant (СМО)": ("search", [{"participant": rng.choice(SMOS)}
                                                 for _ in range(n)]),
        "search: participant + kind": ("search", [
            {"participant": rng.choice(MOS), "kind": rng.choice(mo_kinds)} for _ in range(n)]),
        "search: state": ("search", [{"state": rng.choice(list(STATES))} for _ in range(n)]),
        "search: period": ("search", [{"period": rng.choice(periods)} for _ in range(n)]),
        "search: file-name prefix": ("search", [
            {"file_name": f"{rng.choice(('H', 'I01', 'AT', 'G'))}M{rng.choice(MOS)}"}
            for _ in range(n)]),
        "search: one week": ("search", [week() for _ in range(n)]),
        "search: kind, page 20": ("deep", [{"kind": rng.choice(list(KINDS))} for _ in range(n)]),
        "search: nothing (МО 649999)": ("search", [
            {"participant": "649999", "kind": rng.choice(mo_kinds)} for _ in range(n)]),
        "search: nothing (file name)": ("search", [
            {"file_name": f"HM649{rng.randrange(999):03d}"} for _ in range(n)]),
        "search: nothing (period)": ("search", [
            {"period": f"19{rng.randrange(1, 13):02d}"} for _ in range(n)]),
        "card: heavy person": ("card", [rng.choice(filled["heavy"]) for _ in range(n)]),
        "card: typical person": ("card", [enp_of(rng.randrange(people)) for _ in range(n)]),
        "card: unknown ENP (404)": ("card", [f"77{rng.randrange(10**14):014d}"
                                             for _ in range(n)]),
    }  # fmt: skip


def _where(params: dict[str, str]) -> Any:
    from storage.browse import PackageFilter

    return PackageFilter(
        participant=params.get("participant"),
        kind=params.get("kind"),
        period=params.get("period"),
        state=params.get("state"),
        file_name=params.get("file_name"),
        since=date.fromisoformat(params["since"]) if "since" in params else None,
        until=date.fromisoformat(params["until"]) if "until" in params else None,
    )


def _page_20(params: dict[str, str]) -> dict[str, Any]:
    """``params`` with ``before`` = where its page 20 starts (fewer pages: the last)."""
    from storage.browse import search_packages
    from storage.db import session_scope

    before = None
    with session_scope() as s:
        for _ in range(19):
            page = search_packages(s, _where(params), before=before)
            if page.next_before is None:
                break
            before = page.next_before
    return {**params, "before": before} if before is not None else dict(params)


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {"p50": pct(0.50), "p95": pct(0.95), "max": ordered[-1], "n": len(ordered)}


@contextmanager
def _statements(url: str) -> Iterator[list[tuple[str, Any]]]:
    """The SQL the block sends (statement, parameters), for EXPLAIN."""
    from sqlalchemy import event

    from storage.db import get_engine

    engine = get_engine(url)
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cur: Any, statement: str, parameters: Any, *_a: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _explain(url: str, call: Callable[[], Any]) -> list[str]:
    from storage.db import get_engine

    with _statements(url) as seen:
        call()
    postgres = url.startswith("postgresql")
    plans = []
    with get_engine(url).connect() as conn:
        for statement, parameters in seen:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            found = conn.exec_driver_sql(prefix + statement, parameters).all()
            lines = [r[0] if postgres else f"{'  ' * (r[1] > 0)}{r[3]}" for r in found]
            plans.append(" ".join(statement.split())[:300] + "\n  " + "\n  ".join(lines))
    return plans


def run_measure(url: str, filled_path: str) -> dict[str, Any]:
    """Floor and app for every scenario against ``url`` (sessions in OMSX_REDIS_URL)."""
    os.environ["OMSX_DATABASE_URL"] = url
    from litestar.testing import TestClient

    from admin.app import create_app
    from admin.auth import hash_password
    from omsx.settings import get_settings
    from storage.browse import person_card, search_packages
    from storage.db import session_scope
    from storage.users import AdminUser
    from tests.integration.adminweb import PASSWORD, api_post, log_in

    get_settings.cache_clear()
    filled = json.loads(Path(filled_path).read_text())
    requests = int(os.environ.get("BENCH_REQUESTS", "200"))
    warm = max(5, requests // 10)
    rng = random.Random(5)
    with session_scope() as s:
        s.add(AdminUser(username="bench", password_hash=hash_password(PASSWORD), role="viewer"))
    plan = scenarios(filled, rng, requests + warm)
    out: dict[str, Any] = {}
    with TestClient(app=create_app()) as client:
        assert log_in(client, "bench").status_code == 303

        def timed(fn: Callable[[], Any], times: int) -> list[float]:
            samples = []
            for _ in range(times):
                started = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - started) * 1000)
            return samples

        for name, path in (("app: GET /health (no session; pings)", "/health"),
                           ("app: GET /persons (session, user, page)", "/persons")):  # fmt: skip
            timed(lambda p=path: client.get(p), warm)
            samples = timed(lambda p=path: _ok(client.get(p), 200), requests)
            out[name] = {"floor": None, "app": _stats(samples), "rows": None}

        for name, (kind, drawn) in plan.items():
            params = drawn
            if kind == "deep":
                deep: dict[str, dict[str, Any]] = {}
                for p in drawn:  # one walk per kind
                    if p["kind"] not in deep:
                        deep[p["kind"]] = _page_20(p)
                params = [deep[p["kind"]] for p in drawn]
            floor_samples: list[float] = []
            app_samples: list[float] = []
            rows: list[int] = []
            for i, p in enumerate(params):
                if kind == "card":

                    def direct(enp: str = p) -> Any:
                        with session_scope() as s:
                            return person_card(s, enp)

                    def http(enp: str = p) -> Any:
                        status = 404 if enp.startswith("77") else 200
                        return _ok(api_post(client, "/api/persons", {"enp": enp}), status)

                else:
                    before = p.get("before")
                    query = {k: v for k, v in p.items() if k != "before"}

                    def direct(q: dict[str, str] = query, b: int | None = before) -> Any:
                        with session_scope() as s:
                            return search_packages(s, _where(q), before=b)

                    def http(q: dict[str, Any] = p) -> Any:
                        return _ok(client.get("/api/packages", params=q), 200)

                started = time.perf_counter()  # the app first: the floor gets the warmer cache
                answer = http()
                middle = time.perf_counter()
                found = direct()
                done = time.perf_counter()
                if i < warm:
                    continue
                app_samples.append((middle - started) * 1000)
                floor_samples.append((done - middle) * 1000)
                if kind == "card":
                    rows.append(found.case_count if found.known else 0)
                else:
                    rows.append(len(found.rows))
                    assert len(answer.json()["packages"]) == len(found.rows)
            example = params[warm]
            if kind == "card":
                plans = _explain(url, lambda e=example: direct(e))
            else:
                plans = _explain(
                    url,
                    lambda q=example: direct(
                        {k: v for k, v in q.items() if k != "before"}, q.get("before")
                    ),
                )
            out[name] = {"floor": _stats(floor_samples), "app": _stats(app_samples),
                         "rows": sum(rows) / len(rows), "example": example,
                         "plans": plans}  # fmt: skip
    return {"scenarios": out, "requests": requests, "warm_up": warm, "peak_mb": peak_mb()}


def _ok(response: Any, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return response


# ------------------------------------------------------------------ the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "URL", "FILLED"))
    args = parser.parse_args()
    os.environ.setdefault("OMSX_BROKER", "stub")
    os.environ.setdefault("OMSX_LOG_LEVEL", "WARNING")
    if args.one:
        _method, url, filled_path = args.one
        print(json.dumps(run_measure(url, filled_path), ensure_ascii=False))
        return
    from omsx import embedded
    from omsx.embedded import free_port

    dbs = bench_dbs()
    size = _sizes()
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="omsx-bench-admin-") as tmp:
        root = Path(tmp)
        valkey = embedded.valkey_server(free_port(), root / "valkey")
        nats = embedded.nats_server(free_port(), root / "nats")  # /health pings it
        for server in (valkey, nats):
            server.start()
            server.wait_ready()
        os.environ["OMSX_REDIS_URL"] = valkey.url
        os.environ["OMSX_NATS_URL"] = nats.url
        os.environ["OMSX_DATA_DIR"] = str(root / "var")
        try:
            with postgres_for(root, dbs) as pg_database:
                for db in dbs:
                    url = f"sqlite:///{root / 'admin.db'}" if db == "sqlite" else pg_database(
                        "bench_admin")  # fmt: skip
                    started = time.perf_counter()
                    filled = fill(url)
                    load_s = time.perf_counter() - started
                    print(f"{db}: loaded {filled['rows']} in {load_s:.0f} s", flush=True)
                    filled_path = root / f"{db}.json"
                    filled_path.write_text(json.dumps(filled))
                    got = measure("bench.admin", "measure", url, str(filled_path))
                    for name, r in got["scenarios"].items():
                        floor = r["floor"]["p95"] if r["floor"] else None
                        app = r["app"]
                        rows.append([name, db, floor, app["p50"], app["p95"], app["max"],
                                     "yes" if app["p95"] < TARGET_MS else "NO",
                                     r["rows"]])  # fmt: skip
                    results[db] = {"load_s": load_s, "rows": filled["rows"], **got}
        finally:
            for server in (valkey, nats):
                server.stop()
    print(f"admin: {size['packages']} packages, {size['cases']} cases, {size['people']} persons, "
          f"{size['events']} events; {results and next(iter(results.values()))['requests']} "
          f"requests per scenario; ms")  # fmt: skip
    print(table(["scenario", "db", "floor p95", "app p50", "app p95", "app max",
                 f"p95 < {TARGET_MS:.0f} ms", "rows (avg)"], rows))  # fmt: skip
    for db, r in results.items():
        print(f"{db}: load {r['load_s']:.0f} s")
    for db, r in results.items():
        for name, got in r["scenarios"].items():
            if got["app"]["p95"] >= TARGET_MS and got.get("plans"):
                print(f"{db}, {name}: the plans of its statements\n" + "\n".join(got["plans"]))
    ok = all(row[6] == "yes" for row in rows)
    print(f"target (app p95 < {TARGET_MS:.0f} ms in every scenario): {'met' if ok else 'NOT met'}")
    save("admin", {"sizes": size, "target_ms": TARGET_MS, "results": results})


if __name__ == "__main__":
    main()
