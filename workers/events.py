"""Applying the information kinds — hosp, tmk, appeal, schedule — to the information
resource (:mod:`storage.events`): the state each business key reaches, and a dated
event for everything that happened.

- hosp I01 referrals, I03 cancellations, I04 planned and I05 emergency admissions, I06
  discharges, I07 free beds. A cancellation or planned admission must name a referral
  the resource holds, a discharge an admission (007F.64.0002); the record is refused
  otherwise and nothing of it lands.
- tmk: a consultation per ID_TMK; appeal: an appeal per ID_APPEAL — a later record with
  the same key replaces the earlier state (its events stay: they happened).
- schedule: the file replaces the МО's units; evening (open after 18:00) and Saturday
  work are derived from the days.

Batches commit with the package's progress (:func:`workers.batches.each_batch`); a
re-run meets its own rows (events are keyed by package, position and kind; the state
rows by their business key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import delete
from sqlmodel import Session, SQLModel, col, select

from contracts.flk import FlkResult
from contracts.mek import hosp_reference_problem
from contracts.records import Record, items, to_kop
from omsx.settings import Settings
from storage.bulk import insert_rows, update_rows
from storage.care import RecordProblem
from storage.db import session_scope
from storage.events import (
    APPEALS,
    HOSPITAL,
    SCHEDULES,
    TELEMEDICINE,
    Appeal,
    BedReport,
    Event,
    HospReferral,
    HospStay,
    ScheduleUnit,
    TmkConsult,
)
from storage.models import Package
from storage.registry import insurance_of, problem_row
from workers.batches import Applied, Batch, each_batch

M = TypeVar("M", bound=SQLModel)

EVENING = "18:00"
SATURDAY = 6


def day(value: object) -> date | None:
    """A record's date (typed already, or ISO text), else None."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def text(value: object, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


def optional(value: object, limit: int) -> str | None:
    return text(value, limit) or None


def event_row(
    package_id: int,
    pos: int,
    kind: str,
    category: int,
    when: date | None,
    *,
    enp: object = None,
    mo: object = None,
    smo: object = None,
    ref: object = None,
    detail: object = None,
    amount_kop: int = 0,
    n: int = 0,
) -> dict[str, Any] | None:
    """One :class:`~storage.events.Event` row; None when the record gives no date for it."""
    if when is None:
        return None
    return {
        "day": when,
        "category": category,
        "kind": kind,
        "enp": optional(enp, 16),
        "mo": optional(mo, 6),
        "smo": optional(smo, 5),
        "ref": optional(ref, 36),
        "detail": optional(detail, 24),
        "amount_kop": amount_kop,
        "package_id": package_id,
        "pos": pos,
        "n": n,
    }


def with_insurer(session: Session, events: list[dict[str, Any]]) -> None:
    """Events naming a person but no СМО get the СМО that insured them on the day, from
    the registry (so the СМО's report and extract count them)."""
    unknown = {e["enp"] for e in events if e["smo"] is None and e["enp"]}
    if not unknown:
        return
    periods = insurance_of(session, unknown)
    for event in events:
        if event["smo"] is None and event["enp"] in periods:
            held = [p for p in periods[event["enp"]] if p.covers(event["day"])]
            if held:  # overlapping periods: the one that began last
                event["smo"] = max(held, key=lambda p: (p.dbeg, p.holder)).holder


class _Run:
    """One package's application: its rows, events, refusals and protocol lines."""

    def __init__(self, package: Package, refused: dict[int, str]) -> None:
        assert package.id is not None
        self.package = package
        self.package_id: int = package.id
        self.flk_refused = refused
        self.applied = Applied()
        self.events: list[dict[str, Any]] = []
        self.problems: list[dict[str, Any]] = []

    def live(self, batch: Batch) -> list[tuple[int, Record]]:
        return [(pos, rec) for pos, _elem, rec in batch if pos not in self.flk_refused]

    def event(self, pos: int, kind: str, category: int, when: date | None, **about: Any) -> None:
        row = event_row(self.package_id, pos, kind, category, when, **about)
        if row is not None:
            self.events.append(row)

    def refuse(self, pos: int, element: str, field: str, value: object) -> None:
        """Refuse the record: ``value`` names nothing the resource holds (007F.64.0002)."""
        finding = hosp_reference_problem(element, field, value, known=False)
        assert finding is not None
        # hosp records have no N_ZAP: the protocol names them by position, as FLK does
        problem = replace(finding.problem, n_zap=str(pos))
        self.problems.append(problem_row(self.package_id, pos, problem))

    def flush(self, session: Session) -> None:
        with_insurer(session, self.events)
        insert_rows(session, Event, self.events)
        insert_rows(session, RecordProblem, self.problems)
        self.events, self.problems = [], []

    def finish(self) -> Applied:
        with session_scope() as session:
            self.applied.read_back(session, self.package_id)
        return self.applied


