"""The stateful rules of exchange.md §6, as pure decisions over a snapshot of the registry.

The workers load what a batch of records needs (insurance periods of its people, the
cases of its МО already in the account of care, attachment periods …), call these
functions record by record, and write the outcome. Nothing here touches a database, so
each rule is tested on plain data:

- 005K.64.0001 — :func:`insurance_problem`: insured on DATE_Z_2 by the payer;
- 005K.64.0002 / 005K.64.0003 — :func:`repeat_problem`: a case accepted before, and a
  resubmission (PR_NOV=1) that has no refused record to replace;
- 007F.64.0001 — :class:`PeriodBook` (attachment): overlapping periods at one МО;
- 007F.64.0004 — :class:`PeriodBook` (insurance): erz changes of a person the СМО
  does not insure;
- 007F.64.0002 — :func:`hosp_reference_problem`: a cancellation or planned admission
  naming an unknown referral (ID_D), a discharge naming an unknown admission (ID_H);
- 007F.64.0003 — :func:`sanction_problem`: a sanction on a case not accepted for this
  СМО, or sanctions above the accepted sum.

Each returns the protocol line (worded by the catalogue) with the message variant, so
the caller can store the F014 basis the catalogue gives for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from contracts.protocol import Problem
from contracts.records import Record, money
from contracts.rules import Catalogue, load_catalogue

INSURED = "005K.64.0001"
REPEATED = "005K.64.0002"
NO_REFUSED = "005K.64.0003"
ATTACH_OVERLAP = "007F.64.0001"
SANCTION = "007F.64.0003"
ERZ_CHANGE = "007F.64.0004"
HOSP_UNKNOWN = "007F.64.0002"


@dataclass(frozen=True)
class Finding:
    """A stateful rule's verdict on one record: the protocol line and its variant."""

    problem: Problem
    variant: str = ""

    @property
    def rule(self) -> str:
        return self.problem.oshib


def _finding(
    rule_id: str,
    im_pol: str,
    bas_el: str,
    values: Mapping[str, object],
    *,
    variant: str = "",
    record: Record | None = None,
    zn_pol: object = None,
    idcase: str | None = None,
    catalogue: Catalogue | None = None,
) -> Finding:
    rule = (catalogue or load_catalogue())[rule_id]
    problem = rule.problem(im_pol, bas_el, values, variant=variant, zap=record, zn_pol=zn_pol)
    if idcase:
        problem = replace(problem, idcase=idcase)
    return Finding(problem, variant)


@dataclass(frozen=True)
class Period:
    """An insurance (``holder`` = СМО) or attachment (``holder`` = МО) period."""

    holder: str
    dbeg: date
    dend: date | None = None

    def covers(self, day: date) -> bool:
        return self.dbeg <= day and (self.dend is None or day <= self.dend)

    def overlaps(self, other: Period) -> bool:
        far = date.max
        return self.dbeg <= (other.dend or far) and other.dbeg <= (self.dend or far)


# ------------------------------------------------------------------ registers (005K)


def person_key(pacient: Record) -> str | None:
    """The person's ENP: ENP, or NPOLIS of a unified policy (VPOLIS=3) when ENP is absent."""
    enp = pacient.get("ENP")
    if isinstance(enp, str) and enp:
        return enp
    npolis = pacient.get("NPOLIS")
    if pacient.get("VPOLIS") == "3" and isinstance(npolis, str) and len(npolis) == 16:
        return npolis
    return None


