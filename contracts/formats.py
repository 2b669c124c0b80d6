"""The element-level formats of exchange.md §4: which XSD checks which file.

A file is identified by its type (from the name, :mod:`contracts.filenames`) and the
``ZGLV/VERSION`` it carries; :func:`find_format` maps the pair to a :class:`Format`,
``None`` meaning "unsupported version" (807). The schemas live in ``schemas/`` and
are the project's own (see ``schemas/README.md``):

=========  ==========================  =======  ============  ===================  =======
kind       types                       version  root          records              count
=========  ==========================  =======  ============  ===================  =======
registry   H, C, T, D* (DP DV …)       3.1 3.2  ZL_LIST       ZAP                  SD_Z
personal   L                           3.1 3.2  PERS_LIST     PERS                 —
attach     AT                          1.3      ATT           REC                  —
erz        E                           1.0      ERZ_LIST      PERS                 SD_Z
hosp       I01 I03 I04 I05 I06 I07     2.0      ZL_LIST       DIR / CANCEL / HOSP  —
                                                              / DISCH / PLACES
tmk        K                           1.0      TMK_LIST      ZAP                  SD_Z
schedule   G                           1.0      SCHED_LIST    UNIT                 —
appeal     O                           1.0      APPEAL_LIST   ZAP                  SD_Z
expert     A                           1.0      EXPERT_LIST   ZAP                  SD_Z
=========  ==========================  =======  ============  ===================  =======

Every schema declares its root and its record elements globally (the root refers to
the records), so one record element validates on its own. Both validators are built
from the same file: lxml (libxml2) for speed, xmlschema as the authority that also
meta-validates the XSD. Both are cached per process.

One D-file schema serves version 3.1 for all three published editions (they all write
VERSION 3.1); each hospitalisation type has its own schema, since I04 and I05 share the
record name HOSP with different content.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree

from contracts.filenames import D_TYPES, HOSP_TYPES

__all__ = [
    "FORMATS",
    "SCHEMAS",
    "Format",
    "find_format",
    "formats_for",
    "load_lxml_schema",
    "load_xmlschema",
]

SCHEMAS = Path(__file__).with_name("schemas")
"""The folder of the project's XSD files."""


@dataclass(frozen=True)
class Format:
    """One version of one format: the files it covers and the XSD that checks them."""

    kind: str
    """``registry``, ``personal`` (L-file), ``attach``, ``erz``, ``hosp``, ``tmk`` …"""
    types: frozenset[str]
    """File types from the name: ``{"H"}``, the nine D letters, ``{"I04"}`` …"""
    version: str
    """As written in ``ZGLV/VERSION``: ``"3.2"``, ``"1.3"``, ``"2.0"`` …"""
    root: str
    """The root element's name."""
    records: frozenset[str]
    """The record elements directly under the root."""
    xsd: Path
    """The schema file; it declares ``root`` and every record element globally."""
    count_field: str | None
    """The header field holding the record count (``SD_Z``), or ``None``."""


def _format(  # noqa: PLR0917 - a table row reads best positionally
    kind: str,
    types: frozenset[str] | set[str],
    version: str,
    root: str,
    records: str,
    xsd: str,
    count_field: str | None,
) -> Format:
    return Format(
        kind, frozenset(types), version, root, frozenset({records}), SCHEMAS / xsd, count_field
    )


_HOSP_RECORDS = {
    "I01": "DIR",
    "I03": "CANCEL",
    "I04": "HOSP",
    "I05": "HOSP",
    "I06": "DISCH",
    "I07": "PLACES",
}

FORMATS: tuple[Format, ...] = (
    *(
        _format("registry", {t}, v, "ZL_LIST", "ZAP", f"registry/{t}-{v}.xsd", "SD_Z")
        for t in ("H", "C", "T")
        for v in ("3.1", "3.2")
    ),
    *(
        _format("registry", set(D_TYPES), v, "ZL_LIST", "ZAP", f"registry/D-{v}.xsd", "SD_Z")
        for v in ("3.1", "3.2")
    ),
    *(
        _format("personal", {"L"}, v, "PERS_LIST", "PERS", f"registry/L-{v}.xsd", None)
        for v in ("3.1", "3.2")
    ),
    _format("attach", {"AT"}, "1.3", "ATT", "REC", "attach/ATT-1.3.xsd", None),
    _format("erz", {"E"}, "1.0", "ERZ_LIST", "PERS", "erz/ERZ-1.0.xsd", "SD_Z"),
    *(
        _format("hosp", {t}, "2.0", "ZL_LIST", _HOSP_RECORDS[t], f"hosp/{t}-2.0.xsd", None)
        for t in HOSP_TYPES
    ),
    _format("tmk", {"K"}, "1.0", "TMK_LIST", "ZAP", "tmk/TMK-1.0.xsd", "SD_Z"),
    _format("schedule", {"G"}, "1.0", "SCHED_LIST", "UNIT", "schedule/SCHED-1.0.xsd", None),
    _format("appeal", {"O"}, "1.0", "APPEAL_LIST", "ZAP", "appeal/APPEAL-1.0.xsd", "SD_Z"),
    _format("expert", {"A"}, "1.0", "EXPERT_LIST", "ZAP", "expert/EXPERT-1.0.xsd", "SD_Z"),
)
"""Every supported format and version."""

_BY_TYPE_VERSION = {(t, f.version): f for f in FORMATS for t in f.types}


def find_format(file_type: str, version: str) -> Format | None:
    """The format for a file type and its ``ZGLV/VERSION`` text, or ``None`` if unsupported.

    The version is compared after stripping surrounding whitespace: ``"3.1"`` and
    ``" 3.1 "`` are the same, ``"3.10"`` is not.
    """
    return _BY_TYPE_VERSION.get((file_type, version.strip()))


def formats_for(file_type: str) -> list[Format]:
    """Every version supported for a file type, oldest first (empty for unknown types)."""
    found = [f for f in FORMATS if file_type in f.types]
    return sorted(found, key=lambda f: tuple(int(part) for part in f.version.split(".")))


def load_lxml_schema(fmt: Format) -> etree.XMLSchema:
    """The libxml2 validator of a format, built once per process.

    lxml keeps the last run's ``error_log`` on the validator: threads that share it
    must not read one another's errors (validate and read the log under one lock).
    """
    return _lxml_schema(fmt.xsd)


def load_xmlschema(fmt: Format) -> xmlschema.XMLSchema10:
    """The xmlschema validator of a format, built once per process; building it
    meta-validates the XSD (and everything it includes) and raises on a broken one."""
    return _xmlschema(fmt.xsd)


_COMPILE = threading.Lock()


def compile_schema(doc: etree._ElementTree) -> etree.XMLSchema:
    """An lxml schema from a parsed XSD, one compilation at a time in the process.

    libxml2 initialises its built-in schema types at the first compilation, without a
    lock: threads compiling their first schemas at once (a fresh worker's threads taking
    their first packages) could leave the table broken for the life of the process
    (``XMLSchemaParseError: the given type is not a built-in type`` at every later
    compilation). Compiling takes about a millisecond, so one at a time costs nothing.
    """
    with _COMPILE:
        return etree.XMLSchema(doc)


@cache
def _lxml_schema(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return compile_schema(etree.parse(str(path), parser))


@cache
def _xmlschema(path: Path) -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(path))
