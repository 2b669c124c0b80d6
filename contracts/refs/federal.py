"""Reader of the federal НСИ ФОМС directory files.

::

    packet
      zglv   type version date          (header, optional)
      zap*   IDxxx …NAME… DATEBEG DATEEND (one row; fields as child elements or attributes)

- the code is the first field named ``ID*``, ``CODE*`` or ``KOD*``, the name the first
  field whose name contains ``NAME``, starts with ``N_`` or is ``NAIM``, unless
  :data:`~contracts.refs.catalogue.COLUMNS` (or the ``columns`` argument) says otherwise;
  field names are compared case-insensitively (F011 writes ``IDDoc``);
- dates are ``dd.mm.yyyy`` or ``yyyy-mm-dd``; an empty ``DATEEND`` means open;
- the directory name comes from the argument or the file name (``V006.xml``,
  ``V006_2024.xml``);
- windows-1251 and UTF-8, as the XML declaration says;
- parsing is safe: no DTD (a file with a DOCTYPE is refused), no entity expansion,
  no network, no huge trees.

Every problem raises :class:`~contracts.refs.errors.DirectoryFileError` naming the
file and, for a row, its number (1 = the first ``zap``) and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from contracts.refs.catalogue import COLUMNS, TITLES
from contracts.refs.errors import DirectoryFileError
from contracts.refs.model import Directory, Entry, directory_name, parse_date

_CODE = re.compile(r"(ID|CODE|KOD)", re.IGNORECASE)
_FILE_NAME = re.compile(r"([A-Za-z][0-9]{3})(?![0-9])")
_DATES = frozenset({"DATEBEG", "DATEEND"})
_HEAD = 65536


@dataclass(frozen=True)
class _Row:
    number: int
    fields: dict[str, str]


def parse_federal_xml(
    data: bytes | Path,
    name: str | None = None,
    *,
    columns: tuple[str, str] | None = None,
    label: str | None = None,
) -> Directory:
    """Read one federal directory file (see the module docstring).

    ``columns`` forces the (code, name) elements; ``label`` names the file in errors
    when ``data`` are bytes.
    """
    if isinstance(data, Path):
        label = label or data.name
        try:
            raw = data.read_bytes()
        except OSError as exc:
            raise DirectoryFileError(f"{label}: не читается ({exc.strerror})") from None
    else:
        raw = data
    label = label or (f"{name}.xml" if name else "XML")
    directory = _name(name, label)
    root = _parse(raw, label)
    header = _header(root)
    rows = [_Row(number, _fields(zap)) for number, zap in enumerate(_zaps(root), start=1)]
    if not rows:
        raise DirectoryFileError(f"{label}: нет ни одной записи zap")
    code_col, name_col = _columns(directory, rows, columns, label)
    entries = [_entry(row, code_col, name_col, label) for row in rows]
    title = TITLES.get(directory) or header.get("TYPE", "")
    return Directory(directory, entries, title=title, source=_source(label, directory, header))


def _name(name: str | None, label: str) -> str:
    if name is not None:
        try:
            return directory_name(name)
        except ValueError as exc:
            raise DirectoryFileError(f"{label}: {exc}") from None
    match = _FILE_NAME.match(label)
    if match is None:
        raise DirectoryFileError(
            f"{label}: имя справочника не задано и не следует из имени файла (ожидается V006.xml)"
        )
    return match.group(1).upper()


def _parse(raw: bytes, label: str) -> etree._Element:
    if b"<!DOCTYPE" in raw[:_HEAD] or b"<!ENTITY" in raw[:_HEAD]:
        raise DirectoryFileError(f"{label}: DTD и объявления сущностей запрещены")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        tree = etree.fromstring(raw, parser).getroottree()
    except etree.XMLSyntaxError as exc:
        raise DirectoryFileError(f"{label}: XML не читается: {exc.msg}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DirectoryFileError(f"{label}: DTD и объявления сущностей запрещены")
    return tree.getroot()


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname).upper()


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _zaps(root: etree._Element) -> list[etree._Element]:
    return [child for child in _children(root) if _local(child) == "ZAP"]


def _header(root: etree._Element) -> dict[str, str]:
    for child in _children(root):
        if _local(child) == "ZGLV":
            return _fields(child)
    return {}


def _fields(element: etree._Element) -> dict[str, str]:
    """Leaf children by upper-case name, else the attributes (first occurrence wins)."""
    fields: dict[str, str] = {}
    for child in _children(element):
        if not _children(child):
            fields.setdefault(_local(child), (child.text or "").strip())
    if not fields:
        for key, value in element.attrib.items():
            fields.setdefault(etree.QName(key).localname.upper(), str(value).strip())
    return fields


def _columns(
    directory: str, rows: list[_Row], forced: tuple[str, str] | None, label: str
) -> tuple[str, str | None]:
    if forced is not None:
        return forced[0].upper(), forced[1].upper()
    if directory in COLUMNS:
        return COLUMNS[directory]
    names = list(dict.fromkeys(key for row in rows for key in row.fields))
    code = next((key for key in names if _CODE.match(key) and key not in _DATES), None)
    if code is None:
        raise DirectoryFileError(
            f"{label}: не найден столбец кода (элемент ID…, CODE… или KOD…) среди {names}"
        )
    title = next((key for key in names if key != code and _is_name(key)), None)
    return code, title


def _is_name(key: str) -> bool:
    return "NAME" in key or key.startswith("N_") or key == "NAIM"


def _entry(row: _Row, code_col: str, name_col: str | None, label: str) -> Entry:
    where = f"{label}, запись {row.number}"
    code = row.fields.get(code_col, "")
    if not code:
        raise DirectoryFileError(f"{where}: пустой код ({code_col})")
    dates = {}
    for field in ("DATEBEG", "DATEEND"):
        try:
            dates[field] = parse_date(row.fields.get(field, ""))
        except ValueError as exc:
            raise DirectoryFileError(f"{where}, {field} (код {code}): {exc}") from None
    name = row.fields.get(name_col, "") if name_col else ""
    try:
        return Entry(code, name, dates["DATEBEG"], dates["DATEEND"])
    except ValueError as exc:
        raise DirectoryFileError(f"{where} (код {code}): {exc}") from None


def _source(label: str, directory: str, header: dict[str, str]) -> str:
    parts = [f"НСИ ФОМС {directory}, файл {label}"]
    if header.get("VERSION"):
        parts.append(f"версия {header['VERSION']}")
    if header.get("DATE"):
        parts.append(f"от {header['DATE']}")
    return ", ".join(parts)
