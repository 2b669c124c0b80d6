"""Dead letters in SQL (design.md ◆ "Dead letters never expire silently"; issue "faults").

Dramatiq keeps a dead-lettered message in Redis for 7 days only. Each one is mirrored
here, with its reason class, and stays until an operator replays or purges it; a
package quarantined for crashing workers gets a row too. ``state`` moves once —
``dead`` → ``replayed`` or ``purged`` — by a guarded UPDATE, so a replay clicked twice
runs once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from storage.models import _ts, utcnow

DEAD, REPLAYED, PURGED = "dead", "replayed", "purged"

# why a message died (the reason classes)
SCHEMA = "schema"  # a contract error escaped its protocol (should not happen: a bug)
BUSINESS = "business"  # the hub's own refusal that is not transient (config, not found)
TRANSIENT = "transient"  # a server stayed down through every retry
CRASH = "crash"  # the package kept killing workers: quarantined
AGE_LIMIT = "age_limit"  # older than its actor's max_age
UNKNOWN_ACTOR = "unknown_actor"  # no actor of that name in this version
UNEXPECTED = "unexpected"  # any other exception: a bug to fix, then replay
REASONS = (SCHEMA, BUSINESS, TRANSIENT, CRASH, AGE_LIMIT, UNKNOWN_ACTOR, UNEXPECTED)


class DeadLetterRecord(SQLModel, table=True):
    __tablename__ = "deadletter"
    __table_args__ = (
        Index("ix_deadletter_state_id", "state", "id"),
        Index("ix_deadletter_package", "package_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)  # the broker's id of this delivery
    queue: str = Field(max_length=32)
    actor: str = Field(max_length=64)
    args: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    package_id: int | None = None
    reason: str = Field(max_length=16)
    error_class: str = Field(default="", max_length=64)
    error: str = Field(default="", max_length=300)  # no personal data, by policy
    retries: int = 0
    died_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    message: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    state: str = Field(default=DEAD, max_length=12)
    acted_by: str | None = Field(default=None, max_length=64)
    acted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
