"""Registers (H, C, T, D*) and their L-files, streamed into one ZIP.

Cases are a pure function of the spec and the population: :func:`iter_cases` draws them
from one seeded ``random.Random`` in N_ZAP order, so iterating twice gives the same cases.
:func:`write_register` generates them once, parking each ZAP's markup in a temporary
file (:class:`~.emit.Spool`) while it sums SUMV, because SCHET/SUMMAV precedes the
records; then it writes the header and replays the ZAPs into the ZIP member. The people
met are marked in a bytearray, and the L-file lists each of them once (plus the PERS of
planted SNILS defects). Memory stays flat whatever the number of cases; the disk holds
one uncompressed copy of the ZAPs for the time of the write.

Defects are decided by a second random stream that draws the same two numbers per record
whatever the rate, so a run with defects differs from its defect-free twin in exactly the
planted records.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from contracts.filenames import Party
from contracts.generator.cases import Case
from contracts.generator.clinic import CaseFactory
from contracts.generator.defects import plant
from contracts.generator.emit import Markup, Spool, write_document, xml_member
from contracts.generator.model import Defect, GeneratedPackage
from contracts.generator.people import Population, mix, seeded
from contracts.generator.spec import RegisterSpec
from contracts.generator.zap import pers, zap
from contracts.records import money

KIND = "registry"
COMENTS = "Синтетические данные omsx demo generate"


def iter_cases(spec: RegisterSpec, population: Population, people: Sequence[int]) -> Iterator[Case]:
    """The register's cases in N_ZAP order; ``people`` are the population indexes to draw from."""
    rng = seeded(mix(spec.seed, "cases", spec.base))
    defect_rng = seeded(mix(spec.seed, "defects", spec.base))
    factory = CaseFactory(spec)
    prev: Case | None = None
    for n_zap in range(1, spec.cases + 1):
        person = population.patient(people[int(rng.random() * len(people))])
        case = factory.build(rng, n_zap, person)
        chance, pick = defect_rng.random(), defect_rng.random()
        if chance < spec.defects:
            plant(case, prev, spec, pick)
        yield case
        prev = case


def write_register(
    out: Path,
    *,
    mo: str,
    smo: str,
    cases: int,
    file_type: str = "H",
    version: str = "3.2",
    defects: float = 0.0,
    seed: int = 0,
    number: int = 1,
    sl_per_case: int = 2,
    usl_per_sl: int = 2,
    year: int = 2025,
    month: int = 11,
    population: Population | None = None,
    referrers: Sequence[str] = (),
) -> GeneratedPackage:
    """Write one register package (main file + L-file) into the folder ``out`` (created).

    Without ``population`` the people are a population of their own (``cases // 2`` people,
    all insured by ``smo`` and attached to ``mo``); ``referrers`` are the МО that refer
    planned patients (NPR_MO), the МО itself when empty.
    """
    spec = RegisterSpec(
        type=file_type,
        mo=mo,
        smo=smo,
        cases=cases,
        version=version,
        number=number,
        seed=seed,
        defects=defects,
        year=year,
        month=month,
        sl_per_case=sl_per_case,
        usl_per_sl=usl_per_sl,
        referrers=tuple(referrers),
    )
    if population is None:
        population = Population(
            seed=seed,
            region=spec.region,
            size=max(1, cases // 2),
            smos=[smo],
            mos=[mo],
            period_start=spec.period_start,
        )
    return write_spec(out, spec, population)


def write_spec(out: Path, spec: RegisterSpec, population: Population) -> GeneratedPackage:
    """Write the register described by ``spec`` (see :func:`write_register`)."""
    out.mkdir(parents=True, exist_ok=True)
    people = population.insured_by(spec.smo)
    path = out / f"{spec.base}.zip"
    seen = bytearray(population.size)
    spoiled: list[Case] = []
    planted: list[Defect] = []
    total = 0
    layout = spec.layout
    with Spool(out) as spool:
        for case in iter_cases(spec, population, people):
            total += case.sumv
            if case.defect is not None:
                planted.append(case.defect)
            if case.spoiled_snils:
                spoiled.append(case)
            else:
                seen[case.person.index] = 1
            spool.add(zap(case, spec.type, layout, spec.smo))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            with xml_member(archive, f"{spec.base}.xml", spec.period_end) as xf:
                headers = [_zglv(spec), _schet(spec, total)]
                write_document(xf, "ZL_LIST", headers, spool.elements())
            with xml_member(archive, f"{spec.personal_base}.xml", spec.period_end) as xf:
                persons = _persons(population, seen, spoiled)
                write_document(xf, "PERS_LIST", [_personal_header(spec)], persons)
    return GeneratedPackage(
        path=path,
        file_name=spec.base,
        kind=KIND,
        sender=Party("mo", spec.mo).token,
        records=spec.cases,
        defects=planted,
        members=[f"{spec.base}.xml", f"{spec.personal_base}.xml"],
    )


def _persons(population: Population, seen: bytearray, spoiled: list[Case]) -> Iterator[Markup]:
    for index, flag in enumerate(seen):
        if flag:
            yield pers(f"P{index:07d}", population.person(index))
    for case in spoiled:
        yield pers(case.id_pac, population.person(case.person.index), spoiled=True)


def _zglv(spec: RegisterSpec) -> Markup:
    m = Markup("ZGLV")
    m.leaf("VERSION", spec.version)
    m.leaf("DATA", spec.period_end)
    m.leaf("FILENAME", spec.base)
    m.leaf("SD_Z", spec.cases)
    m.close("ZGLV")
    return m


def _schet(spec: RegisterSpec, total: int) -> Markup:
    m = Markup("SCHET")
    m.leaf("CODE", spec.code)
    m.leaf("CODE_MO", spec.mo)
    m.leaf("YEAR", spec.year)
    m.leaf("MONTH", spec.month)
    m.leaf("NSCHET", spec.nschet)
    m.leaf("DSCHET", spec.period_end)
    m.leaf("PLAT", spec.smo)
    m.leaf("SUMMAV", money(total))
    m.leaf("COMENTS", COMENTS)
    m.opt("DISP", spec.disp)
    m.close("SCHET")
    return m


def _personal_header(spec: RegisterSpec) -> Markup:
    m = Markup("ZGLV")
    m.leaf("VERSION", spec.version)
    m.leaf("DATA", spec.period_end)
    m.leaf("FILENAME", spec.personal_base)
    m.leaf("FILENAME1", spec.base)
    m.close("ZGLV")
    return m
