"""The seed format: one CSV per directory, ``data/<NAME>.csv``.

::

    # source: НСИ ФОМС V006, restated from …; not an official copy
    # title: Классификатор условий оказания медицинской помощи      (optional)
    code,name,begin,end
    1,Стационарно,2011-01-01,
    4,Вне медицинской организации,2013-01-01,

UTF-8 (a BOM is allowed); the first line must be the ``# source:`` comment; other
``#`` lines are comments; dates ``yyyy-mm-dd`` (``dd.mm.yyyy`` is accepted too), an
empty ``end`` means open. The directory name is the file name (``V006.csv``) or the
argument. Problems raise :class:`~contracts.refs.errors.DirectoryFileError` naming
the file and the line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from contracts.refs.catalogue import TITLES
from contracts.refs.errors import DirectoryFileError
from contracts.refs.model import Directory, Entry, directory_name, parse_date

HEADER = ("code", "name", "begin", "end")
_SOURCE = "# source:"
_TITLE = "# title:"


def parse_csv(data: str | Path, name: str | None = None) -> Directory:
    """Read a seed CSV: a :class:`~pathlib.Path`, or the CSV text itself with ``name``."""
    if isinstance(data, Path):
        label = data.name
        try:
            text = data.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DirectoryFileError(f"{label}: не читается как UTF-8 ({exc})") from None
        name = name or data.stem
    else:
        label, text = f"{name or 'CSV'}.csv", data
    if name is None:
        raise DirectoryFileError(f"{label}: не задано имя справочника")
    try:
        directory = directory_name(name)
    except ValueError as exc:
        raise DirectoryFileError(f"{label}: {exc}") from None
    lines = list(enumerate(text.splitlines(), start=1))
    source, title = _comments(lines, label)
    rows = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not rows or [cell.lower() for cell in _cells(rows[0], label)] != list(HEADER):
        number = rows[0][0] if rows else 1
        raise DirectoryFileError(
            f"{label}, строка {number}: заголовок должен быть code,name,begin,end"
        )
    entries = [_entry(row, label) for row in rows[1:]]
    return Directory(directory, entries, title=title or TITLES.get(directory, ""), source=source)


def _comments(lines: list[tuple[int, str]], label: str) -> tuple[str, str]:
    first = lines[0][1].strip() if lines else ""
    if not first.lower().startswith(_SOURCE):
        raise DirectoryFileError(f"{label}, строка 1: первая строка должна быть «# source: …»")
    source = first[len(_SOURCE) :].strip()
    if not source:
        raise DirectoryFileError(f"{label}, строка 1: пустой источник в «# source:»")
    title = next(
        (
            line.strip()[len(_TITLE) :].strip()
            for _, line in lines
            if line.strip().startswith(_TITLE)
        ),
        "",
    )
    return source, title


def _cells(row: tuple[int, str], label: str) -> list[str]:
    number, line = row
    try:
        return [cell.strip() for cell in next(csv.reader([line]))]
    except csv.Error as exc:
        raise DirectoryFileError(f"{label}, строка {number}: не читается как CSV: {exc}") from None


def _entry(row: tuple[int, str], label: str) -> Entry:
    cells = _cells(row, label)
    where = f"{label}, строка {row[0]}"
    if len(cells) != len(HEADER):
        raise DirectoryFileError(f"{where}: нужно 4 поля, а их {len(cells)}")
    code, name, begin, end = cells
    try:
        return Entry(code, name, parse_date(begin), parse_date(end))
    except ValueError as exc:
        raise DirectoryFileError(f"{where} (код {code or '—'}): {exc}") from None
