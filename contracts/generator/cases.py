"""Cases of care as plain data, before they become XML: Z_SL with its SL and USL.

Money is held in kopecks (``int``) so sums add up exactly; :func:`contracts.records.money`
spells them. Fields not used by a register type stay ``None`` (or empty) and the
type's writer leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from contracts.generator.model import Defect
from contracts.generator.people import Doctor, Patient


@dataclass(slots=True)
class Usl:
    """A service (USL)."""

    idserv: str
    profil: int
    podr: int
    date_in: date
    date_out: date
    ds: str
    code: str
    tarif: int
    sumv: int
    doctor: Doctor
    kol: int = 1


@dataclass(slots=True)
class Onk:
    """ONK_SL of a confirmed malignancy."""

    ds1_t: int
    stad: int
    onk_t: int
    onk_n: int
    onk_m: int


@dataclass(slots=True)
class Napr:
    """A referral (NAPR) from a C-file case with a suspected malignancy."""

    date: date
    mo: str
    kind: int


@dataclass(slots=True)
class Naz:
    """A prescription after a D-file exam (NAZ)."""

    n: int
    r: int
    doctor: Doctor
    sp: int | None = None
    v: int | None = None
    usl: str | None = None
    napr_date: date | None = None
    napr_mo: str | None = None


@dataclass(slots=True)
class Vmp:
    """The high-tech part of a T-file SL."""

    vid_hmp: str
    metod_hmp: int
    tal_d: date
    tal_num: str
    tal_p: date


@dataclass(slots=True)
class Sl:
    """One SL of a case."""

    sl_id: str
    profil: int
    podr: int
    nhistory: str
    date_1: date
    date_2: date
    ds1: str
    doctor: Doctor
    sum_m: int
    usl: list[Usl]
    ds2: list[str] = field(default_factory=list)
    p_cel: str | None = None
    c_zab: int | None = None
    tarif: int | None = None
    profil_k: int | None = None
    ds_onk: int = 0
    napr: Napr | None = None
    cons: date | None = None
    onk: Onk | None = None
    vmp: Vmp | None = None
    ds1_pr: int | None = None
    pr_d_n: int | None = None
    naz: list[Naz] = field(default_factory=list)


@dataclass(slots=True)
class Case:
    """A ZAP: the person and the case (Z_SL)."""

    n_zap: int
    id_pac: str
    person: Patient
    idcase: int
    lpu: str
    vidpom: int
    date_z_1: date
    date_z_2: date
    idsp: int
    sl: list[Sl]
    sumv: int
    usl_ok: int | None = None
    for_pom: int | None = None
    npr_mo: str | None = None
    npr_date: date | None = None
    kd_z: int | None = None
    rslt: int | None = None
    ishod: int | None = None
    vbr: int | None = None
    p_otk: int | None = None
    rslt_d: int | None = None
    defect: Defect | None = None
    spoiled_snils: bool = False

    @property
    def planned_inpatient(self) -> bool:
        """Planned care in a hospital or day hospital (NPR required, rule 002K.00.0290)."""
        return self.usl_ok in (1, 2) and self.for_pom == 3
