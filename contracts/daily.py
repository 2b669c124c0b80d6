"""The СМО's daily extract, format DAILY 1.0 (``schemas/daily/DAILY-1.0.xsd``, our own;
docs/daily.md): its figures of the day, its insured who need accompaniment, and the
conservation check of what it sent. Pure: the consolidation supplies the content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from contracts.formats import SCHEMAS

VERSION = "1.0"
XSD = SCHEMAS / "daily" / "DAILY-1.0.xsd"
BALANCE_FIELDS = ("received", "accepted", "rejected", "duplicate", "in_flight", "unaccounted")


@dataclass(frozen=True)
class Extract:
    region: str
    smo: str
    day: date  # the report date
    built: date
    figures: list[tuple[int, str, str, float]] = field(default_factory=list)
    """(category, indicator, key, value)."""
    accompany: list[dict[str, Any]] = field(default_factory=list)
    """Rows of ``dailyaccompany``: enp, reason, since, due, mo, ref."""
    balance: dict[str, Any] | None = None


def extract_base(region: str, smo: str, day: date) -> str:
    """``RT<tf>S<smo>_<YYMMDD>1``: the hub (ТФОМС) to the СМО, one per report date."""
    return f"RT{region}S{smo}_{day:%y%m%d}1"


def extract_file_name(region: str, smo: str, day: date) -> str:
    return f"{extract_base(region, smo, day)}.xml"


def number(value: float) -> str:
    """A figure as the XSD writes it: whole numbers without a fraction, else ≤ 4 places."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0")


def _leaf(tag: str, value: object) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def render_extract(extract: Extract) -> bytes:
    base = extract_base(extract.region, extract.smo, extract.day)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<DAILY_LIST><ZGLV>',
        _leaf("VERSION", VERSION),
        _leaf("DATA", extract.built.isoformat()),
        _leaf("FILENAME", base),
        _leaf("REPORT_DATE", extract.day.isoformat()),
        _leaf("REGION", extract.region),
        _leaf("SMO", extract.smo),
        _leaf("N_FIG", len(extract.figures)),
        _leaf("N_ZAP", len(extract.accompany)),
        "</ZGLV><FIGURES>",
    ]
    for category, indicator, key, value in extract.figures:
        out.append(f"<FIG>{_leaf('CAT', category)}{_leaf('IND', indicator)}")
        if key:
            out.append(_leaf("KEY", key))
        out.append(f"{_leaf('VAL', number(value))}</FIG>")
    out.append("</FIGURES><ACCOMPANY>")
    for n, row in enumerate(extract.accompany, 1):
        out.append(
            f"<ZAP>{_leaf('N_ZAP', n)}{_leaf('ENP', row['enp'])}{_leaf('REASON', row['reason'])}"
            f"{_leaf('SINCE', row['since'].isoformat())}{_leaf('DUE', row['due'].isoformat())}"
        )
        if row.get("mo"):
            out.append(_leaf("MO", row["mo"]))
        if row.get("ref"):
            out.append(_leaf("REF", row["ref"]))
        out.append("</ZAP>")
    out.append("</ACCOMPANY>")
    if extract.balance is not None:
        out.append("<BALANCE>")
        out.extend(_leaf(name.upper(), extract.balance[name]) for name in BALANCE_FIELDS)
        out.append("</BALANCE>")
    out.append("</DAILY_LIST>\n")
    return "".join(out).encode("utf-8")
