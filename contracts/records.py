"""Records as rules see them: plain dicts with typed leaves, built from lxml elements.

An element with children becomes a ``dict`` (tag → value); a leaf becomes its text,
stripped, converted by tag: dates to :class:`datetime.date`, money and quantities to
:class:`decimal.Decimal`, everything else (codes, ids, names) stays ``str``. Tags that
may repeat (:data:`REPEATED`) are always lists, even of one; an absent optional
element is an absent key. A leaf whose text does not convert keeps its ``str`` (the
structural check has already reported it), so rules never see an exception from here.

Converting a whole ZAP this way costs about as much as parsing it: one pass, no
schema lookups (the tag sets below are the schema's answer, taken once).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

Record = dict[str, Any]

DATE_TAGS = frozenset(
    {
        "DATA",
        "DATE",
        "DSCHET",
        "DATE_Z_1",
        "DATE_Z_2",
        "DATE_1",
        "DATE_2",
        "DATE_IN",
        "DATE_OUT",
        "NPR_DATE",
        "DR",
        "DR_P",
        "DOCDATE",
        "DATE_ACT",
        "DATE_F",
        "DATE_R",
        "DATE_D",
        "DATE_HOSP",
        "DATE_H",
        "DATE_C",
        "DATE_PL",
        "BIRTHDAY",
        "FDATE",
        "DATE_ATTACH_B",
        "DATE_ATTACH_E",
        "DBEG",
        "DEND",
        "DATE_REQ",
        "DATE_CONS",
        "DATE_IMPL",
        "NAPR_DATE",
        "DT_CONS",
        "DIAG_DATE",
        "PROT_DATE",
        "NAZ_DATE",
    }
)
DECIMAL_TAGS = frozenset(
    {
        "SUMMAV",
        "SUMMAP",
        "SANK_MEK",
        "SANK_MEE",
        "SANK_EKMP",
        "SUMV",
        "SUMP",
        "SANK_IT",
        "SUM_M",
        "TARIF",
        "SUMV_USL",
        "KOL_USL",
        "ED_COL",
        "S_SUM",
        "KD_Z",
        "KD",
        "COMPENS_SUM",
        "SOD",
        "K_FR",
        "WEI",
        "HEI",
        "BSA",
        "KSG_KOEF",
        "KOEF_Z",
        "KOEF_UP",
        "BZTSZ",
        "KOEF_D",
        "KOEF_U",
        "SL_K",
        "IT_SL",
        "VAL_K",
        "KOL_MED",
    }
)
REPEATED = frozenset(
    {
        "ZAP",
        "PERS",
        "REC",
        "DIR",
        "CANCEL",
        "HOSP",
        "DISCH",
        "PLACES",
        "UNIT",
        "DAY",
        "SL",
        "USL",
        "DS2",
        "DS3",
        "SANK",
        "CODE_EXP",
        "NAZ",
        "NAPR",
        "CONS",
        "B_DIAG",
        "B_PROT",
        "ONK_USL",
        "LEK_PR",
        "DATE_INJ",
        "DOST",
        "DOST_P",
        "CRIT",
        "SL_KOEF",
        "MED_DEV",
        "MR_USL_N",
        "KSG_KPG",
        "DS2_N",
    }
)
# tags that repeat under one parent only: SL_ID is one per SL, many per SANK
REPEATED_UNDER = frozenset({("SANK", "SL_ID")})


def _to_date(text: str) -> date | str:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def _to_decimal(text: str) -> Decimal | str:
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def converter(tag: str) -> Callable[[str], Any] | None:
    if tag in DATE_TAGS:
        return _to_date
    if tag in DECIMAL_TAGS:
        return _to_decimal
    return None


_Spec = tuple[Callable[[str], Any] | None, bool]  # (converter, repeated)
_MAX_SPECS = 10_000  # the formats have ~1,000 (parent, tag) pairs; hostile files, any number


class _Specs(dict[str, dict[str, _Spec]]):
    """Parent tag → child tag → spec, at most :data:`_MAX_SPECS` parents and specs in all:
    the cache lives as long as the worker, and a hostile file may bring any number of tags."""

    held = 0

    def parent(self, tag: str) -> dict[str, _Spec]:
        if self.held >= _MAX_SPECS:
            return {}
        self.held += 1
        return self.setdefault(tag, {})

    def add(self, specs: dict[str, _Spec], parent: str, tag: str) -> _Spec:
        spec = (converter(tag), tag in REPEATED or (parent, tag) in REPEATED_UNDER)
        if self.held < _MAX_SPECS:
            specs[tag] = spec
            self.held += 1
        return spec


_SPECS = _Specs()


def to_record(element: etree._Element) -> Record:
    """The element's children as a typed dict (see the module docstring)."""
    out: Record = {}
    parent = element.tag
    cache = _SPECS
    specs = cache.get(parent)
    if specs is None:
        specs = cache.parent(parent)
    for child in element:
        tag = child.tag
        spec = specs.get(tag)
        if spec is None:
            if not isinstance(tag, str):  # comments, processing instructions
                continue
            spec = cache.add(specs, parent, tag)
        conv, repeated = spec
        if len(child):
            value: Any = to_record(child)
        else:
            text = child.text
            if text is None:
                value = ""
            else:
                text = text.strip()
                value = conv(text) if conv is not None and text else text
        if repeated:
            values = out.get(tag)
            if values is None:
                out[tag] = [value]
            else:
                values.append(value)
        else:
            out[tag] = value
    return out


def to_kop(value: Any) -> int:
    """Money as integer kopecks (a value FLK let through is a Decimal with ≤ 2 places)."""
    if isinstance(value, Decimal):
        return int((value * 100).to_integral_value())
    if isinstance(value, str) and value:
        return to_kop(Decimal(value))
    return 0


def money(kop: int) -> str:
    """Kopecks as the registers write money: ``12345`` → ``123.45`` (never negative)."""
    return f"{kop // 100}.{kop % 100:02d}"


def items(record: Record, tag: str) -> list[Any]:
    """A repeated child as a list (empty when absent)."""
    value = record.get(tag)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
