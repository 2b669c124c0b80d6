"""One reference directory: its rows (:class:`Entry`) and the lookup by code and date.

A federal directory row has a code, a name and a validity period ``DATEBEG``..``DATEEND``
(both inclusive; an empty end means still in force). A code may have several rows:
its name changed on a date (V002 136 did on 12.12.2017), so validity is "some row of
this code covers the date".

Codes are compared by a key: surrounding spaces and a final dot dropped (regional
tables write «5.1.1.» for «5.1.1»), and an all-digit code read as a number, so ``3``,
``"3"`` and ``"03"`` are the same code (registers write the N-typed codes either way).
Codes with a dot or letters (``"1.0"``, ``"5.1.1"``) are otherwise compared as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

CodeLike = str | int

_NAME = re.compile(r"[A-Z][0-9]{3}")
_DOTTED = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


@dataclass(frozen=True)
class Entry:
    """One row of a directory; ``end`` is inclusive, ``None`` means open."""

    code: str
    name: str
    begin: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise ValueError("пустой код")
        if self.begin is not None and self.end is not None and self.end < self.begin:
            raise ValueError(
                f"дата окончания {self.end:%d.%m.%Y} раньше даты начала {self.begin:%d.%m.%Y}"
            )

    def covers(self, on: date | None) -> bool:
        """In force on the date (any row covers ``None``)."""
        if on is None:
            return True
        if self.begin is not None and on < self.begin:
            return False
        return self.end is None or on <= self.end


def code_key(code: CodeLike) -> str:
    """The comparison key of a code (see the module docstring)."""
    text = str(code).strip().rstrip(".")
    if text.isascii() and text.isdigit():
        return str(int(text))
    return text


def directory_name(text: str) -> str:
    """A directory name such as ``V006``, upper-cased; ``ValueError`` when malformed."""
    name = text.strip().upper()
    if not _NAME.fullmatch(name):
        raise ValueError(f"имя справочника «{text}» не похоже на V006, F014, M001, N018")
    return name


def parse_date(text: str) -> date | None:
    """``dd.mm.yyyy`` or ``yyyy-mm-dd`` (a time part after ``T`` is ignored); empty is None."""
    value = text.strip().split("T", 1)[0]
    if not value:
        return None
    if match := _DOTTED.fullmatch(value):
        day, month, year = (int(part) for part in match.groups())
    elif match := _ISO.fullmatch(value):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise ValueError(f"неверная дата «{text.strip()}»: нужно ДД.ММ.ГГГГ или ГГГГ-ММ-ДД")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"несуществующая дата «{text.strip()}»") from None


class Directory:
    """An immutable directory: ``name`` (``V006``), ``title`` and where it came from.

    Subclasses that compute their rows (ICD-10) override :meth:`lookup`,
    :meth:`__iter__` and :meth:`__len__`.
    """

    def __init__(
        self, name: str, entries: Iterable[Entry] = (), *, title: str = "", source: str = ""
    ) -> None:
        self.name = directory_name(name)
        self.title = title
        self.source = source
        self._entries = tuple(entries)
        by_key: dict[str, list[Entry]] = {}
        for entry in self._entries:
            by_key.setdefault(code_key(entry.code), []).append(entry)
        self._by_key = {key: tuple(rows) for key, rows in by_key.items()}

    def lookup(self, code: CodeLike) -> Sequence[Entry]:
        """Every row of the code (empty when unknown)."""
        return self._by_key.get(code_key(code), ())

    def valid(self, code: CodeLike, on: date | None = None) -> bool:
        """The code exists and, when ``on`` is given, one of its rows is in force that day."""
        return any(entry.covers(on) for entry in self.lookup(code))

    def get(self, code: CodeLike, on: date | None = None) -> Entry | None:
        """The row in force on ``on``; without a date the latest row; ``None`` when none."""
        rows = [entry for entry in self.lookup(code) if entry.covers(on)]
        if not rows:
            return None
        return max(rows, key=lambda entry: entry.begin or date.min)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str | int) and bool(self.lookup(code))

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Directory {self.name}: {len(self)} rows>"
