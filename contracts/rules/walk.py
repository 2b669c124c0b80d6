"""Tolerant reading of typed records (contracts.records) for the check functions.

A value that is not of the expected type (a date that did not convert, an empty
element where children were expected) reads as absent: the structural check has
already reported it, so the rules skip it silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from contracts.records import Record

_NONE: tuple[Any, ...] = ()
_MONEY = Context(prec=60, rounding=ROUND_HALF_UP, traps=[])
KOPECK = Decimal("0.01")


def children(record: Record, tag: str) -> Sequence[Any]:
    """A repeated child as a sequence, without copying (items may be non-dicts)."""
    value = record.get(tag)
    if isinstance(value, list):
        return value
    return _NONE if value is None else (value,)


def z_sl(zap: Record) -> Record | None:
    """The ZAP's Z_SL when it is a dict."""
    value = zap.get("Z_SL")
    return value if isinstance(value, dict) else None


def code(record: Record, tag: str) -> str:
    """A code or id: the text, or ``""`` when absent, empty or not text."""
    value = record.get(tag)
    return value if isinstance(value, str) else ""


def day(record: Record, tag: str) -> date | None:
    """A date, or None when absent or not converted."""
    value = record.get(tag)
    return value if isinstance(value, date) else None


def amount(record: Record, tag: str) -> Decimal | None:
    """A finite sum or quantity, or None."""
    value = record.get(tag)
    return value if isinstance(value, Decimal) and value.is_finite() else None


def kopecks(value: Decimal) -> Decimal:
    """Rounded to the kopeck, half up (NaN for values no money can have)."""
    return value.quantize(KOPECK, context=_MONEY)


def same_money(a: Decimal, b: Decimal) -> bool:
    """Equal to the kopeck (rounding only when they differ: quantize is slow)."""
    return a == b or kopecks(a) == kopecks(b)


def late(first: object, second: object) -> bool:
    """Both are dates and ``first`` comes after ``second``."""
    return isinstance(first, date) and isinstance(second, date) and first > second


def ru(on: date) -> str:
    """A date as Russian prose writes it: 30.11.2025."""
    return on.strftime("%d.%m.%Y")


def present(record: Record, tag: str) -> bool:
    """The element is there with something in it."""
    value = record.get(tag)
    return value is not None and value != ""
