"""Every package-level check of exchange.md §3, in order; the first failure wins.

1. subject: participant unknown or inactive → 806; kind not one of the eight → 807;
   kind this role does not send (:data:`~contracts.filenames.KIND_SENDERS`) → 807
2. file name: not ``.zip`` or off the grammar → 802
3. the name's type does not belong to the subject's kind (L and V included) → 808
4. parties: name sender ≠ subject participant, receiver unknown, inactive or of the
   wrong role for the kind, sender outside the region → 806
5. package size → 804
6. not a ZIP, unsupported compression → 801
7. members (:mod:`contracts.archive`): unsafe names, encryption, symlinks, nested
   archives, sizes and ratios → 804; every member is read once through the guard,
   which also feeds the XML scanner; corrupt data → 801
8. expected files: the main file, plus the L-file for registers → 803
9. XML of the expected files (:mod:`contracts.xmlscan`) → 804, 807, 901
10. records under each root are counted (:data:`RECORD_TAGS`)

:func:`check_package` returns a :class:`PackageCheck`; a failure is an outcome with
one :class:`~contracts.protocol.Problem` (BAS_EL empty, IM_POL naming the header,
subject or member), never an exception.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from contracts.archive import (
    CHUNK,
    GuardedReader,
    Limits,
    check_members,
    open_archive,
    open_member,
    refuse_nested,
    rejection,
    unsafe,
)
from contracts.filenames import (
    INBOUND_KINDS,
    KIND_SENDERS,
    KIND_TYPES,
    PackageName,
    Party,
    Role,
    parse_name,
    personal_file_names,
)
from contracts.participants import ParticipantDirectory
from contracts.protocol import Code, Problem, problem_of
from contracts.xmlscan import XmlScan, XmlScanner
from omsx.errors import ContractError, FileNameError, PackageRejected

__all__ = [
    "DEFAULT_LIMITS",
    "RECORD_TAGS",
    "Limits",
    "PackageCheck",
    "Subject",
    "check_package",
    "open_member",
    "record_tags",
]

DEFAULT_LIMITS = Limits()
SUBJECT_FIELD = "subject"

RECORD_TAGS: dict[str, frozenset[str]] = {
    "registry": frozenset({"ZAP"}),
    "personal": frozenset({"PERS"}),
    "attach": frozenset({"REC"}),
    "erz": frozenset({"PERS"}),
    "hosp": frozenset({"DIR", "CANCEL", "HOSP", "DISCH", "PLACES"}),
    "tmk": frozenset({"ZAP"}),
    "schedule": frozenset({"UNIT"}),
    "appeal": frozenset({"ZAP"}),
    "expert": frozenset({"ZAP"}),
}
"""Kind → the record elements directly under its root (``personal`` = the L-file)."""


def record_tags(kind: str) -> frozenset[str]:
    """The record elements of a kind's file (see :data:`RECORD_TAGS`)."""
    return RECORD_TAGS[kind]


@dataclass(frozen=True)
class Subject:
    """An inbound subject ``oms.in.<role>.<code>.<kind>``; ``kind`` is not judged here."""

    role: Role
    code: str
    kind: str

    @classmethod
    def parse(cls, subject: str) -> Subject:
        """Parse a subject; a malformed one raises :class:`~omsx.errors.ContractError`."""
        parts = subject.split(".")
        if len(parts) != 5 or parts[:2] != ["oms", "in"] or not parts[4]:
            raise ContractError(f"неверный субъект «{subject}»: нужно oms.in.<роль>.<код>.<вид>")
        try:
            party = Party.from_token(f"{parts[2]}.{parts[3]}")
        except FileNameError as exc:
            raise ContractError(f"неверный субъект «{subject}»: {exc}") from None
        return cls(party.role, party.code, parts[4])

    @property
    def party(self) -> Party:
        """The publishing participant."""
        return Party(self.role, self.code)

    def __str__(self) -> str:
        return f"oms.in.{self.role}.{self.code}.{self.kind}"


