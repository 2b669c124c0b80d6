"""Hospitalisation files (exchange.md §4.4) drawn from the hospital cases of the H registers.

Each H case with USL_OK 1 becomes its events (taken from the register's defect-free twin:
the stay happened whatever defect its record carries), so hosp and registers tell the
same story: a planned case (FOR_POM 3) is a referral I01 from its NPR_MO dated NPR_DATE,
an admission I04 on DATE_Z_1 referring to it and a discharge I06 on DATE_Z_2; an
emergency case is an admission I05 and a discharge I06. Each referring МО also issues a
few referrals that are cancelled (I03, by the МО), and each hospital reports free beds
per profile (I07, FREE = FREE_M + FREE_W + FREE_C).

Files are monthly, one per type and МО, dated (``_YYMMDD``) and reported on the last day
of the month. At most :data:`CASE_LIMIT` cases per МО feed them, so hosp files stay small
next to large registers. Planted defects are extra records referring to an ID that was
never sent (007F.64.0002): an I04 with an unknown ID_D, an I06 with an unknown ID_H.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from contracts.filenames import HOSP_TYPES, Party
from contracts.generator.cases import Case
from contracts.generator.codes import (
    CANCEL_REASONS,
    CANCEL_SOURCE_MO,
    DIAGNOSES,
    INPATIENT_PROFILES,
)
from contracts.generator.context import Context, DefectDraws
from contracts.generator.emit import Markup, write_single
from contracts.generator.model import Defect, GeneratedPackage
from contracts.generator.registers import iter_cases

VERSION = "2.0"
CASE_LIMIT = 2000
UNKNOWN_REFERENCE = "007F.64.0002"
Orphan = Callable[[], tuple[Markup, str]]
RECORD = {
    "I01": "DIR",
    "I03": "CANCEL",
    "I04": "HOSP",
    "I05": "HOSP",
    "I06": "DISCH",
    "I07": "PLACES",
}


class HospFiles:
    """Records per (type, МО), in order, and the defects planted in them."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.records: dict[tuple[str, str], list[Markup]] = defaultdict(list)
        self.defects: dict[tuple[str, str], list[Defect]] = defaultdict(list)
        self._draws: dict[str, DefectDraws] = {}

    def base(self, type_: str, mo: str) -> str:
        """The file's name: monthly, dated the last day of the month."""
        return self.ctx.base(type_, Party("mo", mo), day=self.ctx.end.day)

    def add(self, type_: str, mo: str, record: Markup) -> int:
        """Append a record; returns its number in the file."""
        self.records[type_, mo].append(record)
        return len(self.records[type_, mo])

    def add_referring(self, type_: str, mo: str, record: Markup, orphan: Orphan) -> None:
        """Append a record that refers to another; maybe follow it with a planted orphan."""
        self.add(type_, mo, record)
        base = self.base(type_, mo)
        if base not in self._draws:
            self._draws[base] = DefectDraws(self.ctx, base)
        if self._draws[base].next() is None:
            return
        bogus, key = orphan()
        n = self.add(type_, mo, bogus)
        tag = "ID_D" if type_ == "I04" else "ID_H"
        detail = f"{RECORD[type_]} ссылается на неизвестный {tag}"
        defect = Defect(base, n, key, UNKNOWN_REFERENCE, detail, "hosp_unknown_ref")
        self.defects[type_, mo].append(defect)


def write_hosp(ctx: Context) -> list[GeneratedPackage]:
    """All hosp files of the run, I01 first (I03/I04 refer to I01, I06 to I04/I05)."""
    files = HospFiles(ctx)
    _from_cases(ctx, files)
    for mo in ctx.config.mo_codes:
        _cancelled(ctx, files, mo)
        _places(ctx, files, mo)
    return [
        _write(ctx, files, type_, mo)
        for type_ in HOSP_TYPES
        for mo in ctx.config.mo_codes
        if files.records.get((type_, mo))
    ]


def _from_cases(ctx: Context, files: HospFiles) -> None:
    used: dict[str, int] = defaultdict(int)
    for spec in ctx.registers:
        if spec.type != "H":
            continue
        people = ctx.population.insured_by(spec.smo)
        clean = replace(spec, defects=0.0)  # the events happened, whatever the register says
        for case in iter_cases(clean, ctx.population, people):
            if case.usl_ok == 1 and used[spec.mo] < CASE_LIMIT:
                used[spec.mo] += 1
                _case_events(ctx, files, spec.base, case)


def _case_events(ctx: Context, files: HospFiles, register: str, case: Case) -> None:
    rng = ctx.rng("hosp", register, case.idcase)
    time = f"{rng.randint(7, 22):02d}:{rng.choice((0, 15, 30, 45)):02d}"
    patient = _patient(ctx, case.person.index)
    id_h = ctx.uid("hosp-h", register, case.idcase)
    if case.npr_mo is not None:
        id_d = ctx.uid("hosp-d", register, case.idcase)
        files.add("I01", case.npr_mo, _referral(id_d, case, patient))
        stray_h = ctx.uid("stray-h", register, case.idcase)
        stray_d = ctx.uid("stray-d", register, case.idcase)
        files.add_referring(
            "I04",
            case.lpu,
            _hosp(id_h, id_d, case, time, patient),
            lambda: (_hosp(stray_h, stray_d, case, time, patient), stray_d),
        )
    else:
        files.add("I05", case.lpu, _hosp(id_h, None, case, time, patient))
    stray = ctx.uid("stray-discharge", register, case.idcase)
    files.add_referring(
        "I06",
        case.lpu,
        _discharge(id_h, case, patient),
        lambda: (_discharge(stray, case, patient), stray),
    )


