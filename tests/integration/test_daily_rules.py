"""The time-based rules of the daily report at their boundaries (docs/daily.md), and
the conservation check: crafted events on SQLite and PostgreSQL, one day at a time."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from omsx.settings import Settings
from storage.bulk import insert_rows
from storage.care import CareCase, Invoice
from storage.daily import daily_status
from storage.db import dispose_engines, get_engine, session_scope
from storage.events import EXAMS, ONCOLOGY, TELEMEDICINE, Event, HospReferral
from storage.migrate import upgrade
from storage.models import Outbox, State
from storage.packages import add_outbox, record_receipt, transition
from workers.daily import Horizons, build_report

pytestmark = pytest.mark.integration

D0 = date(2026, 3, 2)
ENP, OTHER = "6400000000000001", "6400000000000002"
N = Horizons(lookback=100, onco=7, referral=30, overdue=2, dispensary=30, tmk=10)
SEQ = itertools.count(100)


@pytest.fixture
def db(database_url: str) -> Iterator[str]:
    upgrade(database_url)
    yield database_url
    dispose_engines()


def package(url: str, seq: int, *, code: str = "640001", role: str = "mo") -> int:
    with session_scope(url) as s:
        got = record_receipt(s, sha256=f"{seq:064x}", stream_seq=seq,
                             subject=f"oms.in.{role}.{code}.hosp", file_name=f"F{seq}.zip",
                             size=1, sender_role=role, sender_code=code, kind="hosp")  # fmt: skip
        assert got.package.id is not None
        return got.package.id


def events(url: str, *rows: tuple[str, int, date, str | None]) -> None:
    """(kind, category, day, ref) of ENP, МО 640001, СМО 64001."""
    pid = package(url, next(SEQ))
    insert_rows_of(url, Event, [
        {"day": when, "category": cat, "kind": kind, "enp": ENP, "mo": "640001", "smo": "64001",
         "ref": ref, "package_id": pid, "pos": pos, "n": 0, "amount_kop": 0}
        for pos, (kind, cat, when, ref) in enumerate(rows, 1)
    ])  # fmt: skip


def insert_rows_of(url: str, model: Any, rows: list[dict[str, Any]]) -> None:
    with session_scope(url) as s:
        insert_rows(s, model, rows)


def report(url: str, day: date, n: Horizons = N) -> tuple[dict[tuple[Any, ...], float], set[Any]]:
    with Session(get_engine(url)) as s:
        built = build_report(s, day, "64", n, UTC)
    figures = {(f["scope"], f["code"], f["indicator"], f["key"]): f["value"] for f in built.figures}
    listed = {(a["reason"], a["enp"], a["since"], a["due"]) for a in built.accompany}
    return figures, listed


def region(figures: dict[tuple[Any, ...], float], indicator: str, key: str = "") -> float | None:
    return figures.get(("region", "64", indicator, key))


def test_a_suspicion_is_open_the_day_after_n_days_without_a_consultation(db: str) -> None:
    events(db, ("onco.suspicion", ONCOLOGY, D0, None))
    on_day_n, listed = report(db, D0 + timedelta(days=N.onco))
    assert region(on_day_n, "onco_open_suspicions") is None and not listed
    after, listed = report(db, D0 + timedelta(days=N.onco + 1))
    assert region(after, "onco_open_suspicions") == 1
    assert (
        region(after, "onco_open_suspicions") == after[("smo", "64001", "onco_open_suspicions", "")]
    )
    assert listed == {("onco.no_consultation", ENP, D0, D0 + timedelta(days=N.onco))}
    # a consultation that day closes it
    events(db, ("onco.consultation", ONCOLOGY, D0 + timedelta(days=N.onco + 1), None))
    closed, listed = report(db, D0 + timedelta(days=N.onco + 1))
    assert region(closed, "onco_open_suspicions") is None and not listed


def test_days_from_suspicion_to_diagnosis_and_to_treatment_are_medians(db: str) -> None:
    diagnosed = D0 + timedelta(days=12)
    events(db, ("onco.suspicion", ONCOLOGY, D0, None),
           ("onco.suspicion", ONCOLOGY, D0 + timedelta(days=3), None),  # the same pathway
           ("onco.diagnosis", ONCOLOGY, diagnosed, None),
           ("onco.treatment", ONCOLOGY, diagnosed + timedelta(days=5), None))  # fmt: skip
    figures, _ = report(db, diagnosed)
    assert region(figures, "onco_days_to_diagnosis") == 12  # from the first suspicion
    assert region(figures, "onco_diagnoses") == 1
    figures, _ = report(db, diagnosed + timedelta(days=5))
    assert region(figures, "onco_days_to_treatment") == 5
    assert region(figures, "onco_days_to_diagnosis") is None  # not a milestone of this day


def test_the_lookback_ends_the_pathways_it_follows(db: str) -> None:
    events(db, ("onco.suspicion", ONCOLOGY, D0, None))
    inside, _ = report(db, D0 + timedelta(days=N.lookback))
    outside, _ = report(db, D0 + timedelta(days=N.lookback + 1))
    assert region(inside, "onco_open_suspicions") == 1
    assert region(outside, "onco_open_suspicions") is None


def referral(db: str, *, id_d: str, date_d: date, date_hosp: date | None, **extra: Any) -> None:
    pid = package(db, next(SEQ))
    insert_rows_of(db, HospReferral, [{
        "id_d": id_d, "date_d": date_d, "mo_d": "640001", "mo_h": "640002", "profil": "97",
        "date_hosp": date_hosp, "enp": ENP, "smo": "64001", "package_id": pid, **extra,
    }])  # fmt: skip


def test_a_referral_waits_after_n_days_and_a_planned_admission_is_overdue_after_its_grace(
    db: str,
) -> None:
    planned = D0 + timedelta(days=10)
    referral(db, id_d="00000000-0000-0000-0000-000000000001", date_d=D0, date_hosp=planned)
    figures, listed = report(db, planned + timedelta(days=N.overdue))
    assert region(figures, "hosp_overdue") is None and not listed
    figures, listed = report(db, planned + timedelta(days=N.overdue + 1))
    assert region(figures, "hosp_overdue") == 1
    assert figures[("mo", "640002", "hosp_overdue", "")] == 1  # the МО that should admit
    assert listed == {("hosp.overdue", ENP, D0, planned + timedelta(days=N.overdue))}
    assert region(report(db, D0 + timedelta(days=N.referral))[0], "hosp_waiting") is None
    assert region(report(db, D0 + timedelta(days=N.referral + 1))[0], "hosp_waiting") == 1


def test_an_admitted_or_cancelled_referral_stops_waiting_that_day(db: str) -> None:
    admitted = D0 + timedelta(days=40)
    referral(db, id_d="00000000-0000-0000-0000-000000000002", date_d=D0, date_hosp=D0,
             admitted_on=admitted)  # fmt: skip
    referral(db, id_d="00000000-0000-0000-0000-000000000003", date_d=D0, date_hosp=D0,
             cancelled_on=admitted)  # fmt: skip
    before, listed = report(db, admitted - timedelta(days=1))
    assert region(before, "hosp_waiting") == region(before, "hosp_overdue") == 2
    assert {reason for reason, *_ in listed} == {"hosp.overdue"}
    that_day, listed = report(db, admitted)
    assert region(that_day, "hosp_waiting") is None and not listed
    assert region(that_day, "hosp_days_to_admission", "97") == 40


def test_a_dispensary_visit_is_missed_the_day_after_n_days_without_care(db: str) -> None:
    events(db, ("exam.dispensary", EXAMS, D0, None))
    assert region(report(db, D0 + timedelta(days=N.dispensary))[0], "dispensary_missed") is None
    late = D0 + timedelta(days=N.dispensary + 1)
    figures, listed = report(db, late)
    assert region(figures, "dispensary_missed") == 1
    assert listed == {("dispensary.missed", ENP, D0, D0 + timedelta(days=N.dispensary))}
    # a case of care after the registration is the visit
    pid = package(db, next(SEQ))
    with session_scope(db) as s:
        insert_rows(s, Invoice, [{"package_id": pid, "file_type": "H", "code_mo": "640001",
                                  "year": 2026, "month": 3, "nschet": "1", "dschet": D0,
                                  "payer": "64001"}])  # fmt: skip
        invoice = s.exec(select(Invoice.id).where(Invoice.package_id == pid)).one()
        insert_rows(s, CareCase, [{"package_id": pid, "invoice_id": invoice, "pos": 1,
                                   "n_zap": "1", "idcase": "1", "code_mo": "640001",
                                   "year": 2026, "month": 3, "id_pac": "1", "enp": ENP,
                                   "payer": "64001", "status": "accepted",
                                   "date_z_1": late}])  # fmt: skip
    figures, listed = report(db, late)
    assert region(figures, "dispensary_missed") is None and not listed


def test_the_implemented_share_counts_consultations_of_the_last_n_days(db: str) -> None:
    day = D0 + timedelta(days=20)
    first_in = day - timedelta(days=N.tmk - 1)
    events(db, ("tmk.consultation", TELEMEDICINE, first_in, "a"),
           ("tmk.consultation", TELEMEDICINE, first_in - timedelta(days=1), "b"),
           ("tmk.consultation", TELEMEDICINE, day, "c"),
           ("tmk.implemented", TELEMEDICINE, day, "a"))  # fmt: skip
    figures, _ = report(db, day)
    assert region(figures, "tmk_implemented_share") == 0.5  # a of a and c; b is older
    assert region(figures, "tmk_consultations") == 1  # held that day: c


def test_every_message_received_balances_and_a_missing_protocol_is_flagged(db: str) -> None:
    from messages.subjects import protocol_msg_id
    from workers.daily import balance

    today = datetime.now(UTC).date()
    accepted = package(db, 1)
    package(db, 2)  # not answered yet: in flight
    with session_scope(db) as s:
        record_receipt(s, sha256=f"{1:064x}", stream_seq=3, subject="oms.in.mo.640001.hosp",
                       file_name="F1.zip", size=1, sender_role="mo", sender_code="640001",
                       kind="hosp")  # a repeat of the first: a duplicate  # fmt: skip
        transition(s, accepted, source=(State.RECEIVED,), target=State.APPLIED, stage="test")
        for seq, msg in ((1, protocol_msg_id(f"{1:064x}")), (3, protocol_msg_id(f"{1:064x}", 3))):
            add_outbox(s, package_id=accepted, subject="oms.out.mo.640001.protocol", msg_id=msg,
                       file_name="VF1.xml", body=b"<x/>", receipt_seq=seq)  # fmt: skip
    with Session(get_engine(db)) as s:
        [row] = balance(s, today, UTC)
    assert (row["received"], row["accepted"], row["duplicate"], row["in_flight"]) == (3, 1, 1, 1)
    assert row["unaccounted"] == 0
    # the answer to the first message is lost: it is neither accepted nor in flight
    with session_scope(db) as s:
        s.execute(delete(Outbox).where(Outbox.receipt_seq == 1))  # type: ignore[arg-type]
    with Session(get_engine(db)) as s:
        [row] = balance(s, today, UTC)
    assert (row["accepted"], row["unaccounted"]) == (0, 1)


def test_a_message_is_counted_on_the_regions_day_it_arrived(db: str) -> None:
    from zoneinfo import ZoneInfo

    from storage.models import Receipt
    from workers.daily import balance

    late = package(db, 1)  # 21:30 UTC on the 23rd: the 24th in Saratov (UTC+4)
    early = package(db, 2)  # 19:59 UTC on the 23rd: still the 23rd there
    with session_scope(db) as s:
        for pid, moment in ((late, datetime(2026, 11, 23, 21, 30, tzinfo=UTC)),
                            (early, datetime(2026, 11, 23, 19, 59, tzinfo=UTC))):  # fmt: skip
            s.execute(
                update(Receipt).where(col(Receipt.package_id) == pid).values(received_at=moment)
            )
    saratov = ZoneInfo("Europe/Saratov")
    with Session(get_engine(db)) as s:
        by_day = {d: balance(s, d, saratov) for d in (date(2026, 11, 23), date(2026, 11, 24))}
        utc = balance(s, date(2026, 11, 23), UTC)
    assert [r["received"] for r in by_day[date(2026, 11, 23)]] == [1]
    assert [r["received"] for r in by_day[date(2026, 11, 24)]] == [1]
    assert [r["received"] for r in utc] == [2]


def test_a_failed_check_is_flagged_in_the_report_the_status_and_the_admin(
    omsx_env: Settings, db: str
) -> None:
    from litestar.testing import TestClient

    from admin.app import create_app
    from admin.cli import main
    from tests.integration.adminweb import PASSWORD, log_in
    from workers.daily import consolidate

    today = datetime.now(UTC).date()
    package(db, 1)
    with session_scope(db) as s:  # concluded, but its protocol never reached the outbox
        transition(s, 1, source=(State.RECEIVED,), target=State.APPLIED, stage="test")
    done = consolidate(today, omsx_env)
    assert done.unbalanced == 1
    with Session(get_engine(db)) as s:
        status = daily_status(s)
    assert status["latest"]["unbalanced"] == 1
    assert status["unbalanced"] == [{"day": today.isoformat(), "role": "mo", "code": "640001",
                                     "received": 1, "unaccounted": 1}]  # fmt: skip
    added = CliRunner().invoke(main, ["users", "add", "vera", "--password-stdin"],
                               input=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    with TestClient(app=create_app()) as client:
        log_in(client, "vera")
        page = client.get("/")
        assert page.status_code == 200 and "mo.640001" in page.text
        report = client.get(f"/api/daily/{today.isoformat()}").json()
        assert report["balance"][0]["unaccounted"] == 1
        assert client.get("/api/daily/2001-01-01").status_code == 404
        assert client.get("/api/daily/yesterday").status_code == 400
