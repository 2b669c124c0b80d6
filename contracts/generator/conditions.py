"""Conditions of care: outpatient visits, hospital stays, ambulance calls, as plain cases.

:class:`Conditions` holds what every register type builds on: it draws dates inside the
reporting month (DATE_Z_1 ≤ DATE_1 ≤ DATE_IN ≤ DATE_OUT ≤ DATE_2 ≤ DATE_Z_2), doctors of
the МО, diagnoses that fit the profile and the person's sex, services and their sums
(SUMV_USL = TARIF × KOL_USL outside a case tariff, 0 inside; SUM_M and SUMV add up), and
NPR_MO/NPR_DATE (before DATE_Z_1) for planned hospital care. Codes come from
:mod:`.codes` in combinations rules 006F.00.1200/1280/1100 allow.

The helpers draw with ``rng.random()`` directly: this is the hot loop of a large register.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise
from typing import TypeVar

from contracts.generator.cases import Case, Sl, Usl
from contracts.generator.codes import (
    AMBULANCE_PROFILE,
    AMBULANCE_SERVICE,
    AMBULANCE_VIDPOM,
    CLINIC_SERVICES,
    COMORBIDITIES,
    DIAGNOSES,
    INPATIENT_SERVICES,
    OUTCOMES,
    P_CEL,
    PROFILES,
    Diagnosis,
    Service,
)
from contracts.generator.people import Doctor, Patient, doctors
from contracts.generator.spec import RegisterSpec

T = TypeVar("T")


def below(rng: random.Random, n: int) -> int:
    """0 … n-1 (``randrange`` without its argument checks: this is the hot loop)."""
    return int(rng.random() * n)


def one(rng: random.Random, items: Sequence[T]) -> T:
    """One of ``items`` (``rng.choice`` without its checks)."""
    return items[int(rng.random() * len(items))]


def pick(rng: random.Random, diagnoses: Sequence[Diagnosis], person: Patient) -> str:
    """An ICD-10 code among ``diagnoses`` that fits the person's sex."""
    fitting = [d for d in diagnoses if d.sex in (0, person.sex)]
    return one(rng, fitting).code


