"""D-files (preventive exams, dispensarisation): 003K.00.0040.

RSLT_D in {3, 4, 5, 31, 32} (health groups that call for follow-up) needs at least one
NAZ in some SL of the case. The PR names RSLT_D, the value that calls for it.
"""

from __future__ import annotations

from collections.abc import Iterator

from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from contracts.rules.rule import Rule, check
from contracts.rules.walk import children, code, z_sl

RSLT_D_NEEDS_NAZ = frozenset({"3", "4", "5", "31", "32"})


@check("003K.00.0040")
def follow_up_prescribed(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """RSLT_D in the set above ⇒ some SL has a NAZ."""
    z = z_sl(zap)
    if z is None or (rslt_d := code(z, "RSLT_D")) not in RSLT_D_NEEDS_NAZ:
        return
    if not any(isinstance(sl, dict) and children(sl, "NAZ") for sl in children(z, "SL")):
        yield rule.problem("RSLT_D", "Z_SL", {"rslt_d": rslt_d}, zap=zap, zn_pol=rslt_d)
