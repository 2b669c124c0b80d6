"""Applying expert packages (МЭЭ/ЭКМП sanctions from an СМО) to the claims.

Each ZAP names a case (CODE_MO, YEAR, MONTH, NSCHET, IDCASE) and its SANKs. The case
must have been accepted for payment by this СМО, and its sanctions together (those
stored before and these) may not exceed what was accepted (SUMP); otherwise the ZAP is
refused with 007F.64.0003. A sanction is keyed by its case and S_CODE, so the same
expert file applied twice adds nothing. The cases' and invoices' МЭЭ/ЭКМП and payable
figures are then recomputed from the sanctions. Each new sanction is also an event of
the information resource (``expert.mee`` / ``expert.ekmp``, :mod:`workers.care_events`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from contracts.flk import FlkResult
from contracts.mek import sanction_problem
from contracts.records import Record, items, to_kop
from omsx.settings import Settings
from storage.bulk import insert_rows
from storage.care import RecordProblem, Sanction
from storage.db import session_scope
from storage.events import Event
from storage.models import Package
from storage.registry import (
    accepted_for_sanctions,
    problem_row,
    recompute_case_sanctions,
    recompute_invoices,
    sanction_codes,
)
from workers.batches import Applied, Batch, each_batch
from workers.care_events import sanction_event

EKMP_PREFIX = "3"  # F006: 2x МЭЭ, 3x ЭКМП


def sanction_kind(s_tip: object) -> str:
    return "ekmp" if str(s_tip or "").startswith(EKMP_PREFIX) else "mee"


def apply_expert(
    package: Package, refused: dict[int, str], settings: Settings, parsed: FlkResult | None = None
) -> Applied:
    assert package.id is not None
    package_id = package.id
    applied = Applied()

    def handle(session: Session, batch: Batch, header: dict[str, Record]) -> None:
        smo = str((header.get("ZGLV") or {}).get("SMO") or package.sender_code)
        _sanctions(session, package_id, smo, batch, refused)

    each_batch(package, settings, "ZAP", handle, parsed.main if parsed else None)
    with session_scope() as session:
        touched = session.exec(
            select(Sanction.case_id, Sanction.invoice_id).where(
                col(Sanction.package_id) == package.id
            )
        ).all()
        recompute_case_sanctions(session, {case for case, _ in touched})
        recompute_invoices(session, {invoice for _, invoice in touched})
        applied.read_back(session, package.id)
    return applied


def _sanctions(
    session: Session, package_id: int, smo: str, batch: Batch, refused: dict[int, str]
) -> None:
    live = [(pos, rec) for pos, _elem, rec in batch if pos not in refused]
    keys = {(str(rec.get("CODE_MO") or ""), str(rec.get("IDCASE") or "")) for _p, rec in live}
    cases = accepted_for_sanctions(session, keys)
    stored = sanction_codes(session, [c.case_id for c in cases.values()])
    pending: dict[int, int] = {}  # case id → kopecks sanctioned earlier in this batch
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for pos, zap in live:
        case = cases.get((str(zap.get("CODE_MO") or ""), str(zap.get("IDCASE") or "")))
        sanks: list[Record] = items(zap, "SANK")
        known = stored.get(case.case_id, set()) if case is not None else set()
        # a sanction already stored (the same act sent again) adds nothing
        new_kop = sum(to_kop(s.get("S_SUM")) for s in sanks if str(s.get("S_CODE")) not in known)
        if case is not None and case.case_id in pending:
            case = replace(case, sanctioned_kop=case.sanctioned_kop + pending[case.case_id])
        finding = sanction_problem(zap, smo, case, new_kop)
        if finding is not None or case is None:  # sanction_problem speaks whenever case is None
            if finding is not None:
                problems.append(problem_row(package_id, pos, finding.problem))
            continue
        pending[case.case_id] = pending.get(case.case_id, 0) + new_kop
        for n, sank in enumerate(sanks, 1):
            act = sank.get("DATE_ACT")
            kind, kop = sanction_kind(sank.get("S_TIP")), to_kop(sank.get("S_SUM"))
            if str(sank.get("S_CODE")) not in known:
                event = sanction_event(package_id, pos, zap, sank, n=n, smo=smo, kind=kind, kop=kop)
                if event is not None:
                    events.append(event)
            rows.append(
                {
                    "case_id": case.case_id,
                    "invoice_id": case.invoice_id,
                    "package_id": package_id,
                    "pos": pos,
                    "s_code": str(sank.get("S_CODE") or ""),
                    "kind": kind,
                    "s_tip": str(sank.get("S_TIP") or ""),
                    "s_osn": str(sank.get("S_OSN") or ""),
                    "s_sum_kop": kop,
                    "date_act": act if isinstance(act, date) else None,
                    "num_act": str(sank.get("NUM_ACT") or "")[:30],
                }
            )
    insert_rows(session, Sanction, rows)
    insert_rows(session, RecordProblem, problems)
    insert_rows(session, Event, events)
