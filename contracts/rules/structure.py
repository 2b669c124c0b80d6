"""003F: the file's own name and count, the H ↔ L linkage, the policy number.

Decisions where the contract is silent:

- the header element holding the file's name is ZGLV/FILENAME, except ZGLV/FNAME in
  ``attach`` and ZGLV/NAME_F in ``hosp``; names compare exactly (no extension, same case);
  the L-file's FILENAME1 is compared when the engine sets ``ctx.main_file_name``;
- the count is ZGLV/SD_Z, or ZGLV/ZAP in formats that call it so;
- 003F.00.3080 has a record part (a ZAP's ID_PAC has a PERS) and a file part (a PERS
  whose ID_PAC no ZAP used: ``ctx.persons`` minus ``ctx.seen_id_pac``), which rejects
  the file: there is no record to refuse for it;
- 003F.00.0100 checks ENP when it is given, else NPOLIS (format 3.1 puts the ENP there);
  neither number is ever echoed, only its length.
"""

from __future__ import annotations

from collections.abc import Iterator

from contracts.filenames import HOSP_TYPES
from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from contracts.rules.rule import Rule, check
from contracts.rules.walk import children, code

_NAME_TAG = {"AT": "FNAME", **dict.fromkeys(HOSP_TYPES, "NAME_F")}
_COUNT_TAGS = ("SD_Z", "ZAP")
_ENP_LENGTH = 16


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _zglv(header: Record) -> Record:
    zglv = header.get("ZGLV")
    return zglv if isinstance(zglv, dict) else {}


@check("003F.00.1970")
def file_name_matches(rule: Rule, header: Record, ctx: FileContext) -> Iterator[Problem]:
    """ZGLV/FILENAME = the file's name; in the L-file FILENAME1 = the main file's name."""
    zglv = _zglv(header)
    tag = _NAME_TAG.get(ctx.file_type, "FILENAME")
    value = code(zglv, tag)
    if value and value != ctx.file_name:
        values = {"field": tag, "value": value, "file_name": ctx.file_name}
        yield rule.problem(tag, "ZGLV", values, zn_pol=value)
    main = ctx.main_file_name
    value = code(zglv, "FILENAME1")
    if ctx.file_type == "L" and main is not None and value and value != main:
        values = {"value": value, "main": main}
        yield rule.problem("FILENAME1", "ZGLV", values, variant="main", zn_pol=value)


@check("003F.64.0001")
def count_matches(rule: Rule, header: Record, ctx: FileContext) -> Iterator[Problem]:
    """SD_Z (or ZAP) in ZGLV = the number of records streamed."""
    if ctx.record_count is None:
        return
    zglv = _zglv(header)
    for tag in _COUNT_TAGS:
        given = children(zglv, tag)  # ZGLV/ZAP reads as a list: ZAP repeats elsewhere
        value = given[0] if len(given) == 1 else None
        if isinstance(value, str) and _digits(value):
            if int(value) != ctx.record_count:
                values = {"field": tag, "value": value, "count": ctx.record_count}
                yield rule.problem(tag, "ZGLV", values, zn_pol=value)
            return


def _id_pac(zap: Record) -> str:
    pacient = zap.get("PACIENT")
    return code(pacient, "ID_PAC") if isinstance(pacient, dict) else ""


@check("003F.00.3080", scope="record")
def patient_has_person(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """The ZAP's PACIENT/ID_PAC has a PERS in the L-file."""
    id_pac = _id_pac(zap)
    if id_pac and id_pac not in ctx.persons:
        yield rule.problem("ID_PAC", "PACIENT", {"value": id_pac}, zap=zap, zn_pol=id_pac)


@check("003F.00.3080", scope="file")
def person_has_case(rule: Rule, header: Record, ctx: FileContext) -> Iterator[Problem]:
    """No PERS whose ID_PAC no ZAP of the main file used."""
    seen = ctx.seen_id_pac
    for id_pac in ctx.persons:
        if id_pac not in seen:
            yield rule.problem("ID_PAC", "PERS", {"value": id_pac}, id_pac=id_pac, zn_pol=id_pac)


@check("003F.00.0100")
def single_policy_number(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """VPOLIS=3 (single-format policy): ENP, or NPOLIS, of 16 digits."""
    pacient = zap.get("PACIENT")
    if not isinstance(pacient, dict) or code(pacient, "VPOLIS") != "3":
        return
    tag = "ENP" if code(pacient, "ENP") else "NPOLIS"
    number = code(pacient, tag)
    if not number:
        yield rule.problem("ENP", "PACIENT", {}, variant="missing", zap=zap)
    elif len(number) != _ENP_LENGTH or not _digits(number):
        yield rule.problem(tag, "PACIENT", {"field": tag, "length": len(number)}, zap=zap)
