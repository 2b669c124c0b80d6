"""What a rule may read besides its record: the file's context and the directories.

The engine builds one :class:`FileContext` per file when the header is known, calls
:meth:`FileContext.observe` with every record after that record's rules ran, and sets
``record_count`` before the file-scope rules run. Those rules then read what was
accumulated:

- ``record_count``  the number of records (ZAP, PERS, REC …) seen — 003F.64.0001;
- ``totals``        ``"SUMV"`` → Σ Z_SL/SUMV over all ZAP — 002K.64.0371. A SUMV that is
  missing or did not convert makes the total NaN: unknown, so the rule stays silent
  (the structural check has reported that SUMV already);
- ``seen_id_pac``   every PACIENT/ID_PAC of the main file — the "no PERS without a ZAP"
  half of 003F.00.3080.

``persons`` maps ID_PAC → the L-file's PERS. The main-file rules read only
:data:`PERSON_FIELDS` of it, so the engine may keep just those (about a hundred bytes
a person) between the L pass and the main pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from contracts.records import Record

PERSON_FIELDS = ("ID_PAC", "DR", "FAM_P", "IM_P", "W_P", "DR_P", "DOST_P")
"""What main-file rules read from ``ctx.persons[ID_PAC]`` (002K.00.0240, 003F.00.1530)."""

_NAN = Decimal("NaN")


class Refs(Protocol):
    """Reference directories (implemented by ``contracts.refs``)."""

    def valid(self, name: str, code: str, on: date | None = None) -> bool:
        """Whether ``code`` is in directory ``name`` ("V006", "M001" …) on the date ``on``.

        Raises :class:`LookupError` when that directory is not loaded.
        """
        ...


@dataclass
class FileContext:
    """One file as its rules see it (see the module docstring for the accumulated part)."""

    kind: str
    file_type: str
    version: str
    file_name: str
    header: Record
    persons: Mapping[str, Record]
    refs: Refs
    today: date
    region: str
    sender_code: str
    participants: Callable[[str, str], bool]
    record_count: int | None = None
    main_file_name: str | None = None
    """For the L-file: the main file's base name, which FILENAME1 must equal."""
    totals: dict[str, Decimal] = field(default_factory=dict)
    seen_id_pac: set[str] = field(default_factory=set)

    def observe(self, record: Record) -> None:
        """Accumulate what the file-scope rules need from one record."""
        z_sl = record.get("Z_SL")
        if isinstance(z_sl, dict):
            sumv = z_sl.get("SUMV")
            total = self.totals.get("SUMV", Decimal(0))
            if isinstance(sumv, Decimal) and sumv.is_finite():
                self.totals["SUMV"] = total + sumv
            else:
                self.totals["SUMV"] = _NAN
        pacient = record.get("PACIENT")
        if isinstance(pacient, dict):
            id_pac = pacient.get("ID_PAC")
            if isinstance(id_pac, str):
                self.seen_id_pac.add(id_pac)
