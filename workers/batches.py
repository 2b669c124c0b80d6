"""What every applier shares: the package's stored bytes opened as a ZIP, records read
in batches, and a progress counter that makes a re-run skip what is committed.

Each batch is one transaction holding its rows and the advanced counter together, so
after a crash the next run starts at the first batch that did not commit. Batch
boundaries depend only on the file and the batch size, which the package's first apply
start pins (``package.apply_batch``, from ``OMSX_APPLY_BATCH``): the progress counts
batches, and a changed setting does not move the boundaries of a half-applied package.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeGuard

from sqlmodel import Session

from contracts.filecheck import FileCheck
from contracts.filenames import Party, strip_extension
from contracts.protocol import Problem
from contracts.reader import RecordReader, declared_encoding
from contracts.records import Record, to_record
from omsx.settings import Settings
from storage.blobs import BlobStore
from storage.db import in_one_transaction, session_scope
from storage.models import Package
from storage.registry import advance, batches_done, record_problems

Batch = list[tuple[int, Any, Record]]  # (position, element, typed record)
Records = RecordReader | FileCheck
"""A file's records for an applier: read again from the stored ZIP, or — validate's
inline apply of a small package — FLK's own parse, kept in memory (``FileCheck.kept``):
the same positions, elements and typed records, and the same ``header``,
``head_elements`` and ``root_tag``."""


@dataclass
class Forward:
    """The register for the paying СМО, stored in the blob store."""

    sha256: str
    size: int
    party: Party
    file_name: str
    records: int


@dataclass
class Applied:
    """What an applier adds to the package's answer."""

    problems: list[Problem] = field(default_factory=list)  # stateful-rule lines
    refused: int = 0  # records refused by stateful rules (FLK's are counted already)
    forward: Forward | None = None

    def read_back(self, session: Session, package_id: int) -> Applied:
        """The lines and the refused count from the stored rows: a run resumed after a
        crash skipped the batches committed before it, and their rows count too."""
        self.problems, self.refused = record_problems(session, package_id)
        return self


@dataclass(frozen=True)
class Members:
    main: str
    personal: str | None


def members_of(zf: zipfile.ZipFile, base: str) -> Members:
    """The main file (named as the package) and the other one (the L-file), if any."""
    names = [i.filename for i in zf.infolist() if not i.is_dir()]
    main = next((n for n in names if strip_extension(n).upper() == base.upper()), names[0])
    others = [n for n in names if n != main]
    return Members(main, others[0] if others else None)


@contextmanager
def opened(path: Path) -> Iterator[zipfile.ZipFile]:
    with path.open("rb") as fh, zipfile.ZipFile(fh) as zf:
        yield zf


def encoding_of(zf: zipfile.ZipFile, member: str) -> str:
    with zf.open(member) as fh:
        return declared_encoding(fh.read(256))


class Progress:
    """Batches of one package: which are committed already, and advancing the count."""

    def __init__(self, package: Package, done: int) -> None:
        assert package.id is not None
        self.package_id = package.id
        self.done = done
        self.index = 0  # the batch being handled

    @classmethod
    def of(cls, package: Package, parsed: FileCheck | None) -> Progress:
        """The package's progress as stored; none when ``parsed`` records are handed over:
        they come only with validate's inline apply, whose start committed with the
        package's move to ``checked`` — no apply ran before it to leave any."""
        if handed_over(parsed):
            return cls(package, 0)
        assert package.id is not None
        with session_scope() as session:
            return cls(package, batches_done(session, package.id))

    @property
    def committed(self) -> bool:
        """True when the current batch was committed by an earlier run."""
        return self.index < self.done

    def commit(self, session: Session) -> None:
        """Count the current batch as committed (call inside its transaction); inside
        :func:`storage.db.one_transaction` nothing is counted: every batch commits with
        the package's conclusion, so no run can find some of them committed."""
        if not in_one_transaction():
            advance(session, self.package_id, self.index + 1)

    def next(self) -> None:
        self.index += 1


def batch_size(package: Package, settings: Settings) -> int:
    """Records per batch of the package's apply: the size pinned at its first apply
    start (``package.apply_batch``), so that a run resumed after a crash cuts the
    batches where the committed ones ended even if ``OMSX_APPLY_BATCH`` changed since."""
    return package.apply_batch or settings.apply_batch


def one_batch(package: Package, settings: Settings) -> bool:
    """Whether the package is applied in one transaction (:func:`workers.apply.apply`):
    it is one batch anyway, so a crash has no committed batches to resume from, and one
    commit replaces the dozen of the applier's steps."""
    return (package.records or 0) <= batch_size(package, settings)


def batches(reader: Records, size: int) -> Iterator[Batch]:
    """The reader's records, typed, ``size`` at a time (the elements are kept too)."""
    if isinstance(reader, FileCheck):
        kept = reader.kept or []
        for start in range(0, len(kept), size):
            yield kept[start : start + size]
        return
    batch: Batch = []
    for position, elem in reader:
        batch.append((position, elem, to_record(elem)))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def each_batch(
    package: Package,
    settings: Settings,
    tag: str,
    handle: Callable[[Session, Batch, dict[str, Record]], None],
    parsed: FileCheck | None = None,
) -> None:
    """Every batch of ``tag`` records of the package's main file that no earlier run
    committed: ``handle(session, batch, header)`` runs in the batch's transaction,
    which also counts the batch as committed. ``parsed``: FLK's check of that file,
    whose kept records are used instead of reading it again."""
    progress = Progress.of(package, parsed)
    with main_records(package, settings, tag, parsed) as reader:
        for batch in batches(reader, batch_size(package, settings)):
            if not progress.committed:
                with session_scope() as session:
                    handle(session, batch, reader.header)
                    progress.commit(session)
            progress.next()


def read(zf: zipfile.ZipFile, member: str, tags: set[str]) -> tuple[IO[bytes], RecordReader]:
    stream = zf.open(member)
    return stream, RecordReader(stream, frozenset(tags))


def handed_over(parsed: FileCheck | None) -> TypeGuard[FileCheck]:
    """Whether FLK kept the file's records for this apply (validate's inline apply)."""
    return parsed is not None and parsed.kept is not None


@contextmanager
def records(
    zf: zipfile.ZipFile, member: str, tag: str, parsed: FileCheck | None
) -> Iterator[Records]:
    """The ``tag`` records of ``member``: ``parsed``'s, when FLK kept them, else read."""
    if handed_over(parsed):
        yield parsed
        return
    stream, reader = read(zf, member, {tag})
    with stream:
        yield reader


@contextmanager
def main_records(
    package: Package, settings: Settings, tag: str, parsed: FileCheck | None
) -> Iterator[Records]:
    """The ``tag`` records of the package's main file: ``parsed``'s, when FLK kept them
    (the stored ZIP is not even opened), else read from it."""
    if handed_over(parsed):
        yield parsed
        return
    with opened(BlobStore(settings.blobs).path(package.sha256)) as zf:
        members = members_of(zf, strip_extension(package.file_name))
        with records(zf, members.main, tag, None) as reader:
            yield reader