def _apply(
    package: Package,
    refused: dict[int, str],
    settings: Settings,
    tag: str,
    handle: Callable[[_Run, Session, list[tuple[int, Record]], dict[str, Record]], None],
    *,
    parsed: FlkResult | None,
) -> Applied:
    run = _Run(package, refused)

    def batch(session: Session, records: Batch, header: dict[str, Record]) -> None:
        handle(run, session, run.live(records), header)
        run.flush(session)

    each_batch(package, settings, tag, batch, parsed.main if parsed else None)
    return run.finish()


def _by_key(session: Session, model: type[M], key: str, values: Iterable[str]) -> dict[str, M]:
    """The stored rows of ``model`` whose ``key`` is one of ``values``, by that key."""
    wanted = {v for v in values if v}
    if not wanted:
        return {}
    rows = session.exec(select(model).where(col(getattr(model, key)).in_(wanted)))
    return {getattr(row, key): row for row in rows}


def _replace(session: Session, model: type[SQLModel], key: str, rows: list[dict[str, Any]]) -> None:
    """Rows keyed by ``key``: the latest record of each key is the state."""
    latest = {row[key]: row for row in rows}
    if latest:
        column = getattr(model, key)
        session.execute(delete(model).where(col(column).in_(list(latest))))
        insert_rows(session, model, list(latest.values()))


# ---------------------------------------------------------------- hosp

HOSP_TAGS = {"I01": "DIR", "I03": "CANCEL", "I04": "HOSP", "I05": "HOSP", "I06": "DISCH"}


def apply_hosp(
    package: Package, refused: dict[int, str], settings: Settings, parsed: FlkResult | None = None
) -> Applied:
    file_type = (package.file_type or "").upper()
    if file_type == "I07":
        return _apply(package, refused, settings, "PLACES", _beds, parsed=parsed)
    handlers = {"I01": _referrals, "I03": _cancellations, "I04": _admissions,
                "I05": _admissions, "I06": _discharges}  # fmt: skip
    handle = handlers.get(file_type)
    if handle is None:
        return Applied()  # FLK accepts only the types above; nothing else reaches here
    return _apply(package, refused, settings, HOSP_TAGS[file_type], handle, parsed=parsed)


def _patient(rec: Record) -> Record:
    patient = rec.get("PATIENT")
    return patient if isinstance(patient, dict) else {}


def _referrals(run: _Run, session: Session, live: list[tuple[int, Record]], _h: Any) -> None:
    rows = []
    for pos, rec in live:
        patient = _patient(rec)
        id_d = text(rec.get("ID_D"), 36)
        rows.append(
            {
                "id_d": id_d,
                "num_d": text(rec.get("NUM_D"), 20),
                "date_d": day(rec.get("DATE_D")),
                "mo_d": text(rec.get("MO_D") or run.package.sender_code, 6),
                "mo_h": text(rec.get("MO_H"), 6),
                "usl_ok": text(rec.get("USL_OK"), 2),
                "profil": text(rec.get("PROFIL"), 4),
                "ds": text(rec.get("DS"), 10),
                "date_hosp": day(rec.get("DATE_HOSP")),
                "enp": optional(patient.get("ENP"), 16),
                "smo": optional(patient.get("SMO"), 5),
                "package_id": run.package_id,
            }
        )
        run.event(pos, "hosp.referral", HOSPITAL, day(rec.get("DATE_D")),
                  enp=patient.get("ENP"), mo=rows[-1]["mo_d"], smo=patient.get("SMO"),
                  ref=id_d, detail=rows[-1]["profil"])  # fmt: skip
    insert_rows(session, HospReferral, rows)


def _referrals_of(session: Session, live: list[tuple[int, Record]]) -> dict[str, HospReferral]:
    return _by_key(session, HospReferral, "id_d", (text(rec.get("ID_D"), 36) for _p, rec in live))


def _cancellations(run: _Run, session: Session, live: list[tuple[int, Record]], _h: Any) -> None:
    referrals = _referrals_of(session, live)
    updates = []
    for pos, rec in live:
        id_d = text(rec.get("ID_D"), 36)
        referral = referrals.get(id_d)
        if referral is None:
            run.refuse(pos, "CANCEL", "ID_D", id_d)
            continue
        when = day(rec.get("DATE_C"))
        updates.append({"id_d": id_d, "cancelled_on": when,
                        "cancel_reason": optional(rec.get("REASON"), 2),
                        "cancel_source": optional(rec.get("SOURCE"), 2)})  # fmt: skip
        run.event(pos, "hosp.cancelled", HOSPITAL, when, enp=referral.enp,
                  mo=referral.mo_d, smo=referral.smo, ref=id_d,
                  detail=rec.get("REASON"))  # fmt: skip
    update_rows(session, HospReferral, updates, ["cancelled_on", "cancel_reason",
                "cancel_source"], key="id_d")  # fmt: skip


