"""Event kinds of our own formats (exchange.md §4.5–§4.7): tmk, schedule, appeal.

- tmk: each МО asks federal centres about a few of its attached people (one in 20, at
  least one); the consultation follows the request, the implementation the consultation.
- schedule: each МО's units with their working days, evenings on weekdays and, for
  some units, Saturday mornings.
- appeal: each СМО's appeals of its insured (one in 30, at least two), open, answered or
  forwarded; answers come after the appeal, inside the month.

Planted defects repeat the previous record's key (``tmk_id_repeat`` on ID_TMK,
``appeal_id_repeat`` on ID_APPEAL: 905); nothing refers to these keys, so only the record
itself is refused. Schedules have no record-level checks and get no defects.
"""

from __future__ import annotations

import random
from datetime import timedelta

from contracts.filenames import Party
from contracts.generator.codes import (
    APPEAL_CHANNELS,
    APPEAL_TOPICS,
    APPEAL_TYPES,
    DIAGNOSES,
    ONCOLOGY,
    TMK_CENTERS,
    TMK_PURPOSES,
)
from contracts.generator.context import OWN_VERSION, Context, DefectDraws
from contracts.generator.emit import Markup, write_single
from contracts.generator.model import Defect, GeneratedPackage
from contracts.records import money

KEY_REPEATED = "905"
RECOMMEND = "Рекомендовано продолжить лечение по месту жительства (синтетический текст)"
TMK_DIAGNOSES = tuple(d.code for d in (*ONCOLOGY, *DIAGNOSES[29]) if d.sex == 0)


def _header(base: str, ctx: Context, records: int) -> Markup:
    m = Markup("ZGLV")
    m.leaf("VERSION", OWN_VERSION)
    m.leaf("DATA", ctx.end)
    m.leaf("FILENAME", base)
    m.leaf("SD_Z", records)
    m.close("ZGLV")
    return m


