"""C-files (suspected or confirmed malignancy): 006F.00.0350 and 006F.00.0900.

- 006F.00.0350: a case with an SL where DS_ONK=1 (suspicion) cannot end with RSLT
  {317, 321, 332, 343, 347}; one PR per case, at the first such SL;
- 006F.00.0900: an SL whose DS1 is a malignancy (C00–C97, D00–D09, by the first three
  characters) with DS_ONK=0 carries ONK_SL. An ONK_SL present but empty counts as
  present (its emptiness is a structural error).
"""

from __future__ import annotations

from collections.abc import Iterator

from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from contracts.rules.rule import Rule, check
from contracts.rules.walk import children, code, z_sl

RSLT_NOT_WITH_SUSPICION = frozenset({"317", "321", "332", "343", "347"})
MALIGNANT = frozenset([f"C{n:02d}" for n in range(98)] + [f"D{n:02d}" for n in range(10)])
"""ICD-10 categories of malignant neoplasms (C00–C97) and in situ (D00–D09)."""


@check("006F.00.0350")
def suspicion_result(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """DS_ONK=1 in any SL ⇒ RSLT not in the set above."""
    z = z_sl(zap)
    if z is None or (rslt := code(z, "RSLT")) not in RSLT_NOT_WITH_SUSPICION:
        return
    for sl in children(z, "SL"):
        if isinstance(sl, dict) and code(sl, "DS_ONK") == "1":
            yield rule.problem("RSLT", "Z_SL", {"rslt": rslt}, zap=zap, sl=sl, zn_pol=rslt)
            return


@check("006F.00.0900")
def cancer_has_treatment_data(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """DS1 in C00–C97/D00–D09 and DS_ONK=0 ⇒ ONK_SL present."""
    z = z_sl(zap)
    if z is None:
        return
    for sl in children(z, "SL"):
        if not isinstance(sl, dict) or "ONK_SL" in sl or code(sl, "DS_ONK") != "0":
            continue
        ds1 = code(sl, "DS1")
        if ds1[:3] in MALIGNANT:
            yield rule.problem("ONK_SL", "SL", {"ds1": ds1}, zap=zap, sl=sl, zn_pol=ds1)
