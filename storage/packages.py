"""Package life-cycle writes: receipts, guarded state transitions, timeline, outbox.

Every transition is an ``UPDATE … WHERE state IN (…)`` guard plus a timeline row in
the same transaction, so an actor that runs twice for a package finds the guard
closed the second time and changes nothing (design.md ◆ idempotent actors).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlmodel import Session, col, select

from storage.bulk import insert_row, insert_rows, table_of
from storage.models import (
    STAGE_DONE,
    NameClaim,
    Outbox,
    Package,
    PackageEvent,
    Receipt,
    State,
    detached,
    utcnow,
)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"

# The hot path's statements, built once and on the tables (not the ORM classes): no
# per-call construction, no ORM bulk-update bookkeeping. The caller's session still
# flushes its pending objects first, so the order of writes is kept.
_PACKAGE = table_of(Package)
_ADD_EVENT = insert(table_of(PackageEvent))
_TRANSITION = (
    update(_PACKAGE)
    .where(_PACKAGE.c.id == bindparam("guard_id"))
    .where(_PACKAGE.c.state.in_(bindparam("guard_states", expanding=True)))
)
_BY_ID = _PACKAGE.select().where(_PACKAGE.c.id == bindparam("package_id"))
_NEW_PACKAGE = dict.fromkeys(_PACKAGE.c.keys())  # a new package's row: the columns not set
_ENTER = _TRANSITION.returning(*_PACKAGE.c)
_ENTER_PINNING = _TRANSITION.values(
    apply_batch=func.coalesce(_PACKAGE.c.apply_batch, bindparam("pin_batch"))
).returning(*_PACKAGE.c)
_RECEIPT = table_of(Receipt)
_RECEIVED_SEQS = select(_RECEIPT.c.stream_seq, _RECEIPT.c.package_id).where(
    _RECEIPT.c.stream_seq.in_(bindparam("seqs", expanding=True))
)
_PACKAGES_OF = _PACKAGE.select().where(
    _PACKAGE.c.sha256.in_(bindparam("shas", expanding=True))
    | _PACKAGE.c.id.in_(bindparam("ids", expanding=True))
)
_FIRST_RECEIPT_SEQ = select(func.min(_RECEIPT.c.stream_seq)).where(
    _RECEIPT.c.package_id == bindparam("receipt_package_id")
)
_OUTBOX = table_of(Outbox)
_MARK_PUBLISHED = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("outbox_id"))
_PENDING = (
    _OUTBOX.select()
    .where(_OUTBOX.c.published_at.is_(None))
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("pending_limit"))
)
_PENDING_OF = _PENDING.where(_OUTBOX.c.package_id == bindparam("pending_of"))


class _Releases(threading.local):
    """Packages whose delivery hold this thread's transitions released (the crash guard
    then has nothing to release: :class:`workers.middleware.CrashGuard`)."""

    def __init__(self) -> None:
        self.ids: set[int] = set()


RELEASES = _Releases()


@dataclass(frozen=True)
class ReceiptOutcome:
    package: Package
    created: bool  # the package is new
    duplicate: bool  # a new message carrying bytes already received
    redelivery: bool  # the same stream message seen again


@dataclass(frozen=True)
class Arriving:
    """A message on OMS_IN as its receipt records it."""

    sha256: str
    stream_seq: int
    subject: str
    file_name: str
    size: int
    sender_role: str
    sender_code: str
    kind: str


def record_receipt(session: Session, **arriving: Any) -> ReceiptOutcome:
    """Store one message's ``Package`` and ``Receipt`` (:func:`record_receipts`)."""
    return record_receipts(session, [Arriving(**arriving)])[0]


