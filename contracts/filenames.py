"""The file-name grammar of exchange.md §3.

``<Type><Pi><Ni><Pp><Np>_<YY><MM><N>``: a type, the sender and the receiver
(``M`` + 6 digits МО, ``S`` + 5 digits СМО, ``T`` + 2 digits ТФОМС), then the period
and the package number. Hospitalisation files (``I01``, ``I03``–``I07``) carry a
day as well: ``_<YY><MM><DD><N>``. ``L`` (personal data) names follow a registry
main name, in both spellings; ``V`` (protocol) names are ``V`` + a package name.

Decisions where the contract is silent:

- letters are upper case only (``hm…`` is refused with a message saying so); only the
  extension is case-insensitive;
- the grammar does not tie party roles to types: "the receiver of an ``AT`` file must
  be the ТФОМС" is a package check (806), not a name error (802);
- the type is found longest first, and a type counts only when a party letter with a
  digit follows it, so ``A``/``AT`` and ``T`` (type or party) never clash.

Every error is a :class:`~omsx.errors.FileNameError` with a short Russian message
naming the wrong part; names hold codes only, never personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from omsx.errors import FileNameError

Role = Literal["mo", "smo", "tfoms"]

_ROLE_BY_LETTER: dict[str, Role] = {"M": "mo", "S": "smo", "T": "tfoms"}
_LETTER_BY_ROLE: dict[Role, str] = {role: letter for letter, role in _ROLE_BY_LETTER.items()}
_DIGITS: dict[Role, int] = {"mo": 6, "smo": 5, "tfoms": 2}
_TITLE: dict[Role, str] = {"mo": "МО", "smo": "СМО", "tfoms": "ТФОМС"}
_DIGITS_TEXT = {6: "6 цифр", 5: "5 цифр", 2: "2 цифры"}

D_TYPES = ("DP", "DV", "DO", "DS", "DU", "DF", "DR", "DA", "DB")
HOSP_TYPES = ("I01", "I03", "I04", "I05", "I06", "I07")

KIND_TYPES: dict[str, frozenset[str]] = {
    "registry": frozenset({"H", "C", "T", *D_TYPES}),
    "attach": frozenset({"AT"}),
    "erz": frozenset({"E"}),
    "hosp": frozenset(HOSP_TYPES),
    "tmk": frozenset({"K"}),
    "schedule": frozenset({"G"}),
    "appeal": frozenset({"O"}),
    "expert": frozenset({"A"}),
    "personal": frozenset({"L"}),
    "protocol": frozenset({"V"}),
}
"""Kind → the file types it holds (§3, §4)."""

INBOUND_KINDS = frozenset(
    {"registry", "attach", "erz", "hosp", "tmk", "schedule", "appeal", "expert"}
)
"""The eight ``<kind>`` tokens of ``oms.in.<role>.<code>.<kind>`` (§2)."""

KIND_SENDERS: dict[str, frozenset[Role]] = {
    "registry": frozenset({"mo"}),
    "attach": frozenset({"mo"}),
    "erz": frozenset({"smo"}),
    "hosp": frozenset({"mo"}),
    "tmk": frozenset({"mo", "smo", "tfoms"}),
    "schedule": frozenset({"mo"}),
    "appeal": frozenset({"smo", "tfoms"}),
    "expert": frozenset({"smo"}),
}
"""Inbound kind → roles that may send it (§4; ``K<sender>`` names any role)."""

_KIND_BY_TYPE = {t: kind for kind, types in KIND_TYPES.items() for t in types}
_PACKAGE_TYPES = sorted(
    (t for kind in INBOUND_KINDS for t in KIND_TYPES[kind]), key=len, reverse=True
)
# What may stand between "L" and the sender: the whole main type or it without its first letter.
_L_INFIXES = sorted(
    {t for t in KIND_TYPES["registry"]} | {t[1:] for t in KIND_TYPES["registry"]},
    key=len,
    reverse=True,
)
_PARTY_START = re.compile(r"[MST][0-9]")
_PARTIES = re.compile(r"([MST])([0-9]+)([MST])([0-9]+)")
_DIGITS_ONLY = re.compile(r"[0-9]+")
_MAX_NUMBER_DIGITS = 9


@dataclass(frozen=True)
class Party:
    """A participant: ``Party("mo", "640001")`` is ``mo.640001`` and ``M640001`` in names."""

    role: Role
    code: str

    def __post_init__(self) -> None:
        if self.role not in _DIGITS:
            raise FileNameError(f"неизвестная роль участника «{self.role}»")
        need = _DIGITS[self.role]
        if len(self.code) != need or not _DIGITS_ONLY.fullmatch(self.code):
            raise FileNameError(
                f"неверный код {_TITLE[self.role]} «{self.code}»: нужно {_DIGITS_TEXT[need]}"
            )

    @classmethod
    def from_token(cls, token: str) -> Party:
        """Parse a subject token such as ``mo.640001``."""
        role, dot, code = token.partition(".")
        if not dot or role not in _DIGITS:
            raise FileNameError(f"неверный участник «{token}»: ожидается роль.код")
        return cls(role, code)

    @classmethod
    def from_letter(cls, letter: str, code: str) -> Party:
        """Build from a name's party letter (``M``, ``S``, ``T``) and code."""
        if letter not in _ROLE_BY_LETTER:
            raise FileNameError(f"неизвестная буква участника «{letter}»")
        return cls(_ROLE_BY_LETTER[letter], code)

    @property
    def token(self) -> str:
        """``role.code``, as in subjects."""
        return f"{self.role}.{self.code}"

    @property
    def letter(self) -> str:
        """``M``, ``S`` or ``T``."""
        return _LETTER_BY_ROLE[self.role]

    @property
    def region(self) -> str:
        """The region: the first two digits of the code."""
        return self.code[:2]

    def __str__(self) -> str:
        return self.letter + self.code


