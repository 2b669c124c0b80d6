"""The information resource: hosp, tmk, appeal and schedule packages of a generated
month land as linked state and dated events, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from admin.cli import demo_phase
from contracts.generator import GeneratorConfig, generate
from contracts.protocol import parse_protocol
from omsx.settings import Settings
from storage.db import get_engine
from tests.integration.pipeline import through

pytestmark = pytest.mark.integration
KINDS = ("hosp", "tmk", "appeal", "schedule")


def sql(env: Settings, query: str) -> list[tuple]:
    with Session(get_engine(env.database_url)) as s:
        return [tuple(r) for r in s.connection().execute(text(query))]


def records(path: Path, tag: str) -> list[bytes]:
    with zipfile.ZipFile(path) as zf:
        return re.findall(
            rb"<%s>.*?</%s>" % (tag.encode(), tag.encode()), zf.read(zf.namelist()[0]), re.S
        )


def test_a_generated_month_lands_linked_and_refuses_unknown_links(
    pipeline_env: Settings, tmp_path: Path
) -> None:
    env = pipeline_env
    manifest = generate(tmp_path, GeneratorConfig(mo=3, smo=2, cases=40, defects=0.2, seed=3))
    packages = sorted(
        (p for p in manifest.packages if p.kind in KINDS),
        key=lambda p: demo_phase(p.kind, p.path.name),
    )
    planted = Counter(d.expected for p in packages for d in p.defects)
    assert planted["007F.64.0002"] >= 2  # the generator planted unknown ID_D / ID_H
    found: Counter[str] = Counter()
    ids = []
    for seq, package in enumerate(packages, 1):
        pid = through(env, package.path.name, package.path.read_bytes(), seq)
        ids.append(pid)
        [(body,)] = sql(
            env, f"SELECT body FROM outbox WHERE package_id = {pid} AND kind = 'protocol'"
        )
        protocol = parse_protocol(body)
        found.update(p.oshib for p in protocol.problems)
        expected = {d.expected for d in package.defects}
        assert expected <= {p.oshib for p in protocol.problems}, package.path.name
    assert found["007F.64.0002"] == planted["007F.64.0002"]

    def of(type_: str, tag: str) -> int:
        return sum(len(records(p.path, tag)) for p in packages if p.path.name.startswith(type_))

    bad = Counter(
        p.path.name[:3] for p in packages for d in p.defects if d.expected == "007F.64.0002"
    )
    referrals, cancelled, admitted = sql(
        env,
        "SELECT count(*), count(cancelled_on), count(admitted_on) FROM hospreferral",
    )[0]
    assert referrals == of("I01", "DIR")
    assert cancelled == of("I03", "CANCEL")
    assert admitted == of("I04", "HOSP") - bad["I04"]
    stays, discharged = sql(env, "SELECT count(*), count(discharged_on) FROM hospstay")[0]
    assert stays == of("I04", "HOSP") - bad["I04"] + of("I05", "HOSP")
    assert discharged == of("I06", "DISCH") - bad["I06"] > 0
    assert sql(env, "SELECT count(*) FROM tmkconsult")[0][0] == len(
        {r for p in packages if p.kind == "tmk" for r in records(p.path, "ID_TMK")}
    )
    events = dict(sql(env, "SELECT kind, count(*) FROM event GROUP BY kind"))
    assert events["hosp.referral"] == referrals and events["hosp.discharge"] == discharged
    assert events["appeal.received"] == sql(env, "SELECT count(*) FROM appeal")[0][0]
    assert {"tmk.request", "tmk.consultation", "schedule.unit"} <= set(events)
    evening, saturday = sql(
        env,
        "SELECT sum(CASE WHEN evening THEN 1 ELSE 0 END),"
        " sum(CASE WHEN saturday THEN 1 ELSE 0 END) FROM scheduleunit",
    )[0]
    assert evening > 0 and saturday > 0

    # every actor again: nothing changes
    totals = "SELECT (SELECT count(*) FROM event), (SELECT count(*) FROM hospstay)"
    before = sql(env, totals)
    from storage.db import session_scope
    from workers.apply import apply

    with session_scope() as s:
        s.connection().execute(text("UPDATE package SET state = 'checked' WHERE kind <> 'x'"))
        s.connection().execute(text("DELETE FROM applyprogress"))
    for pid in ids:
        apply(pid)
    assert (
        sql(env, "SELECT (SELECT count(*) FROM event), (SELECT count(*) FROM hospstay)") == before
    )