def record_receipts(session: Session, arrivals: Sequence[Arriving]) -> list[ReceiptOutcome]:
    """Store each message's ``Package`` (unique by SHA-256) and ``Receipt`` (unique by
    stream seq), in order: a message already received (its seq known) is a redelivery,
    one whose bytes are known — also from earlier in ``arrivals`` — is a duplicate.

    Two reads for all of them, an insert per new package (``ON CONFLICT DO NOTHING``:
    a concurrent ingest that stored the same bytes first makes it a duplicate, without
    a savepoint), and the timeline rows and receipts in one executemany each: ingest
    stores a pull in one transaction, and on SQLite that holds the write lock."""
    if not arrivals:
        return []
    seqs = [a.stream_seq for a in arrivals]
    known: dict[int, int] = {
        seq: package_id for seq, package_id in session.execute(_RECEIVED_SEQS, {"seqs": seqs})
    }
    shas = [a.sha256 for a in arrivals if a.stream_seq not in known]
    by_sha: dict[str, Package] = {}
    by_id: dict[int, Package] = {}
    for row in session.execute(_PACKAGES_OF, {"shas": shas, "ids": list(known.values())}):
        package = detached(Package, row._mapping)
        by_sha[package.sha256] = by_id[row.id] = package
    outcomes: list[ReceiptOutcome] = []
    events: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    for arriving in arrivals:
        seq = arriving.stream_seq
        if seq in known:
            outcomes.append(ReceiptOutcome(by_id[known[seq]], created=False, duplicate=False,
                                           redelivery=True))  # fmt: skip
            continue
        found = by_sha.get(arriving.sha256)
        created = found is None
        if found is not None:
            package = found
        else:
            package = _insert_package(session, arriving)
            created = package.id is not None
            if not created:  # a concurrent ingest stored the same bytes first
                stored = _package_by_sha(session, arriving.sha256)
                assert stored is not None
                package = stored
            by_sha[package.sha256] = package
        assert package.id is not None
        if created:
            events.append(timeline_row(package.id, "ingest", "received", detail=f"seq={seq}"))
        receipts.append({"stream_seq": seq, "package_id": package.id, "duplicate": not created,
                         "received_at": utcnow()})  # fmt: skip
        known[seq] = package.id  # the same message twice in one pull: a redelivery
        by_id[package.id] = package
        outcomes.append(ReceiptOutcome(package, created=created, duplicate=not created,
                                       redelivery=False))  # fmt: skip
    insert_rows(session, PackageEvent, events)
    insert_rows(session, Receipt, receipts)
    return outcomes


def _insert_package(session: Session, arriving: Arriving) -> Package:
    """The new package, with its id — or without one if its bytes are there already."""
    now = utcnow()
    row: dict[str, Any] = {
        "sha256": arriving.sha256,
        "file_name": arriving.file_name,
        "subject": arriving.subject,
        "size": arriving.size,
        "sender_role": arriving.sender_role,
        "sender_code": arriving.sender_code,
        "kind": arriving.kind,
        "state": State.RECEIVED.value,
        "attempts": 0,
        "received_at": now,
        "updated_at": now,
    }
    return detached(Package, {**_NEW_PACKAGE, **row,
                              "id": insert_row(session, Package, row, returning="id")})  # fmt: skip


def _package_by_sha(session: Session, sha256: str) -> Package | None:
    return session.exec(select(Package).where(Package.sha256 == sha256)).first()


def first_receipt_seq(session: Session, package_id: int) -> int | None:
    """The stream sequence of the package's first receipt (what its protocol names)."""
    seq = session.execute(
        _FIRST_RECEIPT_SEQ, {"receipt_package_id": package_id}
    ).scalar_one_or_none()
    return int(seq) if seq is not None else None


def first_receipt(session: Session, package_id: int) -> Receipt | None:
    return session.exec(
        select(Receipt).where(Receipt.package_id == package_id).order_by(col(Receipt.stream_seq))
    ).first()


