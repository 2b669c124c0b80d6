"""Tables of the registry of persons, the account of care and claims (design.md).

Money is kept in kopecks (``*_kop``, integers) so sums are exact on SQLite and
PostgreSQL alike. Every row written by an applier carries the package it came from,
and the rows of one package are keyed by positions in its file (``pos`` = the
record's 1-based position, ``n`` = the section's position inside its parent), so a
re-run of the applier meets its own rows instead of writing them twice.

- ``person`` — one row per ENP with the digest of its current details;
  ``personversion`` — the details as each source (L-file, erz, attach) stated them,
  a new row only when they changed.
- ``insurance`` — periods (СМО, from, to) from erz; ``attachment`` — periods (МО,
  from, to, method, doctor) from attach.
- ``invoice`` — one per register (SCHET) with its claims figures; ``carecase`` /
  ``caresl`` / ``careusl`` — every record of the register, accepted or refused (with
  the reason and its F014 basis); ``sanction`` — МЭЭ/ЭКМП from expert packages.
- ``recordproblem`` — protocol lines of the stateful rules (MEK, 007F), per package.
- ``applyprogress`` / ``applylease`` — how far an applier got, and who may apply
  packages of one scope (an МО's registers, the erz, the attach) right now.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models import _ts, utcnow


def _kop() -> Column[int]:
    return Column(BigInteger, nullable=False, default=0, server_default="0")


class _Details(SQLModel):
    fam: str | None = Field(default=None, max_length=40)
    im: str | None = Field(default=None, max_length=40)
    ot: str | None = Field(default=None, max_length=40)
    w: str | None = Field(default=None, max_length=1)
    dr: date | None = None
    snils: str | None = Field(default=None, max_length=14)
    doctype: str | None = Field(default=None, max_length=2)
    docser: str | None = Field(default=None, max_length=10)
    docnum: str | None = Field(default=None, max_length=20)


class Person(_Details, table=True):
    """A person of the registry: the current details (merged from every source)."""

    enp: str = Field(primary_key=True, max_length=16)
    digest: str = Field(max_length=32)  # of the current details
    package_id: int = Field(foreign_key="package.id")  # the latest source of the details
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )


class PersonVersion(_Details, table=True):
    """The details as they stood after a source changed them (the history)."""

    __table_args__ = (UniqueConstraint("enp", "package_id", name="uq_personversion_package"),)

    id: int | None = Field(default=None, primary_key=True)
    enp: str = Field(max_length=16, index=True)
    package_id: int = Field(foreign_key="package.id")
    source: str = Field(max_length=8)  # L, erz, attach
    recorded_on: date  # the date of the file that stated these details
    digest: str = Field(max_length=32)


class Insurance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("enp", "smo", "dbeg", name="uq_insurance_period"),)

    id: int | None = Field(default=None, primary_key=True)
    enp: str = Field(max_length=16, index=True)
    smo: str = Field(max_length=5)
    dbeg: date
    dend: date | None = None
    package_id: int = Field(foreign_key="package.id")
    closed_by: int | None = Field(default=None, foreign_key="package.id")


class Attachment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("enp", "mo", "dbeg", name="uq_attachment_period"),)

    id: int | None = Field(default=None, primary_key=True)
    enp: str = Field(max_length=16, index=True)
    mo: str = Field(max_length=6, index=True)
    dbeg: date
    dend: date | None = None
    method: str = Field(default="", max_length=2)
    doctor: str = Field(default="", max_length=14)
    dep_id: str | None = Field(default=None, max_length=36)
    package_id: int = Field(foreign_key="package.id")
    closed_by: int | None = Field(default=None, foreign_key="package.id")


class Invoice(SQLModel, table=True):
    """A register's SCHET with its claims figures (kopecks): presented = accepted +
    refused; payable = accepted − МЭЭ − ЭКМП."""

    __table_args__ = (Index("ix_invoice_rollup", "code_mo", "payer", "year", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="package.id", unique=True)
    file_type: str = Field(max_length=4)
    code_mo: str = Field(max_length=6)
    year: int
    month: int
    nschet: str = Field(max_length=15)
    dschet: date
    payer: str = Field(max_length=5)  # an СМО code, or the region's ТФОМС code
    summav_kop: int = Field(sa_column=_kop())  # SCHET/SUMMAV as the МО stated it
    presented_kop: int = Field(sa_column=_kop())
    accepted_kop: int = Field(sa_column=_kop())
    refused_kop: int = Field(sa_column=_kop())
    mee_kop: int = Field(sa_column=_kop())
    ekmp_kop: int = Field(sa_column=_kop())
    payable_kop: int = Field(sa_column=_kop())
    cases: int = 0
    accepted: int = 0
    refused: int = 0
    complete: bool = False  # every record of the register is in
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )


class CareCase(SQLModel, table=True):
    """One ZAP/Z_SL of a register: the case of care and its claim."""

    __table_args__ = (
        UniqueConstraint("package_id", "pos", name="uq_carecase_position"),
        Index("ix_carecase_mo_idcase", "code_mo", "idcase"),
        Index("ix_carecase_person", "enp", "date_z_1"),
        Index("ix_carecase_invoice", "invoice_id", "status"),
        Index("ix_carecase_out_of_region", "out_of_region", "year", "month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="package.id")
    invoice_id: int = Field(foreign_key="invoice.id")
    pos: int
    n_zap: str = Field(max_length=8)
    idcase: str = Field(max_length=36)
    code_mo: str = Field(max_length=6)
    year: int  # the register's period (IDCASE is unique per МО and period)
    month: int
    pr_nov: int = 0
    id_pac: str = Field(max_length=36)
    enp: str | None = Field(default=None, max_length=16)
    payer: str = Field(max_length=5)
    out_of_region: bool = False
    territory: str | None = Field(default=None, max_length=5)
    """PACIENT/ST_OKATO (SMO_OK in 3.1): where the person is insured — for an
    out-of-region case, the territory the settlement is with."""
    usl_ok: str = Field(default="", max_length=4)
    vidpom: str = Field(default="", max_length=4)
    for_pom: str = Field(default="", max_length=2)
    profil: str = Field(default="", max_length=4)  # the first SL's
    ds1: str = Field(default="", max_length=10)  # the first SL's
    date_z_1: date | None = None
    date_z_2: date | None = None
    rslt: str = Field(default="", max_length=4)
    ishod: str = Field(default="", max_length=4)
    idsp: str = Field(default="", max_length=4)
    sumv_kop: int = Field(sa_column=_kop())
    sump_kop: int = Field(sa_column=_kop())
    refused_kop: int = Field(sa_column=_kop())
    mee_kop: int = Field(sa_column=_kop())
    ekmp_kop: int = Field(sa_column=_kop())
    status: str = Field(max_length=8)  # accepted | refused
    reason: str | None = Field(default=None, max_length=16)  # rule id or protocol code
    f014: str | None = Field(default=None, max_length=8)  # refusal basis
    replaces: int | None = Field(default=None, foreign_key="carecase.id", index=True)
    """For an accepted resubmission (PR_NOV=1): the refused case it replaces."""


class CareSl(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("package_id", "pos", "n", name="uq_caresl_position"),)

    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="package.id")
    pos: int
    n: int
    sl_id: str = Field(max_length=36)
    profil: str = Field(default="", max_length=4)
    det: str = Field(default="", max_length=1)
    nhistory: str = Field(default="", max_length=50)
    date_1: date | None = None
    date_2: date | None = None
    ds0: str | None = Field(default=None, max_length=10)
    ds1: str = Field(default="", max_length=10)
    ds2: str | None = Field(default=None, max_length=100)  # comma-separated
    c_zab: str | None = Field(default=None, max_length=2)
    dn: str | None = Field(default=None, max_length=2)
    prvs: str = Field(default="", max_length=9)
    iddokt: str = Field(default="", max_length=25)
    tarif_kop: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    sum_m_kop: int = Field(sa_column=_kop())


class CareUsl(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("package_id", "pos", "sl_n", "n", name="uq_careusl_position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="package.id")
    pos: int
    sl_n: int
    n: int
    idserv: str = Field(max_length=36)
    lpu: str = Field(default="", max_length=6)
    profil: str = Field(default="", max_length=4)
    date_in: date | None = None
    date_out: date | None = None
    ds: str = Field(default="", max_length=10)
    code_usl: str = Field(default="", max_length=20)
    kol_usl: str = Field(default="", max_length=12)
    tarif_kop: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    sumv_usl_kop: int = Field(sa_column=_kop())


class Sanction(SQLModel, table=True):
    """A МЭЭ/ЭКМП sanction from an expert package, on an accepted case."""

    __table_args__ = (UniqueConstraint("case_id", "s_code", name="uq_sanction_code"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="carecase.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    package_id: int = Field(foreign_key="package.id")
    pos: int
    s_code: str = Field(max_length=36)
    kind: str = Field(max_length=4)  # mee | ekmp
    s_tip: str = Field(max_length=3)
    s_osn: str = Field(default="", max_length=3)
    s_sum_kop: int = Field(sa_column=_kop())
    date_act: date | None = None
    num_act: str = Field(default="", max_length=30)


class RecordProblem(SQLModel, table=True):
    """A protocol line of a stateful rule (MEK, 007F), joined to the FLK protocol."""

    __table_args__ = (UniqueConstraint("package_id", "pos", "oshib", name="uq_recordproblem"),)

    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="package.id", index=True)
    pos: int
    oshib: str = Field(max_length=16)
    im_pol: str = Field(default="", max_length=20)
    bas_el: str = Field(default="", max_length=20)
    n_zap: str | None = Field(default=None, max_length=100)
    idcase: str | None = Field(default=None, max_length=100)
    sl_id: str | None = Field(default=None, max_length=100)
    id_pac: str | None = Field(default=None, max_length=100)
    zn_pol: str | None = Field(default=None, max_length=100)
    comment: str = Field(default="", max_length=250)


class ApplyProgress(SQLModel, table=True):
    """Batches of a package an applier has committed (each with its rows)."""

    package_id: int = Field(foreign_key="package.id", primary_key=True)
    batches: int = 0
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )


class ApplyLease(SQLModel, table=True):
    """Who applies packages of a scope (``registry:<МО>``, ``erz``, ``attach`` …) now."""

    scope: str = Field(primary_key=True, max_length=32)
    package_id: int = Field(foreign_key="package.id")
    acquired_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )
