"""001F: codes in their reference directories, at the case date (OSHIB 904).

Decisions where the contract is silent:

- the date is the case's DATE_Z_2; when it did not convert the directory is asked
  without a date (``on=None``) and COMMENT says "на дату случая";
- 001F.00.0030 and 001F.00.0080 ask the participant registry (``ctx.participants``)
  for this region's МО and СМО; an out-of-region PACIENT/SMO is looked up in F002;
  Z_SL/LPU must be the sender, like SCHET/CODE_MO (the register is the МО's own);
- PRVS is checked in SL, USL and USL/MR_USL_N (version 3.2), PROFIL in SL and USL;
- DS2 of D-files (SL/DS2_N/DS2) is checked with the other diagnoses;
- a directory that is not loaded raises :class:`LookupError` out of the rule: that is
  an installation fault, not a reason to refuse a participant's record. The one
  exception is F002 for out-of-region СМО: the seed does not ship it, and the region's
  own СМО are checked against the participant registry anyway.
"""

from __future__ import annotations

from collections.abc import Iterator

from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from contracts.rules.rule import Rule, check
from contracts.rules.walk import children, code, day, ru, z_sl

_CASE = (
    ("USL_OK", "V006"),
    ("VIDPOM", "V008"),
    ("FOR_POM", "V014"),
    ("RSLT", "V009"),
    ("ISHOD", "V012"),
    ("IDSP", "V010"),
)
_SL = (("PROFIL", "V002"), ("PRVS", "V021"))
_MR = (("PRVS", "V021"),)
_DIAGNOSES = ("DS0", "DS1")
_DIAGNOSIS_LISTS = ("DS2", "DS3")
_ICD = "M001"
_SMO = (("SMO", "F002"),)


class _Case:
    """One case's codes asked of the directories at its date; the unknown ones collected.

    Plain appends rather than nested generators: this runs for every record.
    """

    __slots__ = ("on", "unknown", "valid")

    def __init__(self, ctx: FileContext, z: Record) -> None:
        self.valid = ctx.refs.valid
        self.on = day(z, "DATE_Z_2")
        self.unknown: list[tuple[str, str, str, str, Record | None, Record | None]] = []

    def codes(
        self,
        record: Record,
        fields: tuple[tuple[str, str], ...],
        parent: str,
        sl: Record | None = None,
        usl: Record | None = None,
    ) -> None:
        for tag, directory in fields:
            value = record.get(tag)
            if isinstance(value, str) and value and not self.valid(directory, value, self.on):
                self.unknown.append((tag, value, directory, parent, sl, usl))

    def diagnosis(
        self, value: object, tag: str, parent: str, sl: Record, usl: Record | None = None
    ) -> None:
        if isinstance(value, str) and value and not self.valid(_ICD, value, self.on):
            self.unknown.append((tag, value, _ICD, parent, sl, usl))

    def problems(self, rule: Rule, zap: Record) -> Iterator[Problem]:
        if not self.unknown:
            return
        on = ru(self.on) if self.on is not None else "дату случая"
        for tag, value, directory, parent, sl, usl in self.unknown:
            values = {"field": tag, "value": value, "directory": directory, "on": on}
            yield rule.problem(tag, parent, values, zap=zap, sl=sl, usl=usl, zn_pol=value)


