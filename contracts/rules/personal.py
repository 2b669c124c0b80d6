"""Personal data of the L-file: names present (003F.00.1530), SNILS check number (004F.00.1570).

Nothing here ever echoes a value: ZN_POL stays empty and COMMENT names elements only.

Decisions where the contract is silent:

- DOST codes (F-format): 2 = no surname, 3 = no first name; DOST_P the same for the
  representative. FAM/IM may be missing only with that code;
- "representative fields" are FAM_P, IM_P (same DOST_P exemptions), W_P and DR_P.
  NOVOR lives in the main file's PACIENT, so that half of 003F.00.1530 runs on the
  ZAP and reads its PERS from ``ctx.persons`` (the other half runs on each PERS of
  the L-file); a ZAP whose PERS is missing is left to 003F.00.3080;
- SNILS numbers up to 001-001-998 carry no check number (they were issued before it
  existed), so they are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from contracts.rules.rule import Rule, check
from contracts.rules.walk import children, code, present

_NAMES = (("FAM", "2"), ("IM", "3"))
_REPRESENTATIVE_NAMES = (("FAM_P", "2"), ("IM_P", "3"))
_REPRESENTATIVE = ("W_P", "DR_P")
_SNILS = re.compile(r"([0-9]{3})-([0-9]{3})-([0-9]{3}) ([0-9]{2})|([0-9]{9})([0-9]{2})")
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, 1)
_UNCHECKED_UP_TO = 1_001_998


def _missing_names(
    rule: Rule,
    pers: Record,
    names: tuple[tuple[str, str], ...],
    dost_tag: str,
    zap: Record | None,
) -> Iterator[Problem]:
    dost = children(pers, dost_tag)
    id_pac = code(pers, "ID_PAC") or None
    for tag, absent in names:
        if not present(pers, tag) and absent not in dost:
            values = {"field": tag, "dost": dost_tag, "code": absent}
            yield rule.problem(tag, "PERS", values, zap=zap, id_pac=id_pac)


@check("003F.00.1530")
def names_present(rule: Rule, record: Record, ctx: FileContext) -> Iterator[Problem]:
    """L-file PERS: FAM and IM unless DOST says absent. ZAP with NOVOR≠0: its PERS has
    the representative's FAM_P, IM_P (unless DOST_P says absent), W_P and DR_P."""
    if ctx.file_type == "L":
        yield from _missing_names(rule, record, _NAMES, "DOST", None)
        return
    pacient = record.get("PACIENT")
    if not isinstance(pacient, dict) or code(pacient, "NOVOR") in ("", "0"):
        return
    pers = ctx.persons.get(code(pacient, "ID_PAC"))
    if pers is None:
        return
    yield from _missing_names(rule, pers, _REPRESENTATIVE_NAMES, "DOST_P", record)
    for tag in _REPRESENTATIVE:
        if not present(pers, tag):
            yield rule.problem(tag, "PERS", {"field": tag}, variant="representative", zap=record)


def snils_valid(text: str) -> bool:
    """``XXX-XXX-XXX YY`` or 11 digits with a right check number (see the module docstring).

    The check number: Σ digit × weight (9 … 1) over the first nine digits; below 100 it
    is the sum itself, 100 and 101 give 0, above 101 the sum mod 101 (100 again → 0).
    """
    match = _SNILS.fullmatch(text)
    if match is None:
        return False
    digits = "".join(match.group(1, 2, 3)) if match.group(1) else match.group(5)
    control = int(match.group(4) or match.group(6))
    if int(digits) <= _UNCHECKED_UP_TO:
        return True
    total = sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=True))
    if total > 101:
        total %= 101
    return control == (total if total < 100 else 0)


@check("004F.00.1570")
def snils_check_number(rule: Rule, pers: Record, ctx: FileContext) -> Iterator[Problem]:
    """PERS/SNILS, when present, is well formed and has a right check number."""
    snils = code(pers, "SNILS")
    if snils and not snils_valid(snils):
        variant = "" if _SNILS.fullmatch(snils) else "shape"
        yield rule.problem(
            "SNILS", "PERS", {}, variant=variant, id_pac=code(pers, "ID_PAC") or None
        )
