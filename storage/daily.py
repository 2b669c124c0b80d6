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
from typing import Any

from sqlalchemy import Index, UniqueConstraint, func
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col, select

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


def daily_status(session: Session, days: int = 7) -> dict[str, Any]:
    """The latest report and the failed conservation checks of the last ``days`` reports
    (the admin overview and ``omsx status`` show them)."""
    runs = session.exec(select(DailyRun).order_by(col(DailyRun.day).desc()).limit(days)).all()
    latest = runs[0] if runs else None
    recent = [run.day for run in runs]
    failed = session.exec(
        select(DailyBalance)
        .where(col(DailyBalance.day).in_(recent), col(DailyBalance.unaccounted) > 0)
        .order_by(col(DailyBalance.day).desc(), col(DailyBalance.role), col(DailyBalance.code))
    ).all()
    return {
        "latest": None
        if latest is None
        else {
            "day": latest.day.isoformat(),
            "built_at": latest.built_at.isoformat(timespec="seconds"),
            "events": latest.events,
            "accompany": latest.accompany,
            "unbalanced": latest.unbalanced,
        },
        "unbalanced": [
            {
                "day": b.day.isoformat(),
                "role": b.role,
                "code": b.code,
                "received": b.received,
                "unaccounted": b.unaccounted,
            }
            for b in failed
        ],
    }


def daily_report(
    session: Session, day: date, scope: str = REGION, code: str = ""
) -> dict[str, Any] | None:
    """A stored report as data: its run, the figures of one scope (the region, an МО
    or an СМО), the balance and how many persons each СМО is to accompany, by reason."""
    run = session.get(DailyRun, day)
    if run is None:
        return None
    figures = session.exec(
        select(DailyFigure)
        .where(DailyFigure.day == day, DailyFigure.scope == scope, DailyFigure.code == code)
        .order_by(col(DailyFigure.category), col(DailyFigure.indicator), col(DailyFigure.key))
    ).all()
    accompany = session.execute(
        sa_select(col(DailyAccompany.smo), col(DailyAccompany.reason), func.count())
        .where(col(DailyAccompany.day) == day)
        .group_by(col(DailyAccompany.smo), col(DailyAccompany.reason))
        .order_by(col(DailyAccompany.smo), col(DailyAccompany.reason))
    ).all()
    balance = session.exec(
        select(DailyBalance)
        .where(DailyBalance.day == day)
        .order_by(col(DailyBalance.role), col(DailyBalance.code))
    ).all()
    return {
        "day": day.isoformat(),
        "built_at": run.built_at.isoformat(timespec="seconds"),
        "events": run.events,
        "accompany": run.accompany,
        "scope": scope,
        "code": code,
        "accompany_by_reason": [
            {"smo": smo, "reason": reason, "persons": n} for smo, reason, n in accompany
        ],
        "figures": [
            {"category": f.category, "indicator": f.indicator, "key": f.key, "value": f.value}
            for f in figures
        ],
        "balance": [
            {
                "role": b.role,
                "code": b.code,
                "received": b.received,
                "accepted": b.accepted,
                "rejected": b.rejected,
                "duplicate": b.duplicate,
                "in_flight": b.in_flight,
                "unaccounted": b.unaccounted,
            }
            for b in balance
        ],
    }


def daily_series(
    session: Session,
    indicators: list[str],
    first: date,
    last: date,
    *,
    scope: str = REGION,
    code: str = "",
) -> dict[str, dict[date, float]]:
    """Each indicator's value per day from ``first`` to ``last`` for one scope, summed
    over its keys (meant for counts: a median or a share is not additive over keys).
    A day with a report but no row for an indicator had zero of it."""
    rows = session.execute(
        sa_select(col(DailyFigure.indicator), col(DailyFigure.day), func.sum(DailyFigure.value))
        .where(
            col(DailyFigure.scope) == scope,
            col(DailyFigure.code) == code,
            col(DailyFigure.day) >= first,
            col(DailyFigure.day) <= last,
            col(DailyFigure.indicator).in_(indicators),
        )
        .group_by(col(DailyFigure.indicator), col(DailyFigure.day))
    ).all()
    out: dict[str, dict[date, float]] = {name: {} for name in indicators}
    for indicator, day, value in rows:
        out[indicator][day] = float(value)
    return out


def daily_runs(session: Session, first: date, last: date) -> list[DailyRun]:
    """The reports built for the days from ``first`` to ``last``, oldest first."""
    return list(
        session.exec(
            select(DailyRun)
            .where(col(DailyRun.day) >= first, col(DailyRun.day) <= last)
            .order_by(col(DailyRun.day))
        ).all()
    )
