"""The daily consolidation's stored report (design.md "Daily consolidation").

A report is for one day ``D`` and is rebuilt whole by every run (the rows of ``D`` are
replaced in one transaction, so a re-run gives the same report):

- ``dailyfigure`` — one value per scope (``region`` / ``mo`` / ``smo`` and its code),
  category (1–7), indicator and key (docs/daily.md lists them);
- ``dailyaccompany`` — the СМО's insured who need accompaniment as of ``D``: the reason,
  when the pathway started and when the step was due;
- ``dailybalance`` — the conservation check per participant: every message received on
  ``D`` is accepted, rejected, a duplicate or still in flight, each answered with a
  protocol; a received message that is none of these is ``unaccounted``;
- ``dailyrun`` — when the report was built and its totals.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models import _ts, utcnow

REGION, MO, SMO = "region", "mo", "smo"


class DailyFigure(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint(
            "day", "scope", "code", "category", "indicator", "key", name="uq_dailyfigure"
        ),
        Index("ix_dailyfigure_scope", "scope", "code", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date
    scope: str = Field(max_length=8)  # region | mo | smo
    code: str = Field(max_length=8)
    category: int
    indicator: str = Field(max_length=40)
    key: str = Field(default="", max_length=24)  # e.g. the exam's type:result, a profile
    value: float


class DailyAccompany(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("day", "smo", "reason", "ref", "enp", name="uq_dailyaccompany"),
        Index("ix_dailyaccompany_smo", "smo", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date
    smo: str = Field(max_length=5)
    enp: str = Field(max_length=16)
    reason: str = Field(max_length=32)
    since: date  # the pathway's start (the suspicion, the referral, the registration)
    due: date  # when the missing step was due
    mo: str | None = Field(default=None, max_length=6)
    ref: str = Field(default="", max_length=36)


class DailyBalance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("day", "role", "code", name="uq_dailybalance"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    role: str = Field(max_length=8)
    code: str = Field(max_length=8)
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicate: int = 0
    in_flight: int = 0
    unaccounted: int = 0  # received but none of the above: the check failed

    @property
    def balanced(self) -> bool:
        return self.unaccounted == 0


class DailyRun(SQLModel, table=True):
    day: date = Field(primary_key=True)
    built_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    events: int = 0  # events of the day
    figures: int = 0
    accompany: int = 0
    unbalanced: int = 0  # participants whose balance failed
    extracts: int = 0  # СМО extracts queued
    duration_ms: int = 0


__all__ = ["MO", "REGION", "SMO", "DailyAccompany", "DailyBalance", "DailyFigure", "DailyRun"]
