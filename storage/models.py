"""SQLModel tables of the exchange pipeline.

``Package`` is one distinct package (by SHA-256); ``Receipt`` is one inbound NATS
message (by OMS_IN stream sequence), so a redelivery is never a second receipt and a
re-publish of the same bytes is a duplicate receipt of the same package.
``PackageEvent`` is the timeline; ``Outbox`` holds every message the hub must publish
(protocols, forwards, extracts) until NATS has acknowledged it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import Field, SQLModel

_Model = TypeVar("_Model", bound=SQLModel)


def utcnow() -> datetime:
    return datetime.now(UTC)


def columns(model: Any, names: str) -> list[Any]:
    """The columns of ``model`` named in ``names`` (space-separated), for a select of
    just those (wider than sqlmodel's typed select allows)."""
    return [getattr(model, name) for name in names.split()]


def detached(model: type[_Model], row: Mapping[Any, Any]) -> _Model:
    """An instance of ``model`` from a row a Core statement read (all its columns), as
    the ORM's loader builds one — its values set, not assigned one by one through
    SQLModel's and SQLAlchemy's attribute events, which cost ~30 times as much — and
    attached to no session: to read, not to change and save."""
    manager = manager_of_class(model)
    if not manager.mapper.configured:  # its attributes work once the mappers are
        configure_mappers()
    instance: _Model = manager.new_instance()
    instance.__dict__.update(row)
    return instance


def day_span(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The instants a calendar day of ``zone`` spans, in UTC (as stored): [its midnight,
    the next midnight) — 23 or 25 hours on a day the clocks move."""
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _ts(**kw: object) -> Column[datetime]:
    return Column(DateTime(timezone=True), **kw)  # type: ignore[arg-type]


class State(StrEnum):
    """Life of a package (design.md "A package's life")."""

    RECEIVED = "received"
    VALIDATING = "validating"
    CHECKED = "checked"
    APPLYING = "applying"
    APPLIED = "applied"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    QUARANTINED = "quarantined"


FINAL_STATES = frozenset({State.APPLIED, State.REJECTED, State.DUPLICATE, State.QUARANTINED})
#: a stage works on the package, or is due to (the sweeper re-drives these when stale)
WORKING_STATES = (State.RECEIVED, State.VALIDATING, State.CHECKED, State.APPLYING)
#: a move to these ends a stage's work on the package (storage.packages.transition)
STAGE_DONE = frozenset(
    {State.CHECKED, State.APPLIED, State.REJECTED, State.DUPLICATE, State.FAILED}
)


class Participant(SQLModel, table=True):
    """Reference data: who may exchange (exchange.md §1)."""

    role: str = Field(primary_key=True, max_length=8)
    code: str = Field(primary_key=True, max_length=8)
    name: str = Field(default="", max_length=500)
    active: bool = True
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )


class Package(SQLModel, table=True):
    __table_args__ = (
        Index("ix_package_sender_received", "sender_code", "received_at"),
        Index("ix_package_state_updated", "state", "updated_at"),
        # the admin's search: one filter, newest first (ORDER BY id DESC LIMIT n)
        Index("ix_package_state_id", "state", "id"),
        Index("ix_package_sender_id", "sender_code", "id"),
        Index("ix_package_kind_state_result", "kind", "state", "result"),  # /metrics
    )

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    file_name: str = Field(default="", max_length=255, index=True)
    subject: str = Field(max_length=255)
    sender_role: str = Field(default="", max_length=8)
    sender_code: str = Field(default="", max_length=8)
    kind: str = Field(default="", max_length=16, index=True)
    file_type: str | None = Field(default=None, max_length=8)
    period: str | None = Field(default=None, max_length=8)
    size: int = 0
    state: str = Field(default=State.RECEIVED, max_length=16)
    result: str | None = Field(default=None, max_length=1)
    records: int | None = None  # records in the main file, counted at validation
    # the records per batch its apply commits, pinned at its first apply start
    # (workers.batches.batch_size): a changed OMSX_APPLY_BATCH leaves it alone
    apply_batch: int | None = None
    n_acc: int | None = None
    n_rej: int | None = None
    attempts: int = 0  # deliveries in a row that died (workers.middleware.CrashGuard)
    # the delivery working on it (its Dramatiq message id) and its last beat
    # (workers.heartbeat); NULL when none is
    held_by: str | None = Field(default=None, max_length=40)
    beat_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    error_class: str | None = Field(default=None, max_length=32)
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )


class Receipt(SQLModel, table=True):
    """One inbound message on OMS_IN; a repeat of known bytes is ``duplicate``."""

    id: int | None = Field(default=None, primary_key=True)
    stream_seq: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    package_id: int = Field(foreign_key="package.id", index=True)
    duplicate: bool = False
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )


class PackageEvent(SQLModel, table=True):
    """One transition in a package's timeline."""

    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="package.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow))
    stage: str = Field(max_length=32)
    outcome: str = Field(max_length=32)
    worker: str = Field(default="", max_length=64)
    attempt: int = 0
    duration_ms: int | None = None
    detail: str = Field(default="", max_length=500)


class NameClaim(SQLModel, table=True):
    """An accepted file name: a second package under the same name is a 805 duplicate."""

    __table_args__ = (UniqueConstraint("sender_code", "base_name", name="uq_name_claim"),)

    id: int | None = Field(default=None, primary_key=True)
    sender_code: str = Field(max_length=8)
    base_name: str = Field(max_length=255)
    package_id: int = Field(foreign_key="package.id")


class Outbox(SQLModel, table=True):
    """A message the hub owes a participant; published until NATS acknowledges it."""

    __table_args__ = (
        Index("ix_outbox_pending", "published_at", "id"),
        Index("ix_outbox_receipt", "receipt_seq"),  # the daily conservation check
    )

    id: int | None = Field(default=None, primary_key=True)
    package_id: int | None = Field(default=None, foreign_key="package.id", index=True)
    subject: str = Field(max_length=255)
    msg_id: str = Field(max_length=160, unique=True)
    file_name: str = Field(max_length=255)
    kind: str = Field(default="protocol", max_length=16)
    receipt_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    headers: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON object
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    blob_sha: str | None = Field(default=None, max_length=64)  # body kept in the blob store
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )
    published_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class FlkOutcome(SQLModel, table=True):
    """What FLK decided for a package that goes on to ``apply``: its protocol so far and
    which records (1-based positions in the main file) are refused."""

    package_id: int = Field(foreign_key="package.id", primary_key=True)
    protocol: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    refused: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list
    format_version: str = Field(default="", max_length=16)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )


class RefEntry(SQLModel, table=True):
    """A row of a reference directory loaded with ``omsx refs load`` (overrides the seed)."""

    __table_args__ = (Index("ix_refentry_dir_code", "directory", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    directory: str = Field(max_length=16)
    code: str = Field(max_length=64)
    name: str = Field(default="", max_length=1000)
    begin: date | None = None
    end: date | None = None
    loaded_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False, default=utcnow)
    )
