"""Package life-cycle writes: receipts, guarded state transitions, timeline, outbox.

Every transition is an ``UPDATE … WHERE state IN (…)`` guard plus a timeline row in
the same transaction, so an actor that runs twice for a package finds the guard
closed the second time and changes nothing (design.md ◆ idempotent actors).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import (
    STAGE_DONE,
    NameClaim,
    Outbox,
    Package,
    PackageEvent,
    Receipt,
    State,
    utcnow,
)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class ReceiptOutcome:
    package: Package
    created: bool  # the package is new
    duplicate: bool  # a new message carrying bytes already received
    redelivery: bool  # the same stream message seen again


def record_receipt(
    session: Session,
    *,
    sha256: str,
    stream_seq: int,
    subject: str,
    file_name: str,
    size: int,
    sender_role: str,
    sender_code: str,
    kind: str,
) -> ReceiptOutcome:
    """Store the ``Package`` (unique by SHA-256) and its ``Receipt`` (unique by stream seq)."""
    known = session.exec(select(Receipt).where(Receipt.stream_seq == stream_seq)).first()
    if known is not None:
        package = session.get(Package, known.package_id)
        assert package is not None
        return ReceiptOutcome(package, created=False, duplicate=False, redelivery=True)
    package = _package_by_sha(session, sha256)
    created = package is None
    if package is None:
        package = Package(
            sha256=sha256,
            file_name=file_name,
            subject=subject,
            size=size,
            sender_role=sender_role,
            sender_code=sender_code,
            kind=kind,
        )
        try:
            with session.begin_nested():
                session.add(package)
                session.flush()
        except IntegrityError:  # a concurrent ingest stored the same bytes first
            package = _package_by_sha(session, sha256)
            assert package is not None
            created = False
        else:
            add_event(session, package.id, "ingest", "received", detail=f"seq={stream_seq}")
    assert package.id is not None  # flushed above
    session.add(Receipt(stream_seq=stream_seq, package_id=package.id, duplicate=not created))
    return ReceiptOutcome(package, created=created, duplicate=not created, redelivery=False)


def _package_by_sha(session: Session, sha256: str) -> Package | None:
    return session.exec(select(Package).where(Package.sha256 == sha256)).first()


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
) -> None:
    assert package_id is not None
    session.add(
        PackageEvent(
            package_id=package_id,
            stage=stage,
            outcome=outcome,
            worker=WORKER_ID,
            attempt=attempt,
            duration_ms=duration_ms,
            detail=detail[:500],
        )
    )


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
    stmt = (
        update(Package)
        .where(col(Package.id) == package_id)
        .where(col(Package.state).in_([s.value for s in source]))
        .values(state=target.value, updated_at=utcnow(), **values)
    )
    moved = session.exec(stmt).rowcount == 1
    if moved:
        add_event(
            session,
            package_id,
            stage,
            outcome or target.value,
            attempt=attempt,
            duration_ms=duration_ms,
            detail=detail,
        )
    return moved


def claim_name(session: Session, package: Package, base_name: str) -> int | None:
    """Claim an accepted file name; returns the id of the earlier package holding it, if any."""
    key = base_name.upper()
    assert package.id is not None
    try:
        with session.begin_nested():
            session.add(
                NameClaim(sender_code=package.sender_code, base_name=key, package_id=package.id)
            )
            session.flush()
    except IntegrityError:
        return session.exec(
            select(NameClaim.package_id).where(
                NameClaim.sender_code == package.sender_code, NameClaim.base_name == key
            )
        ).first()
    return None


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
    exists = session.exec(select(Outbox.id).where(Outbox.msg_id == msg_id)).first()
    if exists:
        return False
    try:
        with session.begin_nested():
            session.add(
                Outbox(
                    package_id=package_id,
                    subject=subject,
                    msg_id=msg_id,
                    file_name=file_name,
                    body=body,
                    kind=kind,
                    receipt_seq=receipt_seq,
                    headers=headers,
                    blob_sha=blob_sha,
                )
            )
            session.flush()
    except IntegrityError:
        return False
    return True


def pending_outbox(
    session: Session, package_id: int | None = None, limit: int = 100
) -> list[Outbox]:
    stmt = select(Outbox).where(col(Outbox.published_at).is_(None))
    if package_id is not None:
        stmt = stmt.where(Outbox.package_id == package_id)
    return list(session.exec(stmt.order_by(col(Outbox.id)).limit(limit)).all())


def mark_published(session: Session, outbox_id: int, at: datetime | None = None) -> None:
    session.exec(
        update(Outbox).where(col(Outbox.id) == outbox_id).values(published_at=at or utcnow())
    )


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.exec(select(Package.state, func.count()).group_by(col(Package.state))).all()
    return {state: int(n) for state, n in rows}
