"""The information resource (design.md "Daily consolidation"): what happened to insured
persons, from the accepted packages of the information kinds.

- ``event`` — one dated line per thing that happened (an exam done, a suspicion of
  cancer, a referral issued, an admission, an appeal received, a consultation held, a
  case refused by MEK …), with its category (1–7 of the issue:
  exams, oncology, hospitalisation, telemedicine, schedules, appeals, expert control),
  the person (ENP, when the record names one), the МО and СМО concerned and the
  package and record it came from. The daily consolidation counts these by day.
- The state the consolidation needs to link events over time, one row per business key:
  ``hospreferral`` (I01, with its cancellation I03 and its admission I04), ``hospstay``
  (I04/I05 with its discharge I06), ``bedreport`` (I07), ``tmkconsult`` (ID_TMK),
  ``appeal`` (ID_APPEAL; a later record updates it), ``scheduleunit`` (each schedule
  file replaces the МО's previous units).

Every row carries the package it came from; events are keyed by package, position, kind
and ``n``, so an applier that re-runs meets its own rows.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.care import _kop

# categories of the daily report (issue "information resource", in its order)
EXAMS, ONCOLOGY, HOSPITAL, TELEMEDICINE, SCHEDULES, APPEALS, EXPERT = range(1, 8)


class Event(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("package_id", "pos", "kind", "n", name="uq_event_record"),
        Index("ix_event_day", "day", "category"),
        Index("ix_event_person", "enp", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date  # when it happened (the record's own date, not the package's)
    category: int
    kind: str = Field(max_length=24)  # e.g. hosp.referral, tmk.consultation, appeal.received
    enp: str | None = Field(default=None, max_length=16)
    mo: str | None = Field(default=None, max_length=6)
    smo: str | None = Field(default=None, max_length=5)
    ref: str | None = Field(default=None, max_length=36)  # the business key (ID_D, ID_TMK …)
    detail: str | None = Field(default=None, max_length=24)
    """What the kind needs to be counted by: the exam's type and result (``DP:31``), the
    referral's NAZ_R, a diagnosis, a cancellation reason, an appeal's type or result,
    a refusal's rule, a schedule unit's ``E``/``S`` (evening, Saturday)."""
    amount_kop: int = Field(sa_column=_kop())  # money the event is about (MEK, МЭЭ, ЭКМП)
    package_id: int = Field(foreign_key="package.id", index=True)
    pos: int
    n: int = 0  # several events of one kind in one record (NAZ, SL, SANK)


class HospReferral(SQLModel, table=True):
    id_d: str = Field(primary_key=True, max_length=36)
    num_d: str = Field(default="", max_length=20)
    date_d: date
    mo_d: str = Field(max_length=6)  # referring МО
    mo_h: str = Field(max_length=6)  # target МО
    usl_ok: str = Field(default="", max_length=2)
    profil: str = Field(default="", max_length=4)
    ds: str = Field(default="", max_length=10)
    date_hosp: date | None = None  # planned date
    enp: str | None = Field(default=None, max_length=16, index=True)
    smo: str | None = Field(default=None, max_length=5)
    package_id: int = Field(foreign_key="package.id")
    cancelled_on: date | None = None
    cancel_reason: str | None = Field(default=None, max_length=2)
    cancel_source: str | None = Field(default=None, max_length=2)
    admitted_on: date | None = None  # the planned admission (I04) that used it
    id_h: str | None = Field(default=None, max_length=36)


class HospStay(SQLModel, table=True):
    id_h: str = Field(primary_key=True, max_length=36)
    id_d: str | None = Field(default=None, max_length=36)
    planned: bool  # I04 (with a referral) or I05 (emergency)
    mo: str = Field(max_length=6)
    date_h: date
    profil: str = Field(default="", max_length=4)
    ds: str = Field(default="", max_length=10)
    enp: str | None = Field(default=None, max_length=16, index=True)
    smo: str | None = Field(default=None, max_length=5)
    package_id: int = Field(foreign_key="package.id")
    discharged_on: date | None = None
    rslt: str | None = Field(default=None, max_length=4)


class BedReport(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("mo", "date_pl", "profil", "profil_k", name="uq_bedreport"),)

    id: int | None = Field(default=None, primary_key=True)
    mo: str = Field(max_length=6)
    date_pl: date
    profil: str = Field(max_length=4)
    profil_k: str = Field(default="", max_length=4)
    free: int
    free_m: int | None = None
    free_w: int | None = None
    free_c: int | None = None
    package_id: int = Field(foreign_key="package.id")


class TmkConsult(SQLModel, table=True):
    id_tmk: str = Field(primary_key=True, max_length=36)
    enp: str | None = Field(default=None, max_length=16, index=True)
    mo: str = Field(max_length=6)
    center: str = Field(max_length=12)
    date_req: date
    date_cons: date | None = None
    ds: str = Field(default="", max_length=10)
    purpose: str = Field(default="", max_length=2)
    implemented: bool | None = None
    date_impl: date | None = None
    package_id: int = Field(foreign_key="package.id")


class Appeal(SQLModel, table=True):
    id_appeal: str = Field(primary_key=True, max_length=36)
    sender: str = Field(max_length=6)  # the СМО or ТФОМС that reported it
    date_in: date
    channel: str = Field(default="", max_length=2)
    type: str = Field(default="", max_length=2)
    topic: str = Field(default="", max_length=10)
    enp: str | None = Field(default=None, max_length=16, index=True)
    mo: str | None = Field(default=None, max_length=6)
    status: str = Field(default="", max_length=2)
    date_out: date | None = None
    result: str | None = Field(default=None, max_length=2)
    compens_kop: int = Field(sa_column=_kop())
    package_id: int = Field(foreign_key="package.id")  # the latest record's


class ScheduleUnit(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("mo", "unit_id", name="uq_scheduleunit"),)

    id: int | None = Field(default=None, primary_key=True)
    mo: str = Field(max_length=6, index=True)
    unit_id: str = Field(max_length=36)
    name: str = Field(default="", max_length=250)
    kind: str = Field(default="", max_length=2)  # 1 exams, 2 dispensarisation, 3 both
    evening: bool = False  # open after 18:00 on some day
    saturday: bool = False
    days: str = Field(default="", max_length=200)  # "1 08:00-20:00; 6 09:00-14:00"
    package_id: int = Field(foreign_key="package.id")


__all__ = [
    "APPEALS",
    "EXAMS",
    "EXPERT",
    "HOSPITAL",
    "ONCOLOGY",
    "SCHEDULES",
    "TELEMEDICINE",
    "Appeal",
    "BedReport",
    "Event",
    "HospReferral",
    "HospStay",
    "ScheduleUnit",
    "TmkConsult",
]
