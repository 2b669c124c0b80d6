"""006F: codes that must agree with each other within a case.

The sets (exchange.md §6, and where it gives an example only, ours):

- 006F.00.1200 VIDPOM by USL_OK: 1 → {3, 21, 31, 32, 33}, 2 → {12, 13, 14, 31, 32, 33},
  3 → {1, 2, 4, 11, 12, 13, 14}, 4 → {2, 21, 22, 23};
- 006F.00.1280 FOR_POM by USL_OK: 4 → {1, 2}; 2 and 3 → {2, 3}; 1 unrestricted;
- 006F.00.1100 RSLT (V009) and ISHOD (V012) are 3-digit codes whose first digit is the
  conditions of care (1 стационар, 2 дневной стационар, 3 амбулаторно, 4 скорая):
  the first digits must agree; and ISHOD 306 goes only with a fatal RSLT —
  :data:`FATAL_RSLT` = {105, 106, 205, 206, 313, 405, 406, 411}, the V009 results that
  record a death (the set the issue gives). Together the two leave ISHOD 306 with
  RSLT 313 only;
- 006F.00.0430 compares DS1 with every DS2 of the same SL (SL/DS2, and SL/DS2_N/DS2
  in D-files) exactly, as the codes are written.

A USL_OK outside 1–4, or codes that are not 3 digits, are left to 001F.00.0160.
"""

from __future__ import annotations

from collections.abc import Iterator

from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from contracts.rules.rule import Rule, check
from contracts.rules.walk import children, code, z_sl

VIDPOM_BY_USL_OK: dict[str, frozenset[str]] = {
    "1": frozenset({"3", "21", "31", "32", "33"}),
    "2": frozenset({"12", "13", "14", "31", "32", "33"}),
    "3": frozenset({"1", "2", "4", "11", "12", "13", "14"}),
    "4": frozenset({"2", "21", "22", "23"}),
}
FOR_POM_BY_USL_OK: dict[str, frozenset[str]] = {
    "2": frozenset({"2", "3"}),
    "3": frozenset({"2", "3"}),
    "4": frozenset({"1", "2"}),
}
FATAL_RSLT = frozenset({"105", "106", "205", "206", "313", "405", "406", "411"})
_FATAL_TEXT = ", ".join(sorted(FATAL_RSLT))
_SEEN_ONLY_WITH_DEATH = "306"


@check("006F.00.1200")
def vidpom_fits_usl_ok(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """VIDPOM is one of those allowed for the case's USL_OK."""
    z = z_sl(zap)
    if z is None:
        return
    usl_ok, vidpom = code(z, "USL_OK"), code(z, "VIDPOM")
    allowed = VIDPOM_BY_USL_OK.get(usl_ok)
    if allowed is not None and vidpom and vidpom not in allowed:
        values = {"usl_ok": usl_ok, "vidpom": vidpom}
        yield rule.problem("VIDPOM", "Z_SL", values, zap=zap, zn_pol=vidpom)


@check("006F.00.1280")
def for_pom_fits_usl_ok(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """FOR_POM is one of those allowed for the case's USL_OK."""
    z = z_sl(zap)
    if z is None:
        return
    usl_ok, for_pom = code(z, "USL_OK"), code(z, "FOR_POM")
    allowed = FOR_POM_BY_USL_OK.get(usl_ok)
    if allowed is not None and for_pom and for_pom not in allowed:
        values = {"usl_ok": usl_ok, "for_pom": for_pom}
        yield rule.problem("FOR_POM", "Z_SL", values, zap=zap, zn_pol=for_pom)


def _three_digits(value: str) -> bool:
    return len(value) == 3 and value.isascii() and value.isdigit()


@check("006F.00.1100")
def outcome_fits_result(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """ISHOD and RSLT share their first digit; ISHOD 306 only with a fatal RSLT."""
    z = z_sl(zap)
    if z is None:
        return
    ishod, rslt = code(z, "ISHOD"), code(z, "RSLT")
    if not (_three_digits(ishod) and _three_digits(rslt)):
        return
    values = {"ishod": ishod, "rslt": rslt, "fatal": _FATAL_TEXT}
    if ishod[0] != rslt[0]:
        yield rule.problem("ISHOD", "Z_SL", values, zap=zap, zn_pol=ishod)
    elif ishod == _SEEN_ONLY_WITH_DEATH and rslt not in FATAL_RSLT:
        yield rule.problem("ISHOD", "Z_SL", values, variant="fatal", zap=zap, zn_pol=ishod)


@check("006F.00.0430")
def ds2_differs_from_ds1(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """No DS2 of an SL repeats its DS1."""
    z = z_sl(zap)
    if z is None:
        return
    for sl in children(z, "SL"):
        if not isinstance(sl, dict) or not (ds1 := code(sl, "DS1")):
            continue
        for ds2 in children(sl, "DS2"):
            if ds2 == ds1:
                yield rule.problem("DS2", "SL", {"ds2": ds2}, zap=zap, sl=sl, zn_pol=ds2)
        for ds2_n in children(sl, "DS2_N"):
            if isinstance(ds2_n, dict) and ds1 in children(ds2_n, "DS2"):
                yield rule.problem("DS2", "DS2_N", {"ds2": ds1}, zap=zap, sl=sl, zn_pol=ds1)
