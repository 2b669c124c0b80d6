"""The shipped seed: ``data/<NAME>.csv`` (see :mod:`contracts.refs.seedcsv`) and ICD-10.

Parsed once per process; :meth:`Directories.seed` wraps the same immutable
directories in a new set each call, so adding to one set changes no other.
``data/README.md`` says where each file comes from.
"""

from __future__ import annotations

import functools
from pathlib import Path

from contracts.refs.icd10 import Icd10
from contracts.refs.model import Directory
from contracts.refs.seedcsv import parse_csv

DATA_DIR = Path(__file__).with_name("data")


def seed_paths() -> list[Path]:
    """The seed CSV files, by name."""
    return sorted(DATA_DIR.glob("*.csv"))


@functools.cache
def seed_directories() -> tuple[Directory, ...]:
    """Every seed directory and M001."""
    return (*(parse_csv(path) for path in seed_paths()), Icd10())