def add_event(
    session: Session,
    package_id: int | None,
    stage: str,
    outcome: str,
    *,
    attempt: int = 0,
    duration_ms: int | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> None:
    """A timeline line, at ``at`` (default: now)."""
    assert package_id is not None
    row = timeline_row(package_id, stage, outcome, attempt=attempt, duration_ms=duration_ms,
                    detail=detail, at=at)  # fmt: skip
    session.execute(_ADD_EVENT, row)


def timeline_row(
    package_id: int,
    stage: str,
    outcome: str,
    *,
    attempt: int = 0,
    duration_ms: int | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> dict[str, Any]:
    """A timeline line as a row, at ``at`` (default: now)."""
    return {
        "package_id": package_id,
        "at": at or utcnow(),
        "stage": stage,
        "outcome": outcome,
        "worker": WORKER_ID,
        "attempt": attempt,
        "duration_ms": duration_ms,
        "detail": detail[:500],
    }


def transition(
    session: Session,
    package_id: int,
    *,
    source: Iterable[State],
    target: State,
    stage: str,
    outcome: str | None = None,
    attempt: int = 0,
    duration_ms: int | None = None,
    detail: str = "",
    release: bool = True,
    **values: object,
) -> bool:
    """Move the package to ``target`` if it is in one of ``source``.

    Returns False when the guard is closed (another run moved it first). A move out of
    a stage (to ``checked`` or a final state) also releases the delivery's hold on the
    package (:class:`workers.middleware.CrashGuard`): the stage's work is done, and the
    next stage, which this delivery may enqueue before it returns, takes the package —
    unless ``release`` is False: the delivery goes on with the next stage itself.
    """
    if target in STAGE_DONE and release:
        values = {"attempts": 0, "held_by": None, "beat_at": None, **values}
    result = _move(session, _TRANSITION, package_id, source=source, target=target, values=values)
    moved: bool = result.rowcount == 1
    if moved:
        if "held_by" in values and values["held_by"] is None:
            RELEASES.ids.add(package_id)
        add_event(session, package_id, stage, outcome or target.value, attempt=attempt,
                  duration_ms=duration_ms, detail=detail)  # fmt: skip
    return moved


def enter(
    session: Session,
    package_id: int,
    *,
    source: Iterable[State],
    target: State,
    stage: str,
    attempt: int = 0,
    pin_batch: int | None = None,
) -> Package | None:
    """A stage's start: :func:`transition` into a working state, with the package as the
    move left it (read by the same statement), or None when the guard is closed.
    ``pin_batch``: the package's ``apply_batch``, unless an earlier start pinned one."""
    assert target not in STAGE_DONE
    if pin_batch is None:
        moved = _move(session, _ENTER, package_id, source=source, target=target, values={})
    else:
        moved = _move(session, _ENTER_PINNING, package_id, source=source, target=target,
                      values={"pin_batch": pin_batch})  # fmt: skip
    row = moved.one_or_none()
    if row is None:
        return None
    add_event(session, package_id, stage, "started", attempt=attempt)
    return detached(Package, row._mapping)


def read_package(session: Session, package_id: int) -> Package | None:
    """The package as stored (:func:`storage.models.detached`), or None."""
    row = session.execute(_BY_ID, {"package_id": package_id}).one_or_none()
    return None if row is None else detached(Package, row._mapping)


def _move(
    session: Session,
    statement: Any,
    package_id: int,
    *,
    source: Iterable[State],
    target: State,
    values: dict[str, object],
) -> Any:
    guard = {"guard_id": package_id, "guard_states": [s.value for s in source]}
    changes = {"state": target.value, "updated_at": utcnow(), **values}
    return session.execute(statement, {**guard, **changes})


def claim_name(session: Session, package: Package, base_name: str) -> int | None:
    """Claim an accepted file name; returns the id of the earlier package holding it, if any."""
    key = base_name.upper()
    assert package.id is not None
    claim = {"sender_code": package.sender_code, "base_name": key, "package_id": package.id}
    if insert_row(session, NameClaim, claim):
        return None
    return session.exec(
        select(NameClaim.package_id).where(
            NameClaim.sender_code == package.sender_code, NameClaim.base_name == key
        )
    ).first()


def add_outbox(
    session: Session,
    *,
    package_id: int | None,
    subject: str,
    msg_id: str,
    file_name: str,
    body: bytes,
    kind: str = "protocol",
    receipt_seq: int | None = None,
    headers: str = "{}",
    blob_sha: str | None = None,
) -> bool:
    """Queue a message for publishing; False when ``msg_id`` is already queued (idempotent).

    A large body stays in the blob store (``blob_sha``) and ``body`` is empty."""
    row = {
        "package_id": package_id,
        "subject": subject,
        "msg_id": msg_id,
        "file_name": file_name,
        "body": body,
        "kind": kind,
        "receipt_seq": receipt_seq,
        "headers": headers,
        "blob_sha": blob_sha,
    }
    return insert_row(session, Outbox, row)


def pending_outbox(
    session: Session, package_id: int | None = None, limit: int = 100
) -> list[Outbox]:
    """Unpublished rows, oldest first: the package's, or any."""
    if package_id is None:
        rows = session.execute(_PENDING, {"pending_limit": limit})
    else:
        rows = session.execute(_PENDING_OF, {"pending_of": package_id, "pending_limit": limit})
    return [detached(Outbox, row._mapping) for row in rows]


def mark_published(session: Session, outbox_id: int, at: datetime | None = None) -> None:
    session.execute(_MARK_PUBLISHED, {"outbox_id": outbox_id, "published_at": at or utcnow()})


def mark_all_published(session: Session, marks: Sequence[tuple[int, datetime]]) -> None:
    """Mark many rows published, each at its time (one executemany)."""
    if marks:
        session.execute(_MARK_PUBLISHED, [{"outbox_id": i, "published_at": at} for i, at in marks])


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.exec(select(Package.state, func.count()).group_by(col(Package.state))).all()
    return {state: int(n) for state, n in rows}
