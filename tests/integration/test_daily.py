"""The daily consolidation over a generated month, on SQLite and PostgreSQL: every
figure, every accompaniment entry and the conservation check are recomputed here from
the generated files (``daily_expected``), and each СМО extract validates against its XSD."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import xmlschema
from click.testing import CliRunner
from sqlmodel import Session, select

from admin.cli import demo_phase
from contracts.daily import XSD
from contracts.generator import GeneratorConfig, generate
from contracts.protocol import parse_protocol
from omsx.settings import Settings, get_settings
from storage.daily import DailyAccompany, DailyBalance, DailyFigure, DailyRun
from storage.db import get_engine
from storage.models import Outbox
from tests.integration.daily_expected import Month, N
from tests.integration.pipeline import through

pytestmark = pytest.mark.integration


def horizons(env: Settings, n: N) -> Settings:
    return env.model_copy(
        update={
            "daily_lookback_days": n.lookback,
            "daily_onco_days": n.onco,
            "daily_referral_days": n.referral,
            "daily_overdue_days": n.overdue,
            "daily_dispensary_days": n.dispensary,
            "daily_tmk_days": n.tmk,
        }
    )


def stored_figures(env: Settings, day: date) -> dict[tuple[str, str, int, str, str], float]:
    with Session(get_engine(env.database_url)) as s:
        rows = s.exec(select(DailyFigure).where(DailyFigure.day == day)).all()
    return {(f.scope, f.code, f.category, f.indicator, f.key): f.value for f in rows}


def stored_accompany(env: Settings, day: date) -> set[tuple[object, ...]]:
    with Session(get_engine(env.database_url)) as s:
        rows = s.exec(select(DailyAccompany).where(DailyAccompany.day == day)).all()
    return {(a.smo, a.reason, a.enp, a.since, a.due, a.mo, a.ref) for a in rows}


def test_a_generated_month_consolidates_to_figures_recomputed_from_its_files(
    pipeline_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from admin.cli import main
    from workers.daily import consolidate, iter_days

    n = N()
    env = horizons(pipeline_env, n)
    for name, value in env.model_dump().items():  # `omsx consolidate` reads the environment
        if name.startswith("daily_"):
            monkeypatch.setenv(f"OMSX_{name.upper()}", str(value))
    get_settings.cache_clear()
    manifest = generate(tmp_path, GeneratorConfig(mo=3, smo=2, cases=60, defects=0.1, seed=7))
    packages = sorted(manifest.packages, key=lambda p: demo_phase(p.kind, p.path.name))
    today = datetime.now(UTC).date()
    month = Month(region=env.region, today=today, n=n)
    for seq, package in enumerate(packages, 1):
        pid = through(env, package.path.name, package.path.read_bytes(), seq)
        with Session(get_engine(env.database_url)) as s:
            body = s.exec(
                select(Outbox.body).where(Outbox.package_id == pid, Outbox.kind == "protocol")
            ).one()
        problems = parse_protocol(body).problems
        refused = {int(p.n_zap) for p in problems if p.n_zap and p.n_zap.isdigit()}
        month.read(package.path, refused, {p.id_pac for p in problems if p.id_pac and not p.n_zap})
    month.finish()
    event_days = sorted(month.by_day)
    assert event_days[0] < date(2025, 11, 1) < event_days[-1] <= today
    days = [*iter_days(event_days[0], date(2025, 12, 15)), today]
    for first, last in ((days[0], days[-2]), (today, today)):
        ran = CliRunner().invoke(main, ["consolidate", "--date", f"{first}", "--to", f"{last}"])
        assert ran.exit_code == 0, ran.output
        assert ran.output.count("\n") >= (last - first).days + 3  # header, rule, a row per day
    with Session(get_engine(env.database_url)) as s:
        totals = {run.day: run for run in s.exec(select(DailyRun)).all()}
    assert sorted(totals) == days
    for day in days:
        expected = month.figures(day)
        stored = stored_figures(env, day)
        assert stored == expected, (day, _diff(stored, expected))
        assert stored_accompany(env, day) == month.accompany(day), day

    # what the month holds, in the figures of the region
    region = {k: 0.0 for k in ("exams", "onco_days_to_diagnosis", "hosp_waiting")}
    for day in days:
        for (scope, _c, _cat, ind, _k), value in stored_figures(env, day).items():
            if scope == "region" and ind in region:
                region[ind] += 1 if ind == "onco_days_to_diagnosis" else value
    assert region["exams"] > 50 and region["hosp_waiting"] > 0
    assert region["onco_days_to_diagnosis"] > 0  # some suspicions were confirmed
    accompaniment = sum(len(month.accompany(day)) for day in days)
    assert accompaniment > 0
    reasons = {a[1] for day in days for a in month.accompany(day)}
    assert {"onco.no_consultation", "dispensary.missed"} <= reasons  # overdue: test_daily_rules

    # today: the hub's refusals and the schedules; every participant balances
    with Session(get_engine(env.database_url)) as s:
        balances = s.exec(select(DailyBalance).where(DailyBalance.day == today)).all()
        runs = s.exec(select(DailyRun)).all()
    assert len(runs) == len(days)
    assert sum(b.received for b in balances) == len(packages)
    assert all(b.balanced and b.in_flight == 0 for b in balances)
    rejected = sum(b.rejected for b in balances)
    accepted = sum(b.accepted for b in balances)
    assert accepted + rejected == len(packages)

    # each СМО's extract: valid, and exactly its figures and accompaniment of the day
    schema = xmlschema.XMLSchema(str(XSD))
    with Session(get_engine(env.database_url)) as s:
        extracts = s.exec(select(Outbox).where(Outbox.kind == "daily")).all()
    smos = {row.subject.split(".")[3] for row in extracts}
    assert {"64001", "64002"} <= smos  # every active СМО of the registry, every day
    assert len(extracts) == len(smos) * len(days)
    for row in extracts:
        schema.validate(row.body)
        extract = schema.to_dict(row.body, decimal_type=float)
        smo, day = extract["ZGLV"]["SMO"], date.fromisoformat(extract["ZGLV"]["REPORT_DATE"])
        assert row.subject == f"oms.out.smo.{smo}.daily"
        assert row.file_name == f"RT64S{smo}_{day:%y%m%d}1.xml"
        assert json.loads(row.headers)["Oms-Sha256"]
        figures = {
            ("smo", smo, f["CAT"], f["IND"], f.get("KEY", "")): float(f["VAL"])
            for f in (extract.get("FIGURES") or {}).get("FIG", [])
        }
        assert figures == {k: v for k, v in month.figures(day).items() if k[:2] == ("smo", smo)}
        listed = {
            (smo, z["REASON"], z["ENP"], date.fromisoformat(z["SINCE"]),
             date.fromisoformat(z["DUE"]), z.get("MO"), z.get("REF", ""))
            for z in (extract.get("ACCOMPANY") or {}).get("ZAP", [])
        }  # fmt: skip
        assert listed == {a for a in month.accompany(day) if a[0] == smo}

    # the analysts' view of a day: the same figures, as CSV
    busiest = max(days, key=lambda day: totals[day].figures)
    shown = CliRunner().invoke(main, ["daily", "figures", "--date", f"{busiest}", "--scope",
                                      "smo", "--code", "64001", "--format", "csv"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    lines = shown.output.strip().splitlines()[1:]
    mine = {k: v for k, v in stored_figures(env, busiest).items() if k[:2] == ("smo", "64001")}
    assert len(lines) == len(mine) > 0

    # a re-run replaces the day with the same figures and sends no second extract
    before = stored_figures(env, busiest)
    again = consolidate(busiest, env)
    assert stored_figures(env, busiest) == before
    assert again.extracts == 0


def _diff(stored: dict, expected: dict) -> dict:  # type: ignore[type-arg]
    keys = set(stored) | set(expected)
    return {
        k: (stored.get(k), expected.get(k))
        for k in sorted(keys)
        if stored.get(k) != expected.get(k)
    }
