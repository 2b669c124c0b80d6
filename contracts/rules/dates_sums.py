"""002K: dates in order, sums that add up.

Decisions where the contract is silent:

- the file's date is ZGLV/DATA (DATE, FDATE in ``attach``, DATE_F in ``hosp``);
- "DATE_Z_2 falls in or before SCHET YEAR/MONTH" = not after that month's last day;
- 002K.00.0330 reports each broken link of DATE_Z_1 ≤ DATE_Z_2, DATE_Z_1 ≤ DATE_1 ≤
  DATE_2 ≤ DATE_Z_2 (per SL) and DATE_1 ≤ DATE_IN ≤ DATE_OUT ≤ DATE_2 (per USL) on the
  element that breaks it (the inner one, or the later one of a pair);
- 002K.00.0240 never shows the birth date: ZN_POL stays empty;
- 002K.00.0290: one PR per case, the first that applies of "required and both missing",
  "one without the other"; then NPR_DATE after DATE_Z_1;
- "to the kopeck": both sides rounded half up to 0.01 and compared; 002K.64.0570 does
  not apply to D-files (their USL has no KOL_USL);
- 002K.64.0371 (file scope) compares SCHET/SUMMAV with ``ctx.totals["SUMV"]``, which
  :meth:`FileContext.observe` accumulates; a NaN total (some SUMV did not convert) is
  not checked.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import lru_cache

from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from contracts.rules.rule import Rule, check
from contracts.rules.walk import (
    amount,
    children,
    code,
    day,
    kopecks,
    late,
    present,
    ru,
    same_money,
    z_sl,
)

_FILE_DATES = ("DATA", "DATE", "FDATE", "DATE_F")
_PLANNED = "3"
_REFERRED = frozenset({"1", "2"})


def _schet(record: Record) -> Record:
    schet = record.get("SCHET")
    return schet if isinstance(schet, dict) else {}


@check("002K.00.0010")
def file_date_not_ahead(rule: Rule, header: Record, ctx: FileContext) -> Iterator[Problem]:
    """The file's date is not after today; SCHET/DSCHET is not after it."""
    zglv = header.get("ZGLV")
    if not isinstance(zglv, dict):
        return
    tag = next((t for t in _FILE_DATES if t in zglv), "")
    data = day(zglv, tag)
    if data is None:
        return
    values = {"field": tag, "value": data, "today": ru(ctx.today)}
    if data > ctx.today:
        yield rule.problem(tag, "ZGLV", values, zn_pol=data)
    dschet = day(_schet(header), "DSCHET")
    if dschet is not None and dschet > data:
        values["dschet"] = dschet
        yield rule.problem("DSCHET", "SCHET", values, variant="dschet", zn_pol=dschet)


@lru_cache(maxsize=64)
def _period_end(year: str, month: str) -> date | None:
    if not (year.isascii() and year.isdigit() and month.isascii() and month.isdigit()):
        return None
    y, m = int(year), int(month)
    if not (1 <= m <= 12 and 1 <= y <= 9999):
        return None
    return date(y, m, calendar.monthrange(y, m)[1])