@check("001F.00.0160")
def case_codes_in_directories(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """USL_OK V006, VIDPOM V008, FOR_POM V014, RSLT V009, ISHOD V012, IDSP V010,
    PROFIL V002, PRVS V021 — each failing field its own PR."""
    z = z_sl(zap)
    if z is None:
        return
    case = _Case(ctx, z)
    case.codes(z, _CASE, "Z_SL")
    for sl in children(z, "SL"):
        if not isinstance(sl, dict):
            continue
        case.codes(sl, _SL, "SL", sl)
        for usl in children(sl, "USL"):
            if isinstance(usl, dict):
                case.codes(usl, _SL, "USL", sl, usl)
                for mr in children(usl, "MR_USL_N"):
                    if isinstance(mr, dict):
                        case.codes(mr, _MR, "MR_USL_N", sl, usl)
    yield from case.problems(rule, zap)


@check("001F.64.0010")
def diagnoses_in_icd10(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """DS0, DS1, DS2, DS3 of every SL (DS2_N/DS2 in D-files) and DS of every USL in M001."""
    z = z_sl(zap)
    if z is None:
        return
    case = _Case(ctx, z)
    for sl in children(z, "SL"):
        if not isinstance(sl, dict):
            continue
        for tag in _DIAGNOSES:
            case.diagnosis(sl.get(tag), tag, "SL", sl)
        for tag in _DIAGNOSIS_LISTS:
            for value in children(sl, tag):
                case.diagnosis(value, tag, "SL", sl)
        for ds2_n in children(sl, "DS2_N"):
            if isinstance(ds2_n, dict):
                for value in children(ds2_n, "DS2"):
                    case.diagnosis(value, "DS2", "DS2_N", sl)
        for usl in children(sl, "USL"):
            if isinstance(usl, dict):
                case.diagnosis(usl.get("DS"), "DS", "USL", sl, usl)
    yield from case.problems(rule, zap)


def _mo_variant(value: str, ctx: FileContext) -> str | None:
    """Why an МО code is wrong here (the template's name), or None when it is right."""
    if value[:2] != ctx.region:
        return "region"
    if not ctx.participants("mo", value):
        return ""
    if value != ctx.sender_code:
        return "sender"
    return None


def _mo_values(tag: str, value: str, ctx: FileContext) -> dict[str, object]:
    return {"field": tag, "value": value, "region": ctx.region, "sender": ctx.sender_code}


@check("001F.00.0030", scope="file")
def invoice_mo_is_the_sender(rule: Rule, header: Record, ctx: FileContext) -> Iterator[Problem]:
    """SCHET/CODE_MO: an active МО of this region (F003), and the sender."""
    schet = header.get("SCHET")
    value = code(schet, "CODE_MO") if isinstance(schet, dict) else ""
    if value and (variant := _mo_variant(value, ctx)) is not None:
        values = _mo_values("CODE_MO", value, ctx)
        yield rule.problem("CODE_MO", "SCHET", values, variant=variant, zn_pol=value)


@check("001F.00.0030", scope="record")
def case_mo_is_the_sender(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """Z_SL/LPU: an active МО of this region (F003), and the sender."""
    z = z_sl(zap)
    value = code(z, "LPU") if z is not None else ""
    if value and (variant := _mo_variant(value, ctx)) is not None:
        values = _mo_values("LPU", value, ctx)
        yield rule.problem("LPU", "Z_SL", values, variant=variant, zap=zap, zn_pol=value)


@check("001F.00.0080", scope="record")
def patient_smo_known(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
    """PACIENT/SMO, when present: an active СМО of this region, or an СМО in F002."""
    pacient = zap.get("PACIENT")
    value = code(pacient, "SMO") if isinstance(pacient, dict) else ""
    if not value or not isinstance(pacient, dict):
        return
    if value[:2] == ctx.region:
        if not ctx.participants("smo", value):
            values = {"value": value, "region": ctx.region}
            yield rule.problem("SMO", "PACIENT", values, variant="region", zap=zap, zn_pol=value)
    else:
        case = _Case(ctx, z_sl(zap) or {})
        try:
            case.codes(pacient, _SMO, "PACIENT")
        except LookupError:
            return  # F002 not loaded: an out-of-region СМО cannot be checked here
        yield from case.problems(rule, zap)


@check("001F.00.0080", scope="file")
def payer_known(rule: Rule, header: Record, ctx: FileContext) -> Iterator[Problem]:
    """SCHET/PLAT, when present: an active СМО of this region, or this region's ТФОМС."""
    schet = header.get("SCHET")
    value = code(schet, "PLAT") if isinstance(schet, dict) else ""
    if value and value != ctx.region and not ctx.participants("smo", value):
        yield rule.problem("PLAT", "SCHET", {"value": value, "region": ctx.region}, zn_pol=value)
