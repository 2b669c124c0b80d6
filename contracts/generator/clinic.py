"""Plausible cases for each register type, built on the conditions of care.

- H: 60 % outpatient (USL_OK 3, ``sl_per_case`` visits), 15 % hospital (USL_OK 1, the stay
  split into ``sl_per_case`` departments), 10 % day hospital (USL_OK 2), 15 % ambulance
  (USL_OK 4, one SL with one service).
- C: 80 % confirmed malignancy (DS_ONK 0, ONK_SL, CONS; outpatient or day-hospital
  chemotherapy), 20 % suspicion (DS_ONK 1, a referral NAPR, no ONK_SL). Half of the
  confirmed cases that follow a suspicion in the same register are that person's (the
  pathway suspicion → diagnosis the daily consolidation follows); their dates are drawn
  as any other, so a diagnosis may precede the suspicion.
- T: planned high-tech surgery (USL_OK 1, VIDPOM 32), one SL with the ВМП ticket.
- D*: one exam, health group I/II (DS1 Z00.0) or IIIа/IIIб (a finding, PR_D_N 2, NAZ).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from contracts.generator.cases import Case, Napr, Naz, Onk, Sl, Vmp
from contracts.generator.codes import (
    CHEMO_KSG_TARIFF,
    CHEMO_SERVICE,
    CLINIC_PROFILES,
    DAY_KSG_TARIFF,
    DAY_PROFILES,
    DISP_IDSP,
    DISP_VIDPOM,
    DISPENSARY_SERVICES,
    DS1_T_PRIMARY,
    EXAM_FINDINGS,
    EXAM_HEALTHY,
    EXAM_TARIFF,
    INPATIENT_KSG_TARIFF,
    INPATIENT_PROFILES,
    NAPR_V_ONCOLOGIST,
    NAZ_R_CONSULT,
    NAZ_R_EXAM,
    NAZ_V_LAB,
    ONCOLOGY,
    ONCOLOGY_PROFILE,
    PROFILES,
    STAGES,
    SUSPECTED_ONCOLOGY,
    TNM,
    VMP_KINDS,
    VMP_PROFILE,
    VMP_SERVICE,
    VMP_TARIFF,
    VMP_VIDPOM,
)
from contracts.generator.conditions import Conditions, below, one, pick
from contracts.generator.people import Patient, doctors
from contracts.generator.spec import RegisterSpec

Builder = Callable[[random.Random, int, Patient], Case]
_NAZ_USL_LAB = "A09.05.026"


class CaseFactory(Conditions):
    """Builds the cases of one register: ``factory.build(rng, n_zap, person)``."""

    def __init__(self, spec: RegisterSpec) -> None:
        super().__init__(spec)
        builders: dict[str, Builder] = {"H": self._h, "C": self._c, "T": self._t}
        self.build: Builder = builders.get(spec.type, self._d)
        self.suspected: list[Patient] = []  # C: suspicions a later case may confirm

    def _h(self, rng: random.Random, n_zap: int, person: Patient) -> Case:
        draw = rng.random()
        if draw < 0.60:
            return self.outpatient(rng, n_zap, person, one(rng, CLINIC_PROFILES))
        if draw < 0.75:
            profil = one(rng, INPATIENT_PROFILES)
            planned = rng.random() < 0.6
            return self.hospital(
                rng,
                n_zap,
                person,
                usl_ok=1,
                vidpom=31,
                profil=profil,
                planned=planned,
                tariff=INPATIENT_KSG_TARIFF,
                length=(3, 14),
                profiles=INPATIENT_PROFILES,
            )
        if draw < 0.85:
            return self.hospital(
                rng,
                n_zap,
                person,
                usl_ok=2,
                vidpom=13,
                profil=one(rng, DAY_PROFILES),
                planned=True,
                tariff=DAY_KSG_TARIFF,
                length=(4, 10),
                profiles=DAY_PROFILES,
            )
        return self.ambulance(rng, n_zap, person)

    def _c(self, rng: random.Random, n_zap: int, person: Patient) -> Case:
        if rng.random() < 0.2:
            case = self.outpatient(
                rng, n_zap, person, 97, ds1=pick(rng, SUSPECTED_ONCOLOGY, person)
            )
            for sl in case.sl:
                sl.ds_onk = 1
            last = case.sl[-1]
            last.napr = Napr(last.date_2, one(rng, self.referrers), NAPR_V_ONCOLOGIST)
            self.suspected.append(person)
            return case
        if self.suspected and rng.random() < 0.5:
            person = self.suspected.pop(0)
        ds1 = pick(rng, ONCOLOGY, person)
        if rng.random() < 0.6:
            case = self.outpatient(rng, n_zap, person, ONCOLOGY_PROFILE, ds1=ds1)
        else:
            case = self.hospital(
                rng,
                n_zap,
                person,
                usl_ok=2,
                vidpom=31,
                profil=ONCOLOGY_PROFILE,
                planned=True,
                tariff=CHEMO_KSG_TARIFF,
                length=(3, 8),
                profiles=(ONCOLOGY_PROFILE,),
                ds1=ds1,
                first=CHEMO_SERVICE,
            )
        onk = Onk(
            DS1_T_PRIMARY,
            one(rng, STAGES),
            one(rng, TNM["T"]),
            one(rng, TNM["N"]),
            one(rng, TNM["M"]),
        )
        for sl in case.sl:
            sl.onk = onk
            sl.cons = sl.date_1 - timedelta(days=1 + below(rng, 20))
        return case

    def _t(self, rng: random.Random, n_zap: int, person: Patient) -> Case:
        case = self.hospital(
            rng,
            n_zap,
            person,
            usl_ok=1,
            vidpom=VMP_VIDPOM,
            profil=VMP_PROFILE,
            planned=True,
            tariff=VMP_TARIFF,
            length=(5, 12),
            profiles=(VMP_PROFILE,),
            parts=1,
            first=VMP_SERVICE,
        )
        sl = case.sl[0]
        vid_hmp, metod_hmp = one(rng, VMP_KINDS)
        ticket = f"{self.spec.region}.{self.spec.mo[2:]}.{case.idcase % 100_000:05d}.001"
        referred = case.npr_date or case.date_z_1  # planned care always has NPR_DATE
        tal_d = referred + timedelta(days=below(rng, 2))
        sl.vmp = Vmp(vid_hmp, metod_hmp, tal_d, ticket, case.date_z_1)
        return case

    def _d(self, rng: random.Random, n_zap: int, person: Patient) -> Case:
        idcase = self.spec.idcase_base + n_zap
        z1 = self.start + timedelta(days=below(rng, self.days))
        z2 = min(z1 + timedelta(days=below(rng, 4)), self.spec.period_end)
        draw = rng.random()
        group = 1 if draw < 0.3 else 2 if draw < 0.7 else 31 if draw < 0.9 else 32
        doctor = one(rng, doctors(self.spec.mo, 97))
        services = [
            DISPENSARY_SERVICES[j % len(DISPENSARY_SERVICES)] for j in range(self.spec.usl_per_sl)
        ]
        usl = self.services(
            rng,
            sl_id=f"{idcase}-1",
            profil=97,
            podr=0,
            d1=z1,
            d2=z2,
            ds="",
            services=services,
            doctor=doctor,
        )
        sl = Sl(
            sl_id=f"{idcase}-1",
            profil=97,
            podr=0,
            nhistory=f"Д{idcase}",
            date_1=z1,
            date_2=z2,
            ds1=EXAM_HEALTHY.code,
            doctor=doctor,
            sum_m=EXAM_TARIFF[self.spec.type],
            usl=usl,
            pr_d_n=3,
        )
        sl.tarif = sl.sum_m
        if group >= 31:
            sl.ds1, sl.ds1_pr, sl.pr_d_n = one(rng, EXAM_FINDINGS).code, 1, 2
            mo = self.spec.mo
            sl.naz = [
                Naz(1, NAZ_R_EXAM, doctor, v=NAZ_V_LAB, usl=_NAZ_USL_LAB, napr_date=z2, napr_mo=mo),
                Naz(2, NAZ_R_CONSULT, doctor, sp=PROFILES[29].prvs, napr_date=z2, napr_mo=mo),
            ]
        for u in usl:
            u.ds = sl.ds1
        return Case(
            n_zap=n_zap,
            id_pac=f"P{person.index:07d}",
            person=person,
            idcase=idcase,
            lpu=self.spec.mo,
            vidpom=DISP_VIDPOM,
            date_z_1=z1,
            date_z_2=z2,
            idsp=DISP_IDSP,
            sl=[sl],
            sumv=sl.sum_m,
            vbr=0,
            p_otk=0,
            rslt_d=group,
        )