@dataclass(frozen=True)
class PackageName:
    """A parsed package or file name; ``base`` is the name without extension, as given.

    ``day`` is set for hospitalisation names only. ``infix`` is what stands between
    the type letter and the sender: for ``L`` names the main type as spelled (``""``,
    ``"P"``, ``"DP"``, ``"C"`` …), for ``V`` names the checked package's type.
    """

    type: str
    sender: Party
    receiver: Party
    year: int
    month: int
    number: int
    base: str
    day: int | None = None
    infix: str = ""

    @property
    def kind(self) -> str:
        """``registry``, ``attach`` … or ``personal`` (L) and ``protocol`` (V)."""
        return _KIND_BY_TYPE[self.type]


def strip_extension(name: str) -> str:
    """The name without a trailing ``.zip`` or ``.xml`` (any case); other names as they are."""
    stem, dot, ext = name.rpartition(".")
    return stem if dot and ext.lower() in ("zip", "xml") else name


def parse_name(name: str) -> PackageName:
    """Parse a package or file name, with or without its ``.zip``/``.xml`` extension."""
    base = strip_extension(name)
    if "." in base:
        raise FileNameError(
            f"неверное расширение «.{base.rpartition('.')[2]}»: нужно .zip или .xml"
        )
    if not base:
        raise FileNameError("пустое имя файла")
    if base != base.upper():
        raise FileNameError("буквы в имени файла должны быть заглавными")
    head, sep, period = base.partition("_")
    if not sep:
        raise FileNameError("нет «_» между участниками и периодом в имени файла")
    type_, infix, parties = _split_head(head)
    sender, receiver = _parse_parties(parties)
    hosp = type_ in HOSP_TYPES or (type_ == "V" and infix in HOSP_TYPES)
    year, month, day, number = _parse_period(period, hosp=hosp)
    return PackageName(type_, sender, receiver, year, month, number, base, day, infix)