class Conditions:
    """Cases of one register under each condition of care; subclasses pick among them."""

    def __init__(self, spec: RegisterSpec) -> None:
        self.spec = spec
        self.start = spec.period_start
        self.days = spec.period_end.day
        self.referrers = [m for m in spec.referrers if m != spec.mo] or [spec.mo]

    def outpatient(
        self, rng: random.Random, n_zap: int, person: Patient, profil: int, *, ds1: str = ""
    ) -> Case:
        """USL_OK 3: ``sl_per_case`` visits (one SL each) with a visit and tests as USL."""
        idcase = self.spec.idcase_base + n_zap
        parts = self.spec.sl_per_case
        visits = sorted(self.start + timedelta(days=below(rng, self.days)) for _ in range(parts))
        for_pom = 2 if rng.random() < 0.15 else 3
        ds1 = ds1 or pick(rng, DIAGNOSES[profil], person)
        ds2 = self.ds2(rng, ds1)
        c_zab = one(rng, (1, 2, 3))
        p_cel = P_CEL["urgent" if for_pom == 2 else "course" if parts > 1 else "visit"]
        catalogue = CLINIC_SERVICES[profil]
        extras = catalogue[2:]
        sls = []
        for k, day in enumerate(visits, start=1):
            doctor = self.doctor(rng, profil)
            services = [catalogue[0 if k == 1 else 1]]
            services += [one(rng, extras) for _ in range(self.spec.usl_per_sl - 1)]
            sl_id = f"{idcase}-{k}"
            usl = self.services(
                rng,
                sl_id=sl_id,
                profil=profil,
                podr=30 + profil,
                d1=day,
                d2=day,
                ds=ds1,
                services=services,
                doctor=doctor,
            )
            sls.append(
                Sl(
                    sl_id=sl_id,
                    profil=profil,
                    podr=30 + profil,
                    nhistory=f"А{idcase}",
                    date_1=day,
                    date_2=day,
                    ds1=ds1,
                    doctor=doctor,
                    sum_m=sum(u.sumv for u in usl),
                    usl=usl,
                    ds2=ds2,
                    p_cel=p_cel,
                    c_zab=c_zab,
                )
            )
        outcome = one(rng, OUTCOMES[3])
        return Case(
            n_zap=n_zap,
            id_pac=f"P{person.index:07d}",
            person=person,
            idcase=idcase,
            lpu=self.spec.mo,
            vidpom=12 if profil == 97 else 13,
            date_z_1=visits[0],
            date_z_2=visits[-1],
            idsp=30 if parts > 1 else 29,
            sl=sls,
            sumv=sum(sl.sum_m for sl in sls),
            usl_ok=3,
            for_pom=for_pom,
            rslt=outcome.rslt,
            ishod=outcome.ishod,
        )

    def hospital(
        self,
        rng: random.Random,
        n_zap: int,
        person: Patient,
        *,
        usl_ok: int,
        vidpom: int,
        profil: int,
        planned: bool,
        tariff: tuple[int, int],
        length: tuple[int, int],
        profiles: Sequence[int],
        parts: int = 0,
        ds1: str = "",
        first: Service | None = None,
    ) -> Case:
        """USL_OK 1/2: a stay split into departments (SL) paid by a case tariff (КСГ)."""
        idcase = self.spec.idcase_base + n_zap
        z1, z2 = self.span(rng, *length)
        stays = self.split(rng, z1, z2, parts or self.spec.sl_per_case)
        first_ds = ds1 or pick(rng, DIAGNOSES[profil], person)
        sls = []
        for k, (d1, d2) in enumerate(stays, start=1):
            p = profil if k == 1 else one(rng, profiles)
            ds = first_ds if p == profil else pick(rng, DIAGNOSES[p], person)
            doctor = self.doctor(rng, p)
            services = [one(rng, INPATIENT_SERVICES) for _ in range(self.spec.usl_per_sl)]
            if first is not None:
                services[0] = first
            sl_id = f"{idcase}-{k}"
            podr = 10 * usl_ok + p
            usl = self.services(
                rng,
                sl_id=sl_id,
                profil=p,
                podr=podr,
                d1=d1,
                d2=d2,
                ds=ds,
                services=services,
                doctor=doctor,
            )
            cost = (tariff[0] + below(rng, tariff[1] - tariff[0])) // 100 * 100
            sls.append(
                Sl(
                    sl_id=sl_id,
                    profil=p,
                    podr=podr,
                    nhistory=f"С{idcase}",
                    date_1=d1,
                    date_2=d2,
                    ds1=ds,
                    doctor=doctor,
                    sum_m=cost,
                    usl=usl,
                    ds2=self.ds2(rng, ds),
                    c_zab=1,
                    tarif=cost,
                    profil_k=PROFILES[p].profil_k or None,
                )
            )
        outcome = one(rng, OUTCOMES[usl_ok])
        case = Case(
            n_zap=n_zap,
            id_pac=f"P{person.index:07d}",
            person=person,
            idcase=idcase,
            lpu=self.spec.mo,
            vidpom=vidpom,
            date_z_1=z1,
            date_z_2=z2,
            idsp=33,
            sl=sls,
            sumv=sum(sl.sum_m for sl in sls),
            usl_ok=usl_ok,
            for_pom=3 if planned else 1,
            kd_z=max((z2 - z1).days, 1) if usl_ok == 1 else (z2 - z1).days + 1,
            rslt=outcome.rslt,
            ishod=outcome.ishod,
        )
        if planned:
            case.npr_mo = one(rng, self.referrers)
            case.npr_date = z1 - timedelta(days=2 + below(rng, 29))
        return case

    def ambulance(self, rng: random.Random, n_zap: int, person: Patient) -> Case:
        """USL_OK 4: one call, one SL, one service paid per call."""
        idcase = self.spec.idcase_base + n_zap
        day = self.start + timedelta(days=below(rng, self.days))
        ds1 = pick(rng, DIAGNOSES[AMBULANCE_PROFILE], person)
        doctor = self.doctor(rng, AMBULANCE_PROFILE)
        sl_id = f"{idcase}-1"
        podr = 40 + AMBULANCE_PROFILE
        usl = self.services(
            rng,
            sl_id=sl_id,
            profil=AMBULANCE_PROFILE,
            podr=podr,
            d1=day,
            d2=day,
            ds=ds1,
            services=[AMBULANCE_SERVICE],
            doctor=doctor,
        )
        sl = Sl(
            sl_id=sl_id,
            profil=AMBULANCE_PROFILE,
            podr=podr,
            nhistory=f"В{idcase}",
            date_1=day,
            date_2=day,
            ds1=ds1,
            doctor=doctor,
            sum_m=usl[0].sumv,
            usl=usl,
            c_zab=1,
        )
        outcome = OUTCOMES[4][0]
        return Case(
            n_zap=n_zap,
            id_pac=f"P{person.index:07d}",
            person=person,
            idcase=idcase,
            lpu=self.spec.mo,
            vidpom=AMBULANCE_VIDPOM,
            date_z_1=day,
            date_z_2=day,
            idsp=24,
            sl=[sl],
            sumv=sl.sum_m,
            usl_ok=4,
            for_pom=1 if rng.random() < 0.6 else 2,
            rslt=outcome.rslt,
            ishod=outcome.ishod,
        )

    # --- helpers --------------------------------------------------------------------------

    def doctor(self, rng: random.Random, profil: int) -> Doctor:
        """One of the МО's doctors of the profile."""
        return one(rng, doctors(self.spec.mo, profil))

    def ds2(self, rng: random.Random, ds1: str) -> list[str]:
        """No DS2 (70 %) or one comorbidity other than DS1."""
        if rng.random() >= 0.3:
            return []
        return [one(rng, [d.code for d in COMORBIDITIES if d.code != ds1])]

    def span(self, rng: random.Random, low: int, high: int) -> tuple[date, date]:
        """A stay of ``low``–``high`` days inside the month."""
        days = min(low + below(rng, high - low + 1), self.days - 1)
        z1 = self.start + timedelta(days=below(rng, self.days - days))
        return z1, z1 + timedelta(days=days)

    def split(self, rng: random.Random, z1: date, z2: date, parts: int) -> list[tuple[date, date]]:
        """``parts`` contiguous stays over [z1, z2]; a transfer day ends one and starts the next."""
        total = (z2 - z1).days
        cuts = sorted(below(rng, total + 1) for _ in range(parts - 1))
        bounds = [0, *cuts, total]
        return [(z1 + timedelta(days=a), z1 + timedelta(days=b)) for a, b in pairwise(bounds)]

    def services(
        self,
        rng: random.Random,
        *,
        sl_id: str,
        profil: int,
        podr: int,
        d1: date,
        d2: date,
        ds: str,
        services: Sequence[Service],
        doctor: Doctor,
    ) -> list[Usl]:
        """One USL per service, on a day of [d1, d2]; SUMV_USL = TARIF × 1."""
        span = (d2 - d1).days + 1
        usl = []
        for j, service in enumerate(services, start=1):
            day = d1 if span == 1 else d1 + timedelta(days=below(rng, span))
            usl.append(
                Usl(
                    idserv=f"{sl_id}-{j}",
                    profil=profil,
                    podr=podr,
                    date_in=day,
                    date_out=day,
                    ds=ds,
                    code=service.code,
                    tarif=service.tariff,
                    sumv=service.tariff,
                    doctor=doctor,
                )
            )
        return usl
