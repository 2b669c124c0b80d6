"""Streaming XML into ZIP members: markup for one record, written with ``lxml.etree.xmlfile``.

A record (ZAP, PERS, REC …) is spelled as markup — by :class:`Markup`, or by the ZAP
templates of :mod:`.zap` — which is cheaper than a ``SubElement`` per leaf; lxml parses it
once (which also proves it well-formed) and ``xmlfile`` writes the element straight into
a ZIP member opened for writing, so a file of any size needs the memory of one record.

Every generated file is windows-1251 with its XML declaration, the usual encoding of the
exchange (exchange.md §3), also for our own formats, so every kind reads the same way;
members carry a fixed timestamp (the file's date), so the bytes depend on the seed only.
"""

from __future__ import annotations

import struct
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

ENCODING = "windows-1251"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_LENGTH = struct.Struct("<I")

Value = str | int | date


def text_of(value: Value) -> str:
    """A leaf's text: dates in ISO form, ``&<>`` escaped."""
    if type(value) is str:
        if "&" in value or "<" in value or ">" in value:
            return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class Markup:
    """The markup of one element, built leaf by leaf in document order."""

    __slots__ = ("parts",)

    def __init__(self, root: str | None = None) -> None:
        self.parts: list[str] = [] if root is None else [f"<{root}>"]

    def leaf(self, tag: str, value: Value) -> None:
        """``<tag>value</tag>``."""
        self.parts.append(f"<{tag}>{text_of(value)}</{tag}>")

    def opt(self, tag: str, value: Value | None) -> None:
        """A leaf, when ``value`` is not None."""
        if value is not None:
            self.parts.append(f"<{tag}>{text_of(value)}</{tag}>")

    def include(self, other: Markup) -> None:
        """Another element's markup, as a child of this one (PATIENT in hosp records)."""
        self.parts += other.parts

    def open(self, tag: str) -> None:
        """A start tag."""
        self.parts.append(f"<{tag}>")

    def close(self, tag: str) -> None:
        """An end tag."""
        self.parts.append(f"</{tag}>")

    def element(self) -> Any:
        """The markup as an lxml element (it must be one well-formed element)."""
        return etree.XML("".join(self.parts), _PARSER)


class Spool:
    """Records' markup parked in an anonymous temporary file, replayed in order.

    A register's header (SUMMAV) needs every record's sum before the first record is
    written; spooling the records once is cheaper than generating them twice, and the
    disk, not memory, holds them.
    """

    def __init__(self, folder: Path) -> None:
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115  (closed by close())
        self.count = 0

    def add(self, markup: str) -> None:
        """Park one record's markup."""
        data = markup.encode("utf-8")
        self._file.write(_LENGTH.pack(len(data)))
        self._file.write(data)
        self.count += 1

    def elements(self) -> Iterator[Any]:
        """The parked records, parsed, in order."""
        self._file.seek(0)
        read = self._file.read
        for _ in range(self.count):
            (size,) = _LENGTH.unpack(read(_LENGTH.size))
            yield etree.XML(read(size), _PARSER)

    def close(self) -> None:
        """Drop the temporary file."""
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def member_info(name: str, day: date) -> zipfile.ZipInfo:
    """A deflated member with a fixed timestamp (deterministic bytes)."""
    info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


@contextmanager
def xml_member(archive: zipfile.ZipFile, name: str, day: date) -> Iterator[Any]:
    """An ``xmlfile`` writing member ``name`` of ``archive``, its declaration written."""
    with (
        archive.open(member_info(name, day), "w", force_zip64=True) as stream,
        etree.xmlfile(stream, encoding=ENCODING) as xf,
    ):
        xf.write_declaration()
        yield xf


def write_document(
    xf: Any, root: str, headers: Iterable[Markup], records: Iterable[Markup] | Iterable[Any]
) -> int:
    """``<root>``, the header elements, then each record (markup or a parsed element)."""
    count = 0
    with xf.element(root):
        xf.write("\n")
        for header in headers:
            xf.write(header.element(), "\n")
        for record in records:
            xf.write(record.element() if isinstance(record, Markup) else record, "\n")
            count += 1
    return count


def write_single(
    path: Path, root: str, header: Markup, records: Iterable[Markup], *, day: date
) -> int:
    """A ZIP ``path`` holding only the XML of the same base name; returns the record count."""
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        xml_member(archive, f"{path.stem}.xml", day) as xf,
    ):
        return write_document(xf, root, [header], records)