def personal_file_names(main: PackageName) -> tuple[str, str]:
    """The two accepted L-file bases of a registry main file: ``L`` + base[1:], ``L`` + base."""
    if main.kind != "registry":
        raise FileNameError(f"у файла типа {main.type} нет файла персональных данных")
    return "L" + main.base[1:], "L" + main.base


def protocol_base(base: str) -> str:
    """The protocol's base name for a checked package's base: ``V`` + base."""
    return "V" + base


def compose_name(
    type_: str,
    sender: Party,
    receiver: Party,
    *,
    year: int,
    month: int,
    number: int,
    day: int | None = None,
) -> PackageName:
    """Build a name from its parts (validated by parsing it back)."""
    period = f"{year % 100:02d}{month:02d}" + ("" if day is None else f"{day:02d}")
    return parse_name(f"{type_}{sender}{receiver}_{period}{number}")


def _split_head(head: str) -> tuple[str, str, str]:
    """``HM640001S64004`` → ``("H", "", "M640001S64004")``; L and V with their infix."""
    first = head[:1]
    if first in ("L", "V"):
        found = _split_type(head[1:], _L_INFIXES if first == "L" else _PACKAGE_TYPES)
        if found is not None:
            return first, found[0], found[1]
    else:
        found = _split_type(head, _PACKAGE_TYPES)
        if found is not None:
            return found[0], "", found[1]
    prefix = head[: m.start()] if (m := _PARTY_START.search(head)) else head
    if not prefix:
        raise FileNameError("нет типа файла в начале имени")
    known = next((t for t in _PACKAGE_TYPES if prefix.startswith(t)), None)
    if known is not None and first not in ("L", "V"):
        raise FileNameError(f"после типа {known} нет отправителя: нужно M, S или T и код")
    raise FileNameError(f"неизвестный тип файла «{prefix}»")


def _split_type(head: str, types: list[str]) -> tuple[str, str] | None:
    for type_ in types:
        rest = head[len(type_) :]
        if head.startswith(type_) and _PARTY_START.match(rest):
            return type_, rest
    return None


def _parse_parties(text: str) -> tuple[Party, Party]:
    match = _PARTIES.fullmatch(text)
    if match is None:
        if re.fullmatch(r"[MST][0-9]+", text):
            raise FileNameError("нет получателя в имени файла")
        raise FileNameError(f"неверные отправитель и получатель «{text}» в имени файла")
    return _party("отправителя", *match.group(1, 2)), _party("получателя", *match.group(3, 4))


def _party(which: str, letter: str, code: str) -> Party:
    role = _ROLE_BY_LETTER[letter]
    if len(code) != _DIGITS[role]:
        raise FileNameError(
            f"неверный код {which} {letter}{code} в имени файла: "
            f"у {_TITLE[role]} {_DIGITS_TEXT[_DIGITS[role]]}"
        )
    return Party(role, code)


def _parse_period(period: str, *, hosp: bool) -> tuple[int, int, int | None, int]:
    """``25111`` → (25, 11, None, 1); hosp ``2511301`` → (25, 11, 30, 1)."""
    shape = "ГГММДДN" if hosp else "ГГММN"
    if not _DIGITS_ONLY.fullmatch(period) or len(period) < len(shape):
        raise FileNameError(f"неверный период «{period}» в имени файла: нужно {shape}")
    year, month = int(period[:2]), int(period[2:4])
    if not 1 <= month <= 12:
        raise FileNameError(f"неверный месяц {period[2:4]} в имени файла")
    day = None
    if hosp:
        day = int(period[4:6])
        try:
            date(2000 + year, month, day)
        except ValueError:
            raise FileNameError(f"неверный день {period[4:6]} в имени файла") from None
    digits = period[len(shape) - 1 :]
    if len(digits) > _MAX_NUMBER_DIGITS or int(digits) < 1:
        raise FileNameError(f"неверный номер пакета {digits[:12]} в имени файла")
    return year, month, day, int(digits)