def _hosp(id_h: str, id_d: str | None, case: Case, time: str, patient: Markup) -> Markup:
    """An admission: I04 (planned, with the referral's ID_D) or I05 (emergency)."""
    sl = case.sl[0]
    m = Markup("HOSP")
    m.leaf("ID_H", id_h)
    m.opt("ID_D", id_d)
    m.leaf("DATE_H", case.date_z_1)
    m.leaf("TIME_H", time)
    m.leaf("PROFIL", sl.profil)
    if id_d is not None:
        m.opt("PROFIL_K", sl.profil_k)
    m.leaf("DS", sl.ds1)
    m.leaf("NUM_HIST", sl.nhistory)
    m.include(patient)
    m.close("HOSP")
    return m


def _discharge(id_h: str, case: Case, patient: Markup) -> Markup:
    m = Markup("DISCH")
    m.leaf("ID_H", id_h)
    m.leaf("DATE_H", case.date_z_1)
    m.leaf("DATE_OUT", case.date_z_2)
    m.leaf("PROFIL", case.sl[-1].profil)
    m.opt("RSLT", case.rslt)
    m.include(patient)
    m.close("DISCH")
    return m


def _referral(id_d: str, case: Case, patient: Markup) -> Markup:
    sl = case.sl[0]
    m = Markup("DIR")
    m.leaf("ID_D", id_d)
    m.leaf("NUM_D", f"{case.idcase % 10**7}")
    m.leaf("DATE_D", case.npr_date or case.date_z_1)
    m.leaf("MO_D", case.npr_mo or case.lpu)
    m.leaf("MO_H", case.lpu)
    m.leaf("USL_OK", 1)
    m.leaf("PROFIL", sl.profil)
    m.opt("PROFIL_K", sl.profil_k)
    m.leaf("DS", sl.ds1)
    m.leaf("DATE_HOSP", case.date_z_1)
    m.include(patient)
    m.close("DIR")
    return m


def _patient(ctx: Context, index: int) -> Markup:
    person = ctx.population.person(index)
    m = Markup("PATIENT")
    m.leaf("ENP", person.enp)
    m.leaf("SURNAME", person.fam)
    m.leaf("NAME", person.im)
    m.leaf("PATRONYMIC", person.ot)
    m.leaf("BIRTHDAY", person.birth)
    m.leaf("SEX", person.sex)
    m.leaf("SMO", person.smo)
    m.close("PATIENT")
    return m


def _cancelled(ctx: Context, files: HospFiles, mo: str) -> None:
    """A few referrals of ``mo`` cancelled (by the МО) before the planned admission."""
    rng = ctx.rng("hosp-cancel", mo)
    issued = len(files.records.get(("I01", mo), []))
    hospitals = [m for m in ctx.config.mo_codes if m != mo] or [mo]
    for k in range(max(1, issued // 5)):
        index = rng.randrange(ctx.population.size)
        profil = rng.choice(INPATIENT_PROFILES)
        issued_on = ctx.day(rng)
        planned = min(issued_on + timedelta(days=rng.randint(3, 20)), ctx.end)
        id_d = ctx.uid("hosp-cancel", mo, k)
        m = Markup("DIR")
        m.leaf("ID_D", id_d)
        m.leaf("NUM_D", f"О-{k + 1}")
        m.leaf("DATE_D", issued_on)
        m.leaf("MO_D", mo)
        m.leaf("MO_H", rng.choice(hospitals))
        m.leaf("USL_OK", 1)
        m.leaf("PROFIL", profil)
        m.leaf("DS", rng.choice(DIAGNOSES[profil]).code)
        m.leaf("DATE_HOSP", planned)
        m.include(_patient(ctx, index))
        m.close("DIR")
        files.add("I01", mo, m)
        c = Markup("CANCEL")
        c.leaf("ID_D", id_d)
        c.leaf("DATE_C", issued_on + timedelta(days=rng.randint(0, (planned - issued_on).days)))
        c.leaf("REASON", rng.choice(tuple(CANCEL_REASONS)))
        c.leaf("SOURCE", CANCEL_SOURCE_MO)
        c.close("CANCEL")
        files.add("I03", mo, c)


def _places(ctx: Context, files: HospFiles, mo: str) -> None:
    rng = ctx.rng("hosp-places", mo)
    for profil in INPATIENT_PROFILES:
        men, women, children = rng.randint(0, 12), rng.randint(0, 12), rng.randint(0, 2)
        m = Markup("PLACES")
        m.leaf("PROFIL", profil)
        m.leaf("DATE_PL", ctx.end)
        m.leaf("FREE", men + women + children)
        m.leaf("FREE_M", men)
        m.leaf("FREE_W", women)
        m.leaf("FREE_C", children)
        m.close("PLACES")
        files.add("I07", mo, m)


def _write(ctx: Context, files: HospFiles, type_: str, mo: str) -> GeneratedPackage:
    base = files.base(type_, mo)
    records = files.records[type_, mo]
    header = Markup("ZGLV")
    header.leaf("VERSION", VERSION)
    header.leaf("DATE_F", ctx.end)
    header.leaf("NAME_F", base)
    header.leaf("DATE_R", ctx.end)
    header.close("ZGLV")
    write_single(ctx.out / f"{base}.zip", "ZL_LIST", header, records, day=ctx.end)
    return ctx.package(
        base, "hosp", Party("mo", mo), len(records), files.defects.get((type_, mo), [])
    )
