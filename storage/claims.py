"""The claims accounts as the fund's analysts read them (design.md "Claims accounting").

- :func:`rollups` — per МО × payer × period: invoices, cases and money (kopecks) —
  presented, refused by MEK, accepted, МЭЭ and ЭКМП sanctions, payable. Built from the
  invoices' figures, which the appliers keep equal to the sums over their cases.
- :func:`out_of_region` — cases of patients insured in other territories (the ТФОМС
  pays them and settles with the insuring territory), summed per territory × МО ×
  period; :func:`out_of_region_cases` lists them one by one for the settlement.

Invoices still being applied (``complete`` false) are counted apart, so a roll-up read
during a large apply says that its figures are not final yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from storage.care import CareCase, Invoice, Sanction
from storage.models import columns

Period = tuple[int, int]  # (year, month)


@dataclass(frozen=True)
class Rollup:
    code_mo: str
    payer: str
    year: int
    month: int
    invoices: int
    incomplete: int  # invoices whose records are still being applied
    cases: int
    accepted: int
    refused: int
    presented_kop: int
    refused_kop: int
    accepted_kop: int
    mee_kop: int
    ekmp_kop: int
    payable_kop: int


def rollups(
    session: Session,
    *,
    code_mo: str | None = None,
    payer: str | None = None,
    period: Period | None = None,
) -> list[Rollup]:
    """Claims per МО × payer × period, in that order; filters narrow it."""
    keys: tuple[Any, ...] = (Invoice.code_mo, Invoice.payer, Invoice.year, Invoice.month)
    query = select(
        *keys,
        func.count(),
        func.coalesce(func.sum(_not(Invoice.complete)), 0),
        *(
            func.coalesce(func.sum(column), 0)
            for column in (
                Invoice.cases,
                Invoice.accepted,
                Invoice.refused,
                Invoice.presented_kop,
                Invoice.refused_kop,
                Invoice.accepted_kop,
                Invoice.mee_kop,
                Invoice.ekmp_kop,
                Invoice.payable_kop,
            )
        ),
    )
    if code_mo is not None:
        query = query.where(col(Invoice.code_mo) == code_mo)
    if payer is not None:
        query = query.where(col(Invoice.payer) == payer)
    if period is not None:
        query = query.where(col(Invoice.year) == period[0], col(Invoice.month) == period[1])
    query = query.group_by(*keys).order_by(*keys)
    return [
        Rollup(str(row[0]), str(row[1]), *(int(v) for v in row[2:]))
        for row in session.execute(query)
    ]


def _not(flag: Any) -> Any:
    return case((flag.is_(False), 1), else_=0)


@dataclass(frozen=True)
class Settlement:
    """Out-of-region care of one period, per insuring territory and МО."""

    territory: str  # OKATO of the insuring territory ("" when the register omits it)
    code_mo: str
    year: int
    month: int
    cases: int
    accepted_kop: int
    payable_kop: int


def out_of_region(session: Session, *, period: Period | None = None) -> list[Settlement]:
    """Accepted out-of-region cases summed per territory × МО × period."""
    territory = func.coalesce(CareCase.territory, "")
    keys: tuple[Any, ...] = (territory, CareCase.code_mo, CareCase.year, CareCase.month)
    query = (
        select(
            *keys,
            func.count(),
            func.coalesce(func.sum(CareCase.sump_kop), 0),
            func.coalesce(func.sum(CareCase.sump_kop - CareCase.mee_kop - CareCase.ekmp_kop), 0),
        )
        .where(col(CareCase.out_of_region).is_(True), col(CareCase.status) == "accepted")
        .group_by(*keys)
        .order_by(*keys)
    )
    if period is not None:
        query = query.where(col(CareCase.year) == period[0], col(CareCase.month) == period[1])
    return [
        Settlement(str(row[0]), str(row[1]), *(int(v) for v in row[2:]))
        for row in session.execute(query)
    ]


@dataclass(frozen=True)
class SettlementCase:
    territory: str
    code_mo: str
    year: int
    month: int
    idcase: str
    enp: str | None
    date_z_1: date | None
    date_z_2: date | None
    usl_ok: str
    profil: str
    ds1: str
    sump_kop: int
    payable_kop: int


def out_of_region_cases(
    session: Session, *, period: Period, territory: str | None = None
) -> Iterator[SettlementCase]:
    """The accepted out-of-region cases of a period, one by one (streamed)."""
    query = (
        select(CareCase)
        .where(
            col(CareCase.out_of_region).is_(True),
            col(CareCase.status) == "accepted",
            col(CareCase.year) == period[0],
            col(CareCase.month) == period[1],
        )
        .order_by(col(CareCase.territory), col(CareCase.code_mo), col(CareCase.id))
    )
    if territory is not None:
        query = query.where(col(CareCase.territory) == territory)
    for row in session.scalars(query.execution_options(yield_per=1000)):
        yield SettlementCase(
            territory=row.territory or "",
            code_mo=row.code_mo,
            year=row.year,
            month=row.month,
            idcase=row.idcase,
            enp=row.enp,
            date_z_1=row.date_z_1,
            date_z_2=row.date_z_2,
            usl_ok=row.usl_ok,
            profil=row.profil,
            ds1=row.ds1,
            sump_kop=row.sump_kop,
            payable_kop=row.sump_kop - row.mee_kop - row.ekmp_kop,
        )


def parse_period(text: str) -> Period:
    """``YYYY-MM`` or ``YYYYMM`` → (year, month); ValueError naming the problem."""
    digits = text.replace("-", "")
    if len(digits) != 6 or not digits.isdigit() or not 1 <= int(digits[4:]) <= 12:
        raise ValueError(f"period {text!r}: expected YYYY-MM")
    return int(digits[:4]), int(digits[4:])


# ---------------------------------------------------------------- drill-down (admin)

INVOICE_FIELDS = (
    "id package_id file_type code_mo year month nschet dschet payer summav_kop presented_kop"
    " accepted_kop refused_kop mee_kop ekmp_kop payable_kop cases accepted refused complete"
)
CASE_FIELDS = (
    "id pos n_zap idcase pr_nov id_pac date_z_1 date_z_2 usl_ok profil ds1 rslt ishod idsp"
    " sumv_kop sump_kop refused_kop mee_kop ekmp_kop status reason f014 out_of_region"
)


def invoices(
    session: Session,
    *,
    code_mo: str | None = None,
    payer: str | None = None,
    period: Period | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Invoices newest first (keyset by id: pass the last id as ``before``)."""
    query = select(*columns(Invoice, INVOICE_FIELDS))
    if code_mo is not None:
        query = query.where(col(Invoice.code_mo) == code_mo)
    if payer is not None:
        query = query.where(col(Invoice.payer) == payer)
    if period is not None:
        query = query.where(col(Invoice.year) == period[0], col(Invoice.month) == period[1])
    if before is not None:
        query = query.where(col(Invoice.id) < before)
    query = query.order_by(col(Invoice.id).desc()).limit(limit)
    return [dict(row) for row in session.execute(query).mappings()]