def insurance_problem(
    zap: Record, enp: str | None, payer: str, periods: Iterable[Period]
) -> Finding | None:
    """005K.64.0001: the person is insured by ``payer`` on DATE_Z_2 (by the registry)."""
    z_sl = zap.get("Z_SL") or {}
    day = z_sl.get("DATE_Z_2")
    if enp is None:
        return _finding(INSURED, "ENP", "PACIENT", {}, variant="unidentified", record=zap)
    if not isinstance(day, date):
        return None  # FLK has refused the record already
    covering = [p for p in periods if p.covers(day)]
    if any(p.holder == payer for p in covering):
        return None
    values = {"date_z_2": day.isoformat(), "plat": payer}
    if covering:
        smo = covering[0].holder
        return _finding(
            INSURED,
            "SMO",
            "PACIENT",
            {**values, "smo": smo},
            variant="other_smo",
            record=zap,
            zn_pol=smo,
        )
    return _finding(INSURED, "DATE_Z_2", "Z_SL", values, record=zap, zn_pol=day.isoformat())


@dataclass(frozen=True)
class EarlierCase:
    """A case of the same МО in an earlier package (the account of care)."""

    case_id: int
    package_id: int
    idcase: str
    period: tuple[int, int]  # the register's YEAR, MONTH
    status: str  # accepted | refused
    replaced: bool
    person: tuple[str | None, date | None, date | None, str]  # ENP, DATE_Z_1, DATE_Z_2, PROFIL


@dataclass
class Earlier:
    """The earlier cases a batch of one МО's records can collide with.

    IDCASE identifies a case within an МО and a period (exchange.md §4.1), so accepted
    cases are kept by (period, IDCASE); a resubmission (PR_NOV=1) comes in a later
    register, so refused cases are kept by IDCASE alone."""

    accepted: dict[tuple[tuple[int, int], str], EarlierCase] = field(default_factory=dict)
    by_person: dict[tuple[Any, ...], EarlierCase] = field(default_factory=dict)  # accepted
    refused_open: dict[str, EarlierCase] = field(default_factory=dict)  # by IDCASE

    def add(self, case: EarlierCase) -> None:
        if case.status == "accepted":
            self.accepted.setdefault((case.period, case.idcase), case)
            if case.person[0] is not None:
                self.by_person.setdefault(case.person, case)
        elif not case.replaced:
            self.refused_open.setdefault(case.idcase, case)


def case_person(zap: Record, enp: str | None) -> tuple[str | None, date | None, date | None, str]:
    """(ENP, DATE_Z_1, DATE_Z_2, first SL's PROFIL): "the same person, dates and profile"."""
    z_sl = zap.get("Z_SL") or {}
    sls = z_sl.get("SL") or [{}]
    z1, z2 = z_sl.get("DATE_Z_1"), z_sl.get("DATE_Z_2")
    return (
        enp,
        z1 if isinstance(z1, date) else None,
        z2 if isinstance(z2, date) else None,
        str(sls[0].get("PROFIL") or ""),
    )


def repeat_problem(
    zap: Record, enp: str | None, earlier: Earlier, period: tuple[int, int]
) -> tuple[Finding | None, EarlierCase | None]:
    """005K.64.0002 (PR_NOV=0, already accepted) and 005K.64.0003 (PR_NOV=1 with nothing
    to replace) for a record of a register of ``period``. Returns the finding, and for
    an accepted resubmission the refused record it replaces."""
    z_sl = zap.get("Z_SL") or {}
    idcase = str(z_sl.get("IDCASE") or "")
    if str(zap.get("PR_NOV") or "0") == "1":
        replaced = earlier.refused_open.get(idcase)
        if replaced is None and (period, idcase) in earlier.accepted:
            return _finding(
                NO_REFUSED,
                "PR_NOV",
                "ZAP",
                {"idcase": idcase},
                variant="accepted",
                record=zap,
                zn_pol="1",
            ), None
        if replaced is None:
            return _finding(
                NO_REFUSED, "PR_NOV", "ZAP", {"idcase": idcase}, record=zap, zn_pol="1"
            ), None
        return None, replaced
    same = earlier.accepted.get((period, idcase))
    if same is not None:
        return _finding(
            REPEATED,
            "IDCASE",
            "Z_SL",
            {"idcase": idcase, "package": same.package_id},
            record=zap,
            zn_pol=idcase,
        ), None
    person = case_person(zap, enp)
    if person[0] is not None and person[1] is not None:
        other = earlier.by_person.get(person)
        if other is not None:
            values = {
                "date_z_1": person[1].isoformat(),
                "date_z_2": person[2].isoformat() if person[2] else "",
                "profil": person[3],
                "other": other.idcase,
                "package": other.package_id,
            }
            return _finding(
                REPEATED, "IDCASE", "Z_SL", values, variant="same_person", record=zap
            ), None
    return None, None