def _admissions(run: _Run, session: Session, live: list[tuple[int, Record]], _h: Any) -> None:
    planned = (run.package.file_type or "").upper() == "I04"
    referrals = _referrals_of(session, live) if planned else {}
    stays, used = [], []
    for pos, rec in live:
        id_d = text(rec.get("ID_D"), 36)
        if planned and id_d not in referrals:
            run.refuse(pos, "HOSP", "ID_D", id_d)
            continue
        patient = _patient(rec)
        id_h, when = text(rec.get("ID_H"), 36), day(rec.get("DATE_H"))
        stays.append(
            {
                "id_h": id_h,
                "id_d": id_d or None,
                "planned": planned,
                "mo": text(run.package.sender_code, 6),
                "date_h": when,
                "profil": text(rec.get("PROFIL"), 4),
                "ds": text(rec.get("DS"), 10),
                "enp": optional(patient.get("ENP"), 16),
                "smo": optional(patient.get("SMO"), 5),
                "package_id": run.package_id,
            }
        )
        if planned:
            used.append({"id_d": id_d, "admitted_on": when, "id_h": id_h})
        kind = "hosp.planned" if planned else "hosp.emergency"
        run.event(pos, kind, HOSPITAL, when, enp=patient.get("ENP"),
                  mo=run.package.sender_code, smo=patient.get("SMO"), ref=id_h,
                  detail=stays[-1]["profil"])  # fmt: skip
    insert_rows(session, HospStay, stays)
    update_rows(session, HospReferral, used, ["admitted_on", "id_h"], key="id_d")


def _discharges(run: _Run, session: Session, live: list[tuple[int, Record]], _h: Any) -> None:
    stays = _by_key(session, HospStay, "id_h", (text(rec.get("ID_H"), 36) for _p, rec in live))
    updates = []
    for pos, rec in live:
        id_h = text(rec.get("ID_H"), 36)
        stay = stays.get(id_h)
        if stay is None:
            run.refuse(pos, "DISCH", "ID_H", id_h)
            continue
        when = day(rec.get("DATE_OUT"))
        updates.append({"id_h": id_h, "discharged_on": when, "rslt": optional(rec.get("RSLT"), 4)})
        run.event(pos, "hosp.discharge", HOSPITAL, when, enp=stay.enp, mo=stay.mo,
                  smo=stay.smo, ref=id_h, detail=rec.get("RSLT"))  # fmt: skip
    update_rows(session, HospStay, updates, ["discharged_on", "rslt"], key="id_h")


def _count(value: object) -> int | None:
    if isinstance(value, int | Decimal):
        return int(value)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _beds(run: _Run, session: Session, live: list[tuple[int, Record]], _h: Any) -> None:
    mo = text(run.package.sender_code, 6)
    rows = {}
    for _pos, rec in live:
        key = (day(rec.get("DATE_PL")), text(rec.get("PROFIL"), 4), text(rec.get("PROFIL_K"), 4))
        rows[key] = {
            "mo": mo,
            "date_pl": key[0],
            "profil": key[1],
            "profil_k": key[2],
            "free": _count(rec.get("FREE")) or 0,
            "free_m": _count(rec.get("FREE_M")),
            "free_w": _count(rec.get("FREE_W")),
            "free_c": _count(rec.get("FREE_C")),
            "package_id": run.package_id,
        }
    for when, profil, profil_k in rows:  # a newer report of the same beds replaces it
        session.execute(
            delete(BedReport).where(
                col(BedReport.mo) == mo,
                col(BedReport.date_pl) == when,
                col(BedReport.profil) == profil,
                col(BedReport.profil_k) == profil_k,
            )
        )
    insert_rows(session, BedReport, list(rows.values()))


# ---------------------------------------------------------------- tmk, appeal, schedule


def apply_tmk(
    package: Package, refused: dict[int, str], settings: Settings, parsed: FlkResult | None = None
) -> Applied:
    return _apply(package, refused, settings, "ZAP", _consultations, parsed=parsed)