def invoice_row(session: Session, invoice_id: int) -> dict[str, Any] | None:
    query = select(*columns(Invoice, INVOICE_FIELDS)).where(col(Invoice.id) == invoice_id)
    row = session.execute(query).mappings().first()
    return None if row is None else dict(row)


def invoice_cases(
    session: Session,
    invoice_id: int,
    *,
    status: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The cases of one invoice in register order (keyset by id: ``after`` the last id),
    each with the codes of its МЭЭ/ЭКМП sanctions."""
    query = select(*columns(CareCase, CASE_FIELDS)).where(col(CareCase.invoice_id) == invoice_id)
    if status is not None:
        query = query.where(col(CareCase.status) == status)
    if after is not None:
        query = query.where(col(CareCase.id) > after)
    rows = [
        dict(row)
        for row in session.execute(query.order_by(col(CareCase.id)).limit(limit)).mappings()
    ]
    sanctions: dict[int, list[dict[str, Any]]] = {}
    if rows:
        found = session.execute(
            select(*columns(Sanction, "case_id kind s_tip s_osn s_sum_kop date_act"))
            .where(col(Sanction.case_id).in_([r["id"] for r in rows]))
            .order_by(col(Sanction.id))
        ).mappings()  # fmt: skip
        for s in found:
            sanctions.setdefault(s["case_id"], []).append(
                {k: v for k, v in s.items() if k != "case_id"}
            )
    for row in rows:
        row["sanctions"] = sanctions.get(row["id"], [])
    return rows