# ------------------------------------------------------------- periods (attach, erz)


@dataclass
class BookEntry:
    """A period as the book holds it: stored (``id``) or new, and whether it changed."""

    period: Period
    id: int | None = None
    changed: bool = False
    closed_by_this: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class PeriodBook:
    """One kind of periods (insurance or attachment) of a batch's people, as stored,
    then changed record by record: later records of the batch see earlier ones."""

    def __init__(self) -> None:
        self.by_enp: dict[str, list[BookEntry]] = {}

    def load(self, enp: str, period: Period, row_id: int) -> None:
        self.by_enp.setdefault(enp, []).append(BookEntry(period, row_id))

    def entries(self, enp: str) -> list[BookEntry]:
        return self.by_enp.setdefault(enp, [])

    def _close_before(self, enp: str, new: Period, *, same_holder: bool) -> None:
        """Close open periods of other holders (and of the same one when asked) that
        began before ``new``: one insurer / one attachment at a time."""
        for entry in self.entries(enp):
            old = entry.period
            if old.dend is not None or old.dbeg >= new.dbeg:
                continue
            if old.holder == new.holder and not same_holder:
                continue
            entry.period = Period(old.holder, old.dbeg, new.dbeg - timedelta(days=1))
            entry.changed = entry.closed_by_this = True

    def _find(self, enp: str, holder: str, dbeg: date) -> BookEntry | None:
        return next(
            (e for e in self.entries(enp) if e.period.holder == holder and e.period.dbeg == dbeg),
            None,
        )

    # -- attach (ATT): 007F.64.0001

    def attach(self, rec: Record, mo: str, **extra: Any) -> Finding | None:
        """One REC of an МО's attach file; None when applied."""
        enp, dbeg, dend = rec.get("ENP"), rec.get("DATE_ATTACH_B"), rec.get("DATE_ATTACH_E")
        if not isinstance(enp, str) or not isinstance(dbeg, date):
            return None  # FLK has refused it
        new = Period(mo, dbeg, dend if isinstance(dend, date) else None)
        same = self._find(enp, mo, dbeg)
        if same is not None:  # the same attachment restated (each month's file lists all)
            if same.period.dend != new.dend and new.dend is not None:
                same.period = new
                same.changed = True
            same.extra.update(extra)
            return None
        for entry in self.entries(enp):
            if entry.period.holder == mo and entry.period.overlaps(new):
                return _finding(
                    ATTACH_OVERLAP,
                    "DATE_ATTACH_B",
                    "REC",
                    {"date_attach_b": dbeg.isoformat(), "other_b": entry.period.dbeg.isoformat()},
                    record=rec,
                    zn_pol=dbeg.isoformat(),
                )
        self._close_before(enp, new, same_holder=False)
        if new.dend is None:  # an older attachment elsewhere that began later ends it
            later = [
                e.period.dbeg
                for e in self.entries(enp)
                if e.period.holder != mo and e.period.dbeg > dbeg
            ]
            if later:
                new = Period(mo, dbeg, min(later) - timedelta(days=1))
        self.entries(enp).append(BookEntry(new, None, True, extra=dict(extra)))
        return None

    # -- erz: P new insurance, I change of details, C end of insurance; 007F.64.0004

    def insure(self, pers: Record, smo: str, file_date: date | None) -> Finding | None:
        """One PERS of an СМО's erz file; None when applied."""
        enp, op = pers.get("ENP"), str(pers.get("OP") or "")
        dbeg, dend = pers.get("DBEG"), pers.get("DEND")
        if not isinstance(enp, str) or not isinstance(dbeg, date):
            return None  # FLK has refused it
        dend = dend if isinstance(dend, date) else None
        values = {"op": op, "smo": smo, "dbeg": dbeg.isoformat(), "dend": dend or ""}
        if dend is not None and dend < dbeg:
            return _finding(
                ERZ_CHANGE, "DEND", "PERS", values, variant="dates", record=pers, zn_pol=dend
            )
        mine = [e for e in self.entries(enp) if e.period.holder == smo]
        if op == "P":
            new = Period(smo, dbeg, dend)
            same = self._find(enp, smo, dbeg)
            self._close_before(enp, new, same_holder=True)
            if same is None:
                self.entries(enp).append(BookEntry(new, None, True))
            elif same.period.dend != dend:
                same.period, same.changed = new, True
            return None
        if not mine:
            return _finding(ERZ_CHANGE, "OP", "PERS", values, record=pers, zn_pol=op)
        if op == "C":
            open_ = [e for e in mine if e.period.dend is None]
            if not open_:
                return _finding(ERZ_CHANGE, "OP", "PERS", values, record=pers, zn_pol=op)
            end = dend or file_date or dbeg
            for entry in open_:
                entry.period = Period(smo, entry.period.dbeg, max(end, entry.period.dbeg))
                entry.changed = entry.closed_by_this = True
        return None  # I: the details change; the periods stay

    def changed(self) -> Iterable[tuple[str, BookEntry]]:
        for enp, entries in self.by_enp.items():
            for entry in entries:
                if entry.changed:
                    yield enp, entry