def _consultations(run: _Run, session: Session, live: list[tuple[int, Record]], _h: Any) -> None:
    rows = []
    for pos, rec in live:
        id_tmk, enp = text(rec.get("ID_TMK"), 36), rec.get("ENP")
        mo = text(rec.get("MO") or run.package.sender_code, 6)
        asked, held, done = (day(rec.get(t)) for t in ("DATE_REQ", "DATE_CONS", "DATE_IMPL"))
        flag = str(rec.get("IMPLEMENTED") or "")
        implemented = None if flag == "" else flag == "1"
        rows.append(
            {
                "id_tmk": id_tmk,
                "enp": optional(enp, 16),
                "mo": mo,
                "center": text(rec.get("CENTER"), 12),
                "date_req": asked,
                "date_cons": held,
                "ds": text(rec.get("DS"), 10),
                "purpose": text(rec.get("PURPOSE"), 2),
                "implemented": implemented,
                "date_impl": done,
                "package_id": run.package_id,
            }
        )
        run.event(pos, "tmk.request", TELEMEDICINE, asked, enp=enp, mo=mo, ref=id_tmk)
        run.event(pos, "tmk.consultation", TELEMEDICINE, held, enp=enp, mo=mo, ref=id_tmk)
        if implemented:
            run.event(pos, "tmk.implemented", TELEMEDICINE, done or held, enp=enp, mo=mo,
                      ref=id_tmk)  # fmt: skip
    _replace(session, TmkConsult, "id_tmk", rows)


def apply_appeal(
    package: Package, refused: dict[int, str], settings: Settings, parsed: FlkResult | None = None
) -> Applied:
    return _apply(package, refused, settings, "ZAP", _appeals, parsed=parsed)


def _appeals(run: _Run, session: Session, live: list[tuple[int, Record]], _h: Any) -> None:
    sender = run.package.sender_code
    smo = sender if run.package.sender_role == "smo" else None
    rows = []
    for pos, rec in live:
        id_appeal, enp, mo = text(rec.get("ID_APPEAL"), 36), rec.get("ENP"), rec.get("MO")
        received, answered = day(rec.get("DATE_IN")), day(rec.get("DATE_OUT"))
        rows.append(
            {
                "id_appeal": id_appeal,
                "sender": text(sender, 6),
                "date_in": received,
                "channel": text(rec.get("CHANNEL"), 2),
                "type": text(rec.get("TYPE"), 2),
                "topic": text(rec.get("TOPIC"), 10),
                "enp": optional(enp, 16),
                "mo": optional(mo, 6),
                "status": text(rec.get("STATUS"), 2),
                "date_out": answered,
                "result": optional(rec.get("RESULT"), 2),
                "compens_kop": to_kop(rec.get("COMPENS_SUM")),
                "package_id": run.package_id,
            }
        )
        run.event(pos, "appeal.received", APPEALS, received, enp=enp, mo=mo, smo=smo,
                  ref=id_appeal, detail=rows[-1]["type"])  # fmt: skip
        run.event(pos, "appeal.answered", APPEALS, answered, enp=enp, mo=mo, smo=smo,
                  ref=id_appeal, detail=rows[-1]["result"])  # fmt: skip
    _replace(session, Appeal, "id_appeal", rows)


def apply_schedule(
    package: Package, refused: dict[int, str], settings: Settings, parsed: FlkResult | None = None
) -> Applied:
    def units(run: _Run, session: Session, live: list[tuple[int, Record]], header: Any) -> None:
        mo = text((header.get("ZGLV") or {}).get("CODE_MO") or run.package.sender_code, 6)
        # the file replaces the МО's schedule: units of other packages go
        session.execute(
            delete(ScheduleUnit).where(
                col(ScheduleUnit.mo) == mo, col(ScheduleUnit.package_id) != run.package_id
            )
        )
        rows = [_unit(run, mo, rec) for _pos, rec in live]
        received = settings.local_date(run.package.received_at)
        for (pos, _rec), row in zip(live, rows, strict=True):
            flags = ("E" if row["evening"] else "") + ("S" if row["saturday"] else "")
            run.event(pos, "schedule.unit", SCHEDULES, received, mo=mo, ref=row["unit_id"],
                      detail=flags)  # fmt: skip
        insert_rows(session, ScheduleUnit, rows)

    return _apply(package, refused, settings, "UNIT", units, parsed=parsed)


def _unit(run: _Run, mo: str, rec: Record) -> dict[str, Any]:
    days = [(str(d.get("WEEKDAY") or ""), str(d.get("FROM") or ""), str(d.get("TO") or ""))
            for d in items(rec, "DAY")]  # fmt: skip
    return {
        "mo": mo,
        "unit_id": text(rec.get("UNIT_ID"), 36),
        "name": text(rec.get("NAME"), 250),
        "kind": text(rec.get("KIND"), 2),
        "evening": any(to[:5] > EVENING for _w, _f, to in days),
        "saturday": any(w == str(SATURDAY) for w, _f, _t in days),
        "days": "; ".join(f"{w} {f[:5]}-{t[:5]}" for w, f, t in days)[:200],
        "package_id": run.package_id,
    }