@check("002K.00.0160")
def case_within_invoice(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """DATE_Z_2 is not after the invoice's month (YEAR/MONTH) nor after DSCHET."""
    z = z_sl(zap)
    end = day(z, "DATE_Z_2") if z is not None else None
    if end is None:
        return
    schet = _schet(ctx.header)
    year, month = code(schet, "YEAR"), code(schet, "MONTH")
    period_end = _period_end(year, month)
    dschet = day(schet, "DSCHET")
    values = {"date_z_2": end, "month": month.zfill(2), "year": year, "dschet": dschet}
    if period_end is not None and end > period_end:
        yield rule.problem("DATE_Z_2", "Z_SL", values, zap=zap, zn_pol=end)
    elif dschet is not None and end > dschet:
        yield rule.problem("DATE_Z_2", "Z_SL", values, variant="dschet", zap=zap, zn_pol=end)


def _disorder(
    rule: Rule,
    zap: Record,
    earlier: tuple[str, object],
    later: tuple[str, object],
    *,
    at: str,
    sl: Record | None = None,
    usl: Record | None = None,
) -> Problem:
    """``earlier`` comes after ``later``; ``at`` (IM_POL) is the one of the two at fault."""
    values = {
        "earlier": earlier[0],
        "earlier_value": earlier[1],
        "later": later[0],
        "later_value": later[1],
    }
    wrong = later[1] if at == later[0] else earlier[1]
    parent = "USL" if usl is not None else "SL" if sl is not None else "Z_SL"
    return rule.problem(at, parent, values, zap=zap, sl=sl, usl=usl, zn_pol=wrong)


@check("002K.00.0330")
def dates_in_order(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """DATE_Z_1 ≤ DATE_1 ≤ DATE_2 ≤ DATE_Z_2 per SL; DATE_1 ≤ DATE_IN ≤ DATE_OUT ≤ DATE_2."""
    z = z_sl(zap)
    if z is None:
        return
    start, end = z.get("DATE_Z_1"), z.get("DATE_Z_2")
    if late(start, end):
        yield _disorder(rule, zap, ("DATE_Z_1", start), ("DATE_Z_2", end), at="DATE_Z_2")
    for sl in children(z, "SL"):
        if not isinstance(sl, dict):
            continue
        d_1, d_2 = sl.get("DATE_1"), sl.get("DATE_2")
        if late(start, d_1):
            yield _disorder(rule, zap, ("DATE_Z_1", start), ("DATE_1", d_1), at="DATE_1", sl=sl)
        if late(d_1, d_2):
            yield _disorder(rule, zap, ("DATE_1", d_1), ("DATE_2", d_2), at="DATE_2", sl=sl)
        if late(d_2, end):
            yield _disorder(rule, zap, ("DATE_2", d_2), ("DATE_Z_2", end), at="DATE_2", sl=sl)
        for usl in children(sl, "USL"):
            if not isinstance(usl, dict):
                continue
            d_in, d_out = usl.get("DATE_IN"), usl.get("DATE_OUT")
            if late(d_1, d_in):
                yield _disorder(
                    rule, zap, ("DATE_1", d_1), ("DATE_IN", d_in), at="DATE_IN", sl=sl, usl=usl
                )
            if late(d_in, d_out):
                yield _disorder(
                    rule, zap, ("DATE_IN", d_in), ("DATE_OUT", d_out), at="DATE_OUT", sl=sl, usl=usl
                )
            if late(d_out, d_2):
                yield _disorder(
                    rule, zap, ("DATE_OUT", d_out), ("DATE_2", d_2), at="DATE_OUT", sl=sl, usl=usl
                )


@check("002K.00.0240")
def born_before_case(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """The person's DR (from the L-file) is not after DATE_Z_1."""
    z = z_sl(zap)
    pacient = zap.get("PACIENT")
    if z is None or not isinstance(pacient, dict):
        return
    pers = ctx.persons.get(code(pacient, "ID_PAC"))
    born, start = (day(pers, "DR") if pers else None), day(z, "DATE_Z_1")
    if born is not None and start is not None and born > start:
        yield rule.problem("DR", "PERS", {"date_z_1": start}, zap=zap)


@check("002K.00.0290")
def referral_given(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """NPR_MO and NPR_DATE together; NPR_DATE ≤ DATE_Z_1; required for planned USL_OK 1/2."""
    z = z_sl(zap)
    if z is None:
        return
    has_mo, has_date = present(z, "NPR_MO"), present(z, "NPR_DATE")
    usl_ok = code(z, "USL_OK")
    if not has_mo and not has_date:
        if code(z, "FOR_POM") == _PLANNED and usl_ok in _REFERRED:
            yield rule.problem("NPR_MO", "Z_SL", {"usl_ok": usl_ok}, variant="required", zap=zap)
        return
    if has_mo != has_date:
        given, missing = ("NPR_MO", "NPR_DATE") if has_mo else ("NPR_DATE", "NPR_MO")
        yield rule.problem(missing, "Z_SL", {"given": given, "missing": missing}, zap=zap)
    referred, start = day(z, "NPR_DATE"), day(z, "DATE_Z_1")
    if referred is not None and start is not None and referred > start:
        values = {"npr_date": referred, "date_z_1": start}
        yield rule.problem("NPR_DATE", "Z_SL", values, variant="late", zap=zap, zn_pol=referred)


@check("002K.00.0370")
def case_sum_adds_up(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """Z_SL/SUMV = Σ SL/SUM_M, to the kopeck."""
    z = z_sl(zap)
    sumv = amount(z, "SUMV") if z is not None else None
    if z is None or sumv is None:
        return
    total = Decimal(0)
    for sl in children(z, "SL"):
        sum_m = amount(sl, "SUM_M") if isinstance(sl, dict) else None
        if sum_m is None:
            return
        total += sum_m
    if not same_money(sumv, total):
        yield rule.problem("SUMV", "Z_SL", {"sumv": sumv, "total": total}, zap=zap, zn_pol=sumv)


@check("002K.64.0371")
def invoice_sum_adds_up(rule: Rule, header: Record, ctx: FileContext) -> Iterator[Problem]:
    """SCHET/SUMMAV = Σ Z_SL/SUMV over the file (``ctx.totals["SUMV"]``), to the kopeck."""
    summav = amount(_schet(header), "SUMMAV")
    total = ctx.totals.get("SUMV", Decimal(0))
    if summav is not None and not total.is_nan() and not same_money(summav, total):
        yield rule.problem("SUMMAV", "SCHET", {"summav": summav, "total": total}, zn_pol=summav)


@check("002K.64.0570")
def service_sum_is_tariff(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """USL/SUMV_USL is 0 (inside the case tariff) or TARIF × KOL_USL, to the kopeck."""
    z = z_sl(zap)
    if z is None:
        return
    for sl in children(z, "SL"):
        if not isinstance(sl, dict):
            continue
        for usl in children(sl, "USL"):
            if not isinstance(usl, dict):
                continue
            sumv_usl = amount(usl, "SUMV_USL")
            tarif, kol_usl = amount(usl, "TARIF"), amount(usl, "KOL_USL")
            if sumv_usl is None or tarif is None or kol_usl is None or not sumv_usl:
                continue
            expected = tarif * kol_usl
            if not same_money(sumv_usl, expected):
                values = {
                    "sumv_usl": sumv_usl,
                    "tarif": tarif,
                    "kol_usl": kol_usl,
                    "expected": kopecks(expected),
                }
                yield rule.problem(
                    "SUMV_USL", "USL", values, zap=zap, sl=sl, usl=usl, zn_pol=sumv_usl
                )