# ------------------------------------------------------------------ expert (007F)


@dataclass(frozen=True)
class AcceptedCase:
    """What a sanction is checked against: an accepted case and its sanctions so far."""

    case_id: int
    invoice_id: int
    payer: str
    nschet: str
    year: int
    month: int
    sump_kop: int
    sanctioned_kop: int  # by other S_CODEs already stored


def sanction_problem(
    zap: Record, smo: str, case: AcceptedCase | None, new_kop: int
) -> Finding | None:
    """007F.64.0003 for one expert ZAP whose SANKs together deduct ``new_kop``."""
    idcase = str(zap.get("IDCASE") or "")
    values = {
        "idcase": idcase,
        "nschet": zap.get("NSCHET") or "",
        "code_mo": zap.get("CODE_MO") or "",
    }
    if case is None or (
        case.nschet != str(zap.get("NSCHET") or "")
        or str(case.year) != str(zap.get("YEAR") or "")
        or str(case.month).zfill(2) != str(zap.get("MONTH") or "").zfill(2)
    ):
        return _finding(SANCTION, "IDCASE", "ZAP", values, record=zap, zn_pol=idcase, idcase=idcase)
    if case.payer != smo:
        return _finding(
            SANCTION,
            "IDCASE",
            "ZAP",
            values,
            variant="other_payer",
            record=zap,
            zn_pol=idcase,
            idcase=idcase,
        )
    total = case.sanctioned_kop + new_kop
    if total > case.sump_kop:
        return _finding(
            SANCTION,
            "S_SUM",
            "SANK",
            {**values, "total": money(total), "sump": money(case.sump_kop)},
            variant="exceeds",
            record=zap,
            zn_pol=money(new_kop),
            idcase=idcase,
        )
    return None


# ------------------------------------------------------------------ hosp (007F.64.0002)


def hosp_reference_problem(element: str, field: str, value: object, known: bool) -> Finding | None:
    """``element`` (CANCEL, HOSP, DISCH) refers by ``field`` (ID_D, ID_H) to ``value``: a
    referral or admission the registry must already hold (an earlier or the same file)."""
    if known:
        return None
    return _finding(
        HOSP_UNKNOWN,
        field,
        element,
        {"field": f"{element}/{field}", "value": value},
        zn_pol=value,
    )
