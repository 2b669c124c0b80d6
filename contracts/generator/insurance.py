"""Who is insured and attached: ``erz`` files of each СМО and ``attach`` files of each МО.

erz (exchange.md §4.3): file 1 insures every person of the СМО (OP ``P``, DBEG in the
past, the passport of that time); file 2 carries the month's changes: ``I`` (a newer
passport, for people over 45 whose passport was replaced) and ``C`` (insurance ends on
the last day of the month, so every case of the month is still covered).

attach (§4.2, ATT 1.3): every person attached to the МО since a day before the month,
by address or by application, with the therapist's SNILS (11 digits, as the reference
sample spells DOC_CODE).

Planted defects are extra records, so nothing else depends on a refused one:
``erz_enp_repeat`` repeats the previous PERS (905, key ENP) and ``attach_overlap`` adds a
second attachment of the previous person to the same МО, starting while the first is
open (007F.64.0001).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from contracts.filenames import Party
from contracts.generator.codes import ATTACH_METHODS
from contracts.generator.context import OWN_VERSION, Context, DefectDraws
from contracts.generator.emit import Markup, write_single
from contracts.generator.model import Defect, GeneratedPackage
from contracts.generator.people import Passport, Person, doctors

ATTACH_VERSION = "1.3"
ATTACH_OVERLAP = "007F.64.0001"
KEY_REPEATED = "905"
SHARE_CHANGED_PASSPORT = 0.2
SHARE_LEAVING = 0.03


def write_erz(ctx: Context, smo: str) -> list[GeneratedPackage]:
    """The СМО's two erz files: the insured, then the month's changes."""
    party = Party("smo", smo)
    people = [ctx.population.person(i) for i in ctx.population.insured_by(smo)]
    first = _erz_file(ctx, party, 1, [("P", p, p.old_passport or p.passport) for p in people])
    rng = ctx.rng("erz-changes", smo)
    changes: list[tuple[str, Person, Passport]] = []
    for person in people:
        draw = rng.random()
        if person.old_passport is not None and draw < SHARE_CHANGED_PASSPORT:
            changes.append(("I", person, person.passport))
        elif draw > 1 - SHARE_LEAVING:
            changes.append(("C", person, person.old_passport or person.passport))
    return [first, _erz_file(ctx, party, 2, changes)] if changes else [first]


def _erz_file(
    ctx: Context, party: Party, number: int, rows: list[tuple[str, Person, Passport]]
) -> GeneratedPackage:
    base = ctx.base("E", party, number=number)
    draws = DefectDraws(ctx, base)
    records: list[Markup] = []
    defects: list[Defect] = []
    for op, person, passport in rows:
        records.append(_pers(len(records) + 1, op, person, passport, ctx))
        if number == 1 and draws.next() is not None:
            records.append(_pers(len(records) + 1, op, person, passport, ctx))
            detail = f"PERS повторяет ENP записи N_ZAP={len(records) - 1}"
            defects.append(
                Defect(base, len(records), person.enp, KEY_REPEATED, detail, "erz_enp_repeat")
            )
    header = Markup("ZGLV")
    header.leaf("VERSION", OWN_VERSION)
    header.leaf("DATA", ctx.end)
    header.leaf("FILENAME", base)
    header.leaf("SMO", party.code)
    header.leaf("SD_Z", len(records))
    header.close("ZGLV")
    write_single(ctx.out / f"{base}.zip", "ERZ_LIST", header, records, day=ctx.end)
    return ctx.package(base, "erz", party, len(records), defects)


def _pers(n: int, op: str, person: Person, passport: Passport, ctx: Context) -> Markup:
    m = Markup("PERS")
    m.leaf("N_ZAP", n)
    m.leaf("OP", op)
    m.leaf("ENP", person.enp)
    _names(m, person)
    m.leaf("SNILS", person.snils_formatted)
    m.leaf("DOCTYPE", passport.doctype)
    m.leaf("DOCSER", passport.series)
    m.leaf("DOCNUM", passport.number)
    m.leaf("DBEG", person.insured_since)
    if op == "C":
        m.leaf("DEND", ctx.end)
    m.close("PERS")
    return m


def _names(m: Markup, person: Person) -> None:
    m.leaf("FAM", person.fam)
    m.leaf("IM", person.im)
    m.leaf("OT", person.ot)
    m.leaf("W", person.sex)
    m.leaf("DR", person.birth)


def write_attach(ctx: Context, mo: str) -> GeneratedPackage:
    """The МО's attached population."""
    party = Party("mo", mo)
    base = ctx.base("AT", party)
    rng = ctx.rng("attach", mo)
    draws = DefectDraws(ctx, base)
    therapists = doctors(mo, 97)
    records: list[Markup] = []
    defects: list[Defect] = []
    for index in ctx.population.attached_to(mo):
        person = ctx.population.person(index)
        doctor = therapists[index % len(therapists)].snils
        method = rng.choice(tuple(ATTACH_METHODS))
        records.append(_rec(len(records) + 1, person, person.attached_since, method, doctor))
        if draws.next() is not None:
            later = _later(ctx.rng("attach-overlap", mo, index), person, ctx)
            records.append(_rec(len(records) + 1, person, later, 2, doctor))
            detail = f"прикрепление с {later} пересекается с открытым с {person.attached_since}"
            defects.append(
                Defect(base, len(records), person.enp, ATTACH_OVERLAP, detail, "attach_overlap")
            )
    header = Markup("ZGLV")
    header.leaf("VERSION", ATTACH_VERSION)
    header.leaf("FDATE", ctx.end)
    header.leaf("FNAME", base)
    header.leaf("CODE_MO", mo)
    header.close("ZGLV")
    write_single(ctx.out / f"{base}.zip", "ATT", header, records, day=ctx.end)
    return ctx.package(base, "attach", party, len(records), defects)


def _later(rng: random.Random, person: Person, ctx: Context) -> date:
    """A day after the attachment began and before the month (the attachment is still open)."""
    span = max((ctx.start - person.attached_since).days - 1, 1)
    return person.attached_since + timedelta(days=1 + rng.randrange(span))


def _rec(n: int, person: Person, since: date, method: int, doctor: str) -> Markup:
    m = Markup("REC")
    m.leaf("N_ZAP", n)
    _names(m, person)
    m.leaf("ENP", person.enp)
    m.leaf("DATE_ATTACH_B", since)
    m.leaf("ATTACH_METHOD", method)
    m.leaf("DOC_CODE", doctor)
    m.close("REC")
    return m
