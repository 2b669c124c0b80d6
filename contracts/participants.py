"""The participant registry (exchange.md §1): who exists, their role, whether active.

Reference data loaded from a CSV file (``role,code,name,active``; ``#`` starts a
comment line). A shipped synthetic seed for region 64 lives in ``data/``. A broken
file is an installation problem, so loading raises :class:`~omsx.errors.ConfigError`
naming the file and the line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from contracts.filenames import Party, Role
from omsx.errors import ConfigError, FileNameError

DATA_DIR = Path(__file__).with_name("data")
HEADER = ("role", "code", "name", "active")
_TRUE = frozenset({"1", "true", "yes", "да"})
_FALSE = frozenset({"0", "false", "no", "нет"})
_ROLES = frozenset({"mo", "smo", "tfoms"})


@dataclass(frozen=True)
class Participant:
    """One row of the registry."""

    role: Role
    code: str
    name: str
    active: bool = True

    def __post_init__(self) -> None:
        Party(self.role, self.code)  # validates role and code

    @property
    def party(self) -> Party:
        """The participant as a :class:`Party`."""
        return Party(self.role, self.code)


class ParticipantDirectory:
    """In-memory lookup of participants by :class:`Party`."""

    def __init__(self, participants: Iterable[Participant] = ()) -> None:
        self._by_party: dict[Party, Participant] = {}
        for participant in participants:
            if participant.party in self._by_party:
                raise ConfigError(f"участник {participant.party.token} указан дважды")
            self._by_party[participant.party] = participant

    @classmethod
    def from_csv(cls, source: str | Path) -> ParticipantDirectory:
        """Load with :func:`load_participants_csv`."""
        return cls(load_participants_csv(source))

    def get(self, party: Party) -> Participant | None:
        """The participant, or ``None`` when unknown."""
        return self._by_party.get(party)

    def is_active(self, party: Party) -> bool:
        """Known and active."""
        participant = self._by_party.get(party)
        return participant is not None and participant.active

    def __iter__(self) -> Iterator[Participant]:
        return iter(self._by_party.values())

    def __len__(self) -> int:
        return len(self._by_party)


def seed_path(region: str) -> Path | None:
    """The shipped seed CSV for a 2-digit region, or ``None`` when there is none."""
    if not re.fullmatch(r"[0-9]{2}", region):
        return None
    path = DATA_DIR / f"participants_{region}.csv"
    return path if path.is_file() else None


def load_participants_csv(source: str | Path) -> list[Participant]:
    """Parse a registry CSV: a :class:`~pathlib.Path` is read as UTF-8 (BOM allowed),
    a ``str`` is the CSV text itself."""
    if isinstance(source, Path):
        label, text = source.name, source.read_text(encoding="utf-8-sig")
    else:
        label, text = "CSV", source
    rows = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not rows:
        raise ConfigError(f"{label}: нет заголовка role,code,name,active")
    number, line = rows[0]
    try:
        header = tuple(cell.strip().lower() for cell in _cells(line))
    except ConfigError:
        header = ()
    if header != HEADER:
        raise ConfigError(f"{label}, строка {number}: заголовок должен быть role,code,name,active")
    participants: list[Participant] = []
    seen: dict[tuple[str, str], int] = {}
    for number, line in rows[1:]:
        try:
            participant = _participant(_cells(line))
        except (ConfigError, FileNameError) as exc:
            raise ConfigError(f"{label}, строка {number}: {exc}") from None
        key = (participant.role, participant.code)
        if key in seen:
            raise ConfigError(
                f"{label}, строка {number}: участник {participant.party.token} "
                f"уже указан в строке {seen[key]}"
            )
        seen[key] = number
        participants.append(participant)
    return participants


def _cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except csv.Error as exc:
        raise ConfigError(f"строка не читается как CSV: {exc}") from None


def _participant(cells: list[str]) -> Participant:
    if len(cells) != len(HEADER):
        raise ConfigError(f"нужно {len(HEADER)} поля, а их {len(cells)}")
    role, code, name, active = (cell.strip() for cell in cells)
    if role not in _ROLES:
        raise ConfigError(f"неизвестная роль «{role}»: нужно mo, smo или tfoms")
    if not name:
        raise ConfigError("пустое название участника")
    if any(ord(c) < 0x20 for c in name):
        raise ConfigError("управляющие символы в названии участника")
    if active.lower() not in _TRUE | _FALSE:
        raise ConfigError(f"неверный признак active «{active}»: нужно 1 или 0")
    return Participant(cast(Role, role), code, name, active.lower() in _TRUE)
