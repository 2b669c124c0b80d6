"""The claims pages for the fund's analysts: roll-ups per МО × payer × period, the
invoices behind a roll-up, and one invoice's cases with their refusals and sanctions
(issue "Admin" → Claims). Money is in kopecks in the API and in roubles on the pages.
Cases are listed without the person's ENP: the person card is the place for that."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from admin.auth import Operator
from storage.claims import (
    Period,
    invoice_cases,
    invoice_row,
    invoices,
    out_of_region,
    parse_period,
    rollups,
)
from storage.db import session_scope

PAGE = 100
CASE_STATES = ("accepted", "refused")
TOTALS = (
    "invoices",
    "incomplete",
    "cases",
    "accepted",
    "refused",
    "presented_kop",
    "refused_kop",
    "accepted_kop",
    "mee_kop",
    "ekmp_kop",
    "payable_kop",
)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in row.items()}


def _period(text: str | None) -> Period | None:
    if not text:
        return None
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ValidationException(str(exc)) from exc


def provide_scope(
    code_mo: FromQuery[str | None] = None,
    payer: FromQuery[str | None] = None,
    period: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """Which МО, payer and period a claims page shows (every filter optional)."""
    return {"code_mo": code_mo or None, "payer": payer or None, "period": _period(period)}


SCOPE = {"where": Provide(provide_scope, sync_to_thread=False)}


def _query(scope: dict[str, Any]) -> dict[str, str]:
    """The scope as the query string of links and forms."""
    out = {k: v for k, v in scope.items() if v and k != "period"}
    if scope["period"]:
        out["period"] = "{}-{:02d}".format(*scope["period"])
    return out


def _rollups(scope: dict[str, Any]) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [asdict(r) for r in rollups(session, **scope)]


@get("/api/claims", sync_to_thread=True, dependencies=SCOPE)
def api_claims(where: NamedDependency[dict[str, Any]]) -> dict[str, Any]:
    """Claims per МО × payer × period (kopecks); ``incomplete`` counts invoices still
    being applied, whose figures are not final."""
    return {"rollups": _rollups(where), "filter": _query(where)}


@get("/claims", sync_to_thread=True, dependencies=SCOPE)
def claims_page(
    request: Request[Operator, Any, Any], where: NamedDependency[dict[str, Any]]
) -> Template:
    """Claims page."""
    rows = _rollups(where)
    totals = {k: sum(r[k] for r in rows) for k in TOTALS}
    return Template("claims.html", context={"user": request.user, "rows": rows,
                                            "totals": totals, "query": _query(where)})  # fmt: skip


def _invoices(scope: dict[str, Any], before: int | None) -> dict[str, Any]:
    with session_scope() as session:
        rows = invoices(session, **scope, before=before, limit=PAGE + 1)
    more = len(rows) > PAGE
    rows = [_plain(r) for r in rows[:PAGE]]
    return {"invoices": rows, "next_before": rows[-1]["id"] if more else None,
            "filter": _query(scope)}  # fmt: skip


@get("/api/claims/invoices", sync_to_thread=True, dependencies=SCOPE)
def api_invoices(
    where: NamedDependency[dict[str, Any]], before: FromQuery[int | None] = None
) -> dict[str, Any]:
    """Invoices newest first; ``next_before`` pages on."""
    return _invoices(where, before)


@get("/claims/invoices", sync_to_thread=True, dependencies=SCOPE)
def invoices_page(
    request: Request[Operator, Any, Any],
    where: NamedDependency[dict[str, Any]],
    before: FromQuery[int | None] = None,
) -> Template:
    """Invoices page."""
    found = _invoices(where, before)
    return Template("invoices.html", context={"user": request.user, "found": found,
                                              "query": found["filter"]})  # fmt: skip


def _invoice(invoice_id: int, status: str | None, after: int | None) -> dict[str, Any]:
    if status and status not in CASE_STATES:
        raise ValidationException(f"status: {status!r} is none of {', '.join(CASE_STATES)}")
    with session_scope() as session:
        row = invoice_row(session, invoice_id)
        if row is None:
            raise NotFoundException(f"no invoice {invoice_id}")
        cases = invoice_cases(session, invoice_id, status=status or None, after=after,
                              limit=PAGE + 1)  # fmt: skip
    more = len(cases) > PAGE
    cases = cases[:PAGE]
    for case in cases:
        case["sanctions"] = [_plain(s) for s in case["sanctions"]]
    return {"invoice": _plain(row), "cases": [_plain(c) for c in cases],
            "next_after": cases[-1]["id"] if more else None, "status": status or None}  # fmt: skip


@get("/api/claims/invoices/{invoice_id:int}", sync_to_thread=True)
def api_invoice(
    invoice_id: FromPath[int],
    status: FromQuery[str | None] = None,
    after: FromQuery[int | None] = None,
) -> dict[str, Any]:
    """One invoice and its cases in register order (``after`` pages on; ``status``
    accepted|refused), with each case's sanctions."""
    return _invoice(invoice_id, status, after)


@get("/claims/invoices/{invoice_id:int}", sync_to_thread=True)
def invoice_page(
    request: Request[Operator, Any, Any],
    invoice_id: FromPath[int],
    status: FromQuery[str | None] = None,
    after: FromQuery[int | None] = None,
) -> Template:
    """Invoice page."""
    found = _invoice(invoice_id, status, after)
    return Template("invoice.html", context={"user": request.user, "d": found})


@get("/api/claims/out-of-region", sync_to_thread=True)
def api_out_of_region(period: FromQuery[str | None] = None) -> dict[str, Any]:
    """Accepted care of patients insured elsewhere, per territory × МО × period: what
    the ТФОМС settles with other territories."""
    with session_scope() as session:
        rows = out_of_region(session, period=_period(period))
    return {"settlements": [asdict(r) for r in rows]}


ROUTES = [api_claims, claims_page, api_invoices, invoices_page, api_invoice, invoice_page,
          api_out_of_region]  # fmt: skip
