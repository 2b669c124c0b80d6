"""Loading directory files given by an operator (``omsx refs load FILE…``), and back
from the rows a database keeps.

``.xml`` files are federal НСИ ФОМС files (:func:`~contracts.refs.federal.parse_federal_xml`),
``.csv`` files named like a directory (``V006.csv``) are in the seed format
(:func:`~contracts.refs.seedcsv.parse_csv`). All files are read before any is
returned, so one bad file loads nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from contracts.refs.catalogue import TITLES
from contracts.refs.errors import DirectoryFileError
from contracts.refs.federal import parse_federal_xml
from contracts.refs.model import Directory, Entry, directory_name
from contracts.refs.seedcsv import parse_csv

_DIRECTORY_FILE = re.compile(r"[A-Za-z][0-9]{3}(?![0-9]).*")


def is_directory_file(path: Path) -> bool:
    """An ``.xml`` or ``.csv`` file named like a directory (``V006.xml``, ``F014_2021.xml``);
    other CSVs (the participant registry) are not."""
    return path.suffix.lower() in {".xml", ".csv"} and bool(_DIRECTORY_FILE.fullmatch(path.stem))


def load_file(path: Path) -> Directory:
    """One directory file, by its extension."""
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return parse_federal_xml(path)
    if suffix == ".csv":
        return parse_csv(path)
    raise DirectoryFileError(f"{path.name}: ожидается файл .xml (НСИ ФОМС) или .csv (формат seed)")


def load_files(paths: Iterable[Path]) -> list[Directory]:
    """Every file, in order; a directory named twice is an error (which one wins is unclear)."""
    directories: list[Directory] = []
    seen: dict[str, str] = {}
    for path in paths:
        directory = load_file(path)
        if directory.name in seen:
            raise DirectoryFileError(
                f"{path.name}: справочник {directory.name} уже есть в {seen[directory.name]}"
            )
        seen[directory.name] = path.name
        directories.append(directory)
    return directories


def from_rows(rows: Iterable[tuple[str, Entry]], *, source: str) -> list[Directory]:
    """Directories rebuilt from stored ``(directory name, entry)`` rows, by name."""
    grouped: dict[str, list[Entry]] = {}
    for name, entry in rows:
        grouped.setdefault(directory_name(name), []).append(entry)
    return [
        Directory(name, entries, title=TITLES.get(name, ""), source=source)
        for name, entries in sorted(grouped.items())
    ]