@dataclass
class PackageCheck:
    """The outcome of :func:`check_package`.

    ``members`` maps ``main`` (and ``personal`` for registers) to member names in the
    ZIP; ``counts`` maps the same keys to the records found under each root.
    """

    name: PackageName | None = None
    problems: list[Problem] = field(default_factory=list)
    members: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every package-level check passed."""
        return not self.problems

    @property
    def problem(self) -> Problem | None:
        """The failure, if any."""
        return self.problems[0] if self.problems else None

    @property
    def records(self) -> int:
        """Records of the main file."""
        return self.counts.get("main", 0)


def check_package(
    source: bytes | Path,
    *,
    file_name: str,
    subject: Subject,
    participants: ParticipantDirectory,
    region: str,
    limits: Limits = DEFAULT_LIMITS,
    parse_xml: bool = True,
) -> PackageCheck:
    """Run the checks of §3 on a package's bytes (or file) in the order above.

    Contract failures are outcomes in the result. An ``OSError`` reading a ``Path``
    source is not the participant's fault and propagates (the caller retries).
    ``parse_xml=False`` leaves well-formedness (901) and record counts to a file check
    that parses anyway (FLK): the prolog and XInclude checks still run, on the bytes.
    """
    check = PackageCheck()
    try:
        _check_subject(subject, participants)
        check.name = name = _check_name(file_name)
        # the file type is judged before the parties: a register on the attach subject is
        # 808, not "the СМО receiver does not take attach packages" (806)
        if name.type not in KIND_TYPES[subject.kind]:
            raise rejection(
                Code.WRONG_KIND, f"тип файла {name.type} не относится к виду {subject.kind}"
            )
        _check_parties(name, subject, participants, region)
        _check_archive(source, name, subject.kind, limits, check, parse_xml=parse_xml)
    except PackageRejected as exc:
        check.problems.append(problem_of(exc))
    return check


def _check_subject(subject: Subject, participants: ParticipantDirectory) -> None:
    token, kind = subject.party.token, subject.kind
    participant = participants.get(subject.party)
    if participant is None:
        raise rejection(Code.SENDER, f"участник {token} не зарегистрирован", SUBJECT_FIELD)
    if not participant.active:
        raise rejection(Code.SENDER, f"участник {token} не активен", SUBJECT_FIELD)
    if kind not in INBOUND_KINDS:
        raise rejection(Code.UNSUPPORTED, f"вид пакета «{kind}» не поддерживается", SUBJECT_FIELD)
    if subject.role not in KIND_SENDERS[kind]:
        raise rejection(
            Code.UNSUPPORTED, f"участник {token} не отправляет пакеты вида {kind}", SUBJECT_FIELD
        )


def _check_name(file_name: str) -> PackageName:
    if not file_name.lower().endswith(".zip"):
        raise rejection(Code.BAD_NAME, f"имя пакета «{file_name}» должно оканчиваться на .zip")
    try:
        return parse_name(file_name)
    except FileNameError as exc:
        raise rejection(Code.BAD_NAME, str(exc)) from None


def _check_parties(
    name: PackageName, subject: Subject, participants: ParticipantDirectory, region: str
) -> None:
    sender, receiver = name.sender, name.receiver
    if sender != subject.party:
        raise rejection(
            Code.SENDER,
            f"отправитель {sender} в имени файла не совпадает с участником {subject.party.token}",
        )
    known = participants.get(receiver)
    if known is None or not known.active:
        state = "не зарегистрирован" if known is None else "не активен"
        raise rejection(Code.SENDER, f"получатель {receiver} {state}")
    if not _receives(receiver, subject.kind, region):
        raise rejection(
            Code.SENDER, f"получатель {receiver} не принимает пакеты вида {subject.kind}"
        )
    if sender.region != region:
        raise rejection(Code.SENDER, f"отправитель {sender} не из региона {region}")


def _receives(receiver: Party, kind: str, region: str) -> bool:
    """Registers go to an СМО of the region or the ТФОМС; every other kind to the ТФОМС."""
    if receiver.role == "tfoms":
        return receiver.code == region
    return kind == "registry" and receiver.role == "smo" and receiver.region == region


def _check_archive(
    source: bytes | Path,
    name: PackageName,
    kind: str,
    limits: Limits,
    check: PackageCheck,
    *,
    parse_xml: bool,
) -> None:
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    if size > limits.max_package_bytes:
        raise unsafe(f"размер пакета {size} байт больше предела {limits.max_package_bytes}")
    fileobj: IO[bytes] = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
    with fileobj, open_archive(fileobj) as zf:
        infos = check_members(zf, limits, size)
        scans = _read_members(zf, infos, limits, parse_xml=parse_xml)
    check.members = _expected_members(name, infos)
    for role, member in check.members.items():
        scan = scans[member]
        if scan.problem is not None:
            raise PackageRejected(scan.problem)
        check.counts[role] = scan.records(record_tags(kind if role == "main" else role))


def _read_members(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: Limits, *, parse_xml: bool
) -> dict[str, XmlScan]:
    """Read every member once through the guard, in 1 MiB chunks, scanning its XML."""
    scans: dict[str, XmlScan] = {}
    total = 0
    for info in infos:
        scanner = XmlScanner(info.filename, parse=parse_xml)
        with GuardedReader(zf, info, limits, already=total) as reader:
            chunk = reader.read(CHUNK) or b""
            refuse_nested(chunk, info.filename)
            while chunk:
                scanner.feed(chunk)
                chunk = reader.read(CHUNK) or b""
            total += reader.count
        scans[info.filename] = scanner.close()
    return scans


def _expected_members(name: PackageName, infos: list[zipfile.ZipInfo]) -> dict[str, str]:
    """``main`` (and ``personal``) → member name, matched case-insensitively; 803 otherwise."""
    by_key: dict[str, str] = {}
    for info in infos:
        if info.filename.upper() in by_key:
            raise rejection(
                Code.FILE_SET, f"файл «{info.filename}» встречается в архиве дважды", info.filename
            )
        by_key[info.filename.upper()] = info.filename
    wanted: dict[str, tuple[str, ...]] = {"main": (name.base,)}
    if name.kind == "registry":
        wanted["personal"] = personal_file_names(name)
    members: dict[str, str] = {}
    for role, bases in wanted.items():
        found = [by_key[key] for base in bases if (key := f"{base}.XML".upper()) in by_key]
        if not found:
            spelled = " или ".join(f"«{base}.xml»" for base in bases)
            what = "основного файла" if role == "main" else "файла персональных данных"
            raise rejection(Code.FILE_SET, f"нет {what} {spelled}", f"{bases[0]}.xml")
        members[role] = found[0]
    for member in by_key.values():
        if member not in members.values():
            raise rejection(Code.FILE_SET, f"лишний файл «{member}» в архиве", member)
    return members
