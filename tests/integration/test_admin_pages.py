"""The admin's person card, claims and daily report pages with their API, on a registry
filled by the real pipeline (SQLite and PostgreSQL, sessions in real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlmodel import Session, select

from omsx.settings import Settings
from storage.care import CareCase, Invoice, Person
from storage.db import get_engine
from storage.models import utcnow
from storage.users import AuditEntry
from tests.integration.adminweb import PASSWORD, api_post, csrf_of, log_in

pytestmark = pytest.mark.integration


@pytest.fixture
def filled(pipeline_env: Settings) -> Iterator[tuple[Settings, TestClient]]:  # type: ignore[type-arg]
    """One erz and one 4-case register through the pipeline; a viewer and an admin."""
    from admin.app import create_app
    from admin.cli import main
    from tests.builders import erz_for, register
    from tests.integration.pipeline import through

    for name, role in (("vera", "viewer"), ("anna", "admin")):
        added = CliRunner().invoke(main, ["users", "add", name, "--role", role,
                                          "--password-stdin"], input=PASSWORD + "\n")  # fmt: skip
        assert added.exit_code == 0, added.output
    name, data = register("HM640001S64004_25111", n=4)
    erz_name, erz = erz_for((name, data))
    through(pipeline_env, erz_name, erz, 1)
    through(pipeline_env, name, data, 2)
    with TestClient(app=create_app()) as client:
        yield pipeline_env, client


def _db(settings: Settings) -> Session:
    return Session(get_engine(settings.database_url))


def test_the_person_card_is_masked_and_unmasking_is_for_admins_and_audited(
    filled: tuple[Settings, TestClient],  # type: ignore[type-arg]
) -> None:
    settings, client = filled
    with _db(settings) as s:
        case = s.exec(select(CareCase).where(CareCase.enp.is_not(None))).first()  # type: ignore[union-attr]
        assert case is not None and case.enp is not None
        enp = case.enp
        person = s.get(Person, enp)
        assert person is not None and person.fam
        cases_of_enp = len(s.exec(select(CareCase).where(CareCase.enp == enp)).all())
    log_in(client, "vera")
    card = api_post(client, "/api/persons", {"enp": enp})
    assert card.status_code == 200, card.text  # type: ignore[attr-defined]
    body = card.json()  # type: ignore[attr-defined]
    assert body["masked"] and body["details"]["fam"] == person.fam[0] + "***"
    assert body["details"]["dr"] == "***" and person.fam not in card.text  # type: ignore[attr-defined]
    assert [i["smo"] for i in body["insurance"]] == ["64004"]
    assert body["case_count"] == cases_of_enp == len(body["cases"])
    assert body["cases"][0]["code_mo"] == "640001"
    denied = api_post(client, "/api/persons", {"enp": enp, "unmask": True})
    assert denied.status_code == 403  # type: ignore[attr-defined]
    bad = api_post(client, "/api/persons", {"enp": "12345"})
    assert bad.status_code == 400 and "16 digits" in bad.text  # type: ignore[attr-defined]
    unknown = api_post(client, "/api/persons", {"enp": "0" * 16})
    assert unknown.status_code == 404 and "0" * 16 not in unknown.text  # type: ignore[attr-defined]
    # the page: a form, and the card only by POST (the ENP stays out of URLs)
    form = client.get("/persons")
    assert form.status_code == 200 and "ЕНП" in form.text
    posted = client.post("/persons", data={"enp": enp, "_csrf_token": csrf_of(form.text)})
    assert posted.status_code == 200 and f"ЕНП {enp}" in posted.text
    assert person.fam not in posted.text and "Показать" not in posted.text  # viewer: no button
    assert client.post("/persons", data={"enp": enp}).status_code == 403  # no CSRF token
    log_in(client, "anna")
    shown = api_post(client, "/api/persons", {"enp": enp, "unmask": True}).json()  # type: ignore[attr-defined]
    assert not shown["masked"] and shown["details"]["fam"] == person.fam
    page = client.post("/persons", data={"enp": enp, "_csrf_token": csrf_of(form.text)})
    assert "Показать" in page.text  # an admin may unmask, by a button
    with _db(settings) as s:
        audits = s.exec(select(AuditEntry).where(AuditEntry.action == "unmask")).all()
    assert [(a.username, a.target, a.count) for a in audits] == [("anna", f"person {enp}", 1)]


def test_claims_roll_up_and_drill_down_to_the_cases(
    filled: tuple[Settings, TestClient],  # type: ignore[type-arg]
) -> None:
    settings, client = filled
    with _db(settings) as s:
        invoice = s.exec(select(Invoice)).one()
        refused = len(s.exec(select(CareCase).where(CareCase.status == "refused")).all())
    log_in(client, "vera")
    rollups = client.get("/api/claims").json()["rollups"]
    assert len(rollups) == 1
    r = rollups[0]
    assert (r["code_mo"], r["payer"], r["year"], r["month"]) == ("640001", "64004", 2025, 11)
    assert (r["invoices"], r["cases"], r["presented_kop"], r["payable_kop"]) == (
        1, 4, invoice.presented_kop, invoice.payable_kop)  # fmt: skip
    assert client.get("/api/claims", params={"period": "2025-10"}).json()["rollups"] == []
    assert client.get("/api/claims", params={"period": "2025-13"}).status_code == 400
    listed = client.get("/api/claims/invoices", params={"code_mo": "640001", "period": "202511"})
    assert [i["id"] for i in listed.json()["invoices"]] == [invoice.id]
    detail = client.get(f"/api/claims/invoices/{invoice.id}").json()
    assert detail["invoice"]["nschet"] == invoice.nschet and len(detail["cases"]) == 4
    assert detail["next_after"] is None and "enp" not in detail["cases"][0]
    only = client.get(f"/api/claims/invoices/{invoice.id}", params={"status": "refused"}).json()
    assert len(only["cases"]) == refused
    assert (
        client.get(f"/api/claims/invoices/{invoice.id}", params={"status": "x"}).status_code == 400
    )
    assert client.get("/api/claims/invoices/999999").status_code == 404
    page = client.get("/claims")
    assert page.status_code == 200 and "640001" in page.text and "итого" in page.text
    assert invoice.nschet in client.get("/claims/invoices", params={"code_mo": "640001"}).text
    one = client.get(f"/claims/invoices/{invoice.id}")
    assert one.status_code == 200 and detail["cases"][0]["idcase"] in one.text
    assert client.get("/api/claims/out-of-region").status_code == 200


def test_daily_reports_over_time_with_charts_and_one_day(
    filled: tuple[Settings, TestClient],  # type: ignore[type-arg]
) -> None:
    from admin.daily import CHARTS
    from workers.daily import consolidate

    settings, client = filled
    today = utcnow().date()
    consolidate(today, settings)
    log_in(client, "vera")
    series = client.get("/api/daily", params={"until": today.isoformat(), "days": 3}).json()
    assert [r["day"] for r in series["runs"]] == [today.isoformat()]
    assert set(series["series"]) == set(CHARTS)
    assert series["first"] == (today - timedelta(days=2)).isoformat()
    page = client.get("/daily", params={"until": today.isoformat(), "days": 3})
    assert page.status_code == 200 and page.text.count("<svg") == len(CHARTS)
    assert client.get("/daily", params={"scope": "mo"}).status_code == 400  # needs a code
    assert client.get("/daily", params={"scope": "nope", "code": "1"}).status_code == 400
    assert client.get("/daily", params={"days": 0}).status_code == 400
    day = client.get(f"/api/daily/{today.isoformat()}").json()
    mo = next(b for b in day["balance"] if (b["role"], b["code"]) == ("mo", "640001"))
    assert (mo["received"], mo["accepted"], mo["unaccounted"]) == (1, 1, 0)
    shown = client.get(f"/daily/{today.isoformat()}", params={"scope": "mo", "code": "640001"})
    assert shown.status_code == 200 and "mo.640001" in shown.text
    assert client.get("/daily/2000-01-01").status_code == 404
    assert client.get("/api/daily/yesterday").status_code == 400