def write_tmk(ctx: Context, mo: str) -> GeneratedPackage:
    """The МО's telemedicine consultations."""
    party = Party("mo", mo)
    base = ctx.base("K", party)
    rng = ctx.rng("tmk", mo)
    draws = DefectDraws(ctx, base)
    attached = ctx.population.attached_to(mo)
    chosen = sorted(rng.sample(attached, max(1, len(attached) // 20))) if attached else []
    records: list[Markup] = []
    defects: list[Defect] = []
    previous = ""
    for n, index in enumerate(chosen, start=1):
        person = ctx.population.person(index)
        key = ctx.uid("tmk", mo, n)
        if previous and draws.next() is not None:
            key = previous
            detail = f"ID_TMK повторяет ID_TMK записи N_ZAP={n - 1}"
            defects.append(Defect(base, n, key, KEY_REPEATED, detail, "tmk_id_repeat"))
        requested = ctx.day(rng)
        consulted = min(requested + timedelta(days=rng.randint(0, 5)), ctx.end)
        implemented = rng.random() < 0.7
        m = Markup("ZAP")
        m.leaf("N_ZAP", n)
        m.leaf("ID_TMK", key)
        m.leaf("ENP", person.enp)
        m.leaf("DR", person.birth)
        m.leaf("MO", mo)
        m.leaf("CENTER", rng.choice(TMK_CENTERS))
        m.leaf("DATE_REQ", requested)
        m.leaf("DATE_CONS", consulted)
        m.leaf("DS", rng.choice(TMK_DIAGNOSES))
        m.leaf("PURPOSE", rng.choice(tuple(TMK_PURPOSES)))
        m.leaf("RECOMMEND", RECOMMEND)
        m.leaf("IMPLEMENTED", int(implemented))
        if implemented:
            m.leaf("DATE_IMPL", ctx.day(rng, consulted))
        m.close("ZAP")
        records.append(m)
        previous = key
    write_single(
        ctx.out / f"{base}.zip",
        "TMK_LIST",
        _header(base, ctx, len(records)),
        records,
        day=ctx.end,
    )
    return ctx.package(base, "tmk", party, len(records), defects)


def write_schedule(ctx: Context, mo: str) -> GeneratedPackage:
    """The МО's schedule of preventive exams."""
    party = Party("mo", mo)
    base = ctx.base("G", party)
    rng = ctx.rng("schedule", mo)
    units = []
    for k in range(1, rng.randint(2, 3) + 1):
        m = Markup("UNIT")
        m.leaf("UNIT_ID", f"{mo}-{k}")
        m.leaf("NAME", f"Отделение медицинской профилактики № {k}")
        m.leaf("ADDRESS", f"г. Тестовск, ул. Примерная, д. {rng.randint(1, 99)}")
        m.leaf("KIND", rng.choice((1, 2, 3)))
        for weekday in range(1, 6):
            _day(m, weekday, "08:00", "20:00" if rng.random() < 0.5 else "16:00")
        if rng.random() < 0.5:
            _day(m, 6, "09:00", "14:00")
        m.close("UNIT")
        units.append(m)
    header = Markup("ZGLV")
    header.leaf("VERSION", OWN_VERSION)
    header.leaf("DATA", ctx.end)
    header.leaf("FILENAME", base)
    header.leaf("CODE_MO", mo)
    header.close("ZGLV")
    write_single(ctx.out / f"{base}.zip", "SCHED_LIST", header, units, day=ctx.end)
    return ctx.package(base, "schedule", party, len(units), [])


def _day(m: Markup, weekday: int, start: str, end: str) -> None:
    m.open("DAY")
    m.leaf("WEEKDAY", weekday)
    m.leaf("FROM", start)
    m.leaf("TO", end)
    m.close("DAY")


def write_appeal(ctx: Context, smo: str) -> GeneratedPackage:
    """The СМО's appeals of the month."""
    party = Party("smo", smo)
    base = ctx.base("O", party)
    rng = ctx.rng("appeal", smo)
    draws = DefectDraws(ctx, base)
    insured = list(ctx.population.insured_by(smo))
    chosen = sorted(rng.sample(insured, min(len(insured), max(2, len(insured) // 30))))
    records: list[Markup] = []
    defects: list[Defect] = []
    previous = ""
    for n, index in enumerate(chosen, start=1):
        key = ctx.uid("appeal", smo, n)
        if previous and draws.next() is not None:
            key = previous
            detail = f"ID_APPEAL повторяет ID_APPEAL записи N_ZAP={n - 1}"
            defects.append(Defect(base, n, key, KEY_REPEATED, detail, "appeal_id_repeat"))
        records.append(_appeal(n, key, index, rng, ctx))
        previous = key
    write_single(
        ctx.out / f"{base}.zip",
        "APPEAL_LIST",
        _header(base, ctx, len(records)),
        records,
        day=ctx.end,
    )
    return ctx.package(base, "appeal", party, len(records), defects)


def _appeal(n: int, key: str, index: int, rng: random.Random, ctx: Context) -> Markup:
    population = ctx.population
    received = ctx.day(rng)
    kind = rng.choice(APPEAL_TYPES)
    status = rng.choice((1, 2, 2, 3))
    m = Markup("ZAP")
    m.leaf("N_ZAP", n)
    m.leaf("ID_APPEAL", key)
    m.leaf("DATE_IN", received)
    m.leaf("CHANNEL", rng.choice(APPEAL_CHANNELS))
    m.leaf("TYPE", kind)
    m.leaf("TOPIC", rng.choice(APPEAL_TOPICS))
    m.leaf("ENP", population.enp_of(index))
    m.leaf("MO", population.mo_of(index))
    m.leaf("STATUS", status)
    if status != 1:
        m.leaf("DATE_OUT", ctx.day(rng, received))
    if status == 2:
        result = rng.choice((1, 2)) if kind == 1 else 3
        m.leaf("RESULT", result)
        if result == 1 and rng.random() < 0.5:
            m.leaf("COMPENS_SUM", money(rng.randrange(50_000, 500_000, 100)))
    m.close("ZAP")
    return m
