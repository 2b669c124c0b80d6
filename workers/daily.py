"""The daily consolidation of the information resource (design.md "Daily consolidation",
docs/daily.md): ``omsx consolidate --date D``, the ``consolidate`` actor and the
scheduler's nightly run all call :func:`consolidate`.

For the day ``D`` it reads the events of ``D`` and the open pathways before it (no
further back than ``OMSX_DAILY_LOOKBACK_DAYS``), and writes in one transaction — replacing
whatever an earlier run wrote for ``D`` — the figures per region, МО and СМО, each
СМО's list of insured who need accompaniment, and the conservation check per
participant. Each СМО's extract (:mod:`contracts.daily`) goes into the outbox for
``oms.out.smo.<code>.daily``; an extract identical to one already sent is not sent again.

Nothing here depends on the time of the run: the same events give the same report.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlmodel import Session, col

from contracts.daily import Extract, extract_file_name, render_extract
from contracts.filenames import Party
from messages import headers as H
from messages.subjects import outbound
from omsx.logs import get_logger
from omsx.settings import Settings, get_settings
from storage.blobs import sha256_hex
from storage.bulk import insert_rows
from storage.care import CareCase
from storage.daily import (
    MO,
    REGION,
    SMO,
    DailyAccompany,
    DailyBalance,
    DailyFigure,
    DailyRun,
)
from storage.db import session_scope
from storage.events import (
    EXAMS,
    HOSPITAL,
    ONCOLOGY,
    SCHEDULES,
    TELEMEDICINE,
    BedReport,
    Event,
    HospReferral,
)
from storage.models import FINAL_STATES, Outbox, Package, Participant, Receipt, State, day_span
from storage.packages import add_outbox
from storage.registry import in_chunks
from workers.broker import pipeline_actor
from workers.replies import publish_protocols

log = get_logger("workers.daily")

# kind → (indicator, counted by detail?, unit: one per event / per person / per key)
EVENT, PERSON, KEY = "event", "person", "key"
COUNTED: dict[str, tuple[str, bool, str]] = {
    "exam.done": ("exams", True, EVENT),
    "exam.dispensary": ("dispensary_new", False, PERSON),
    "exam.referral": ("exam_referrals", True, EVENT),
    "onco.suspicion": ("onco_suspicions", False, PERSON),
    "onco.consultation": ("onco_consultations", False, PERSON),
    "onco.diagnosis": ("onco_diagnoses", False, PERSON),
    "onco.treatment": ("onco_treatments", False, PERSON),
    "hosp.referral": ("hosp_referrals", False, KEY),
    "hosp.cancelled": ("hosp_cancellations", True, KEY),
    "hosp.planned": ("hosp_planned", False, KEY),
    "hosp.emergency": ("hosp_emergency", False, KEY),
    "hosp.discharge": ("hosp_discharges", False, KEY),
    "tmk.request": ("tmk_requests", False, KEY),
    "tmk.consultation": ("tmk_consultations", False, KEY),
    "tmk.implemented": ("tmk_implemented", False, KEY),
    "appeal.received": ("appeals_received", True, KEY),
    "appeal.answered": ("appeals_answered", True, KEY),
    "mek.refused": ("mek_refused", False, EVENT),
    "expert.mee": ("mee", False, EVENT),
    "expert.ekmp": ("ekmp", False, EVENT),
}
"""How the events of the day are counted (schedules are counted as state, below)."""
WITH_SUM = frozenset({"mek.refused", "expert.mee", "expert.ekmp"})  # also ``<indicator>_kop``

ONCO_ORDER = {"onco.suspicion": 0, "onco.consultation": 1, "onco.diagnosis": 2, "onco.treatment": 3}
NO_CONSULTATION, OVERDUE, DISPENSARY_MISSED = (
    "onco.no_consultation",
    "hosp.overdue",
    "dispensary.missed",
)


@dataclass(frozen=True)
class Horizons:
    """The N values of the report (settings ``OMSX_DAILY_*_DAYS``)."""

    lookback: int = 365
    onco: int = 7
    referral: int = 30
    overdue: int = 2
    dispensary: int = 30
    tmk: int = 30

    @classmethod
    def of(cls, settings: Settings) -> Horizons:
        return cls(
            lookback=settings.daily_lookback_days,
            onco=settings.daily_onco_days,
            referral=settings.daily_referral_days,
            overdue=settings.daily_overdue_days,
            dispensary=settings.daily_dispensary_days,
            tmk=settings.daily_tmk_days,
        )


Scope = tuple[str, str]
FigureKey = tuple[str, str, int, str, str]  # scope, code, category, indicator, key


@dataclass
class Tally:
    """The figures of one day while they are built."""

    region: str
    counts: Counter[FigureKey] = field(default_factory=Counter)
    units: defaultdict[FigureKey, set[Hashable]] = field(default_factory=lambda: defaultdict(set))
    samples: defaultdict[FigureKey, list[int]] = field(default_factory=lambda: defaultdict(list))
    ratios: defaultdict[FigureKey, list[int]] = field(  # [hits, total]
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )

    def scopes(self, mo: str | None, smo: str | None) -> list[Scope]:
        out = [(REGION, self.region)]
        if mo:
            out.append((MO, mo))
        if smo:
            out.append((SMO, smo))
        return out

    def add(
        self,
        category: int,
        indicator: str,
        mo: str | None,
        smo: str | None,
        *,
        key: str = "",
        by: int = 1,
        unit: Hashable = None,
    ) -> None:
        for scope, code in self.scopes(mo, smo):
            figure = (scope, code, category, indicator, key)
            if unit is None:
                self.counts[figure] += by
            else:
                self.units[figure].add(unit)

    def sample(
        self,
        category: int,
        indicator: str,
        mo: str | None,
        smo: str | None,
        *,
        value: int,
        key: str = "",
    ) -> None:
        for scope, code in self.scopes(mo, smo):
            self.samples[(scope, code, category, indicator, key)].append(value)

    def ratio(
        self, category: int, indicator: str, mo: str | None, smo: str | None, hit: bool
    ) -> None:
        for scope, code in self.scopes(mo, smo):
            pair = self.ratios[(scope, code, category, indicator, "")]
            pair[0] += int(hit)
            pair[1] += 1

    def rows(self, day: date) -> list[dict[str, Any]]:
        values: dict[FigureKey, float] = {k: float(v) for k, v in self.counts.items() if v}
        values.update((k, float(len(v))) for k, v in self.units.items() if v)
        values.update((k, float(statistics.median(v))) for k, v in self.samples.items() if v)
        values.update((k, round(h / t, 4)) for k, (h, t) in self.ratios.items() if t)
        return [
            {
                "day": day,
                "scope": s,
                "code": c,
                "category": cat,
                "indicator": ind,
                "key": key,
                "value": value,
            }
            for (s, c, cat, ind, key), value in sorted(values.items())
        ]


@dataclass
class Report:
    """One day's report as built (before it is stored)."""

    day: date
    figures: list[dict[str, Any]]
    accompany: list[dict[str, Any]]
    balance: list[dict[str, Any]]
    events: int


@dataclass
class _Build:
    day: date
    horizons: Horizons
    tally: Tally
    accompany: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def since(self) -> date:
        return self.day - timedelta(days=self.horizons.lookback)

    def accompany_row(
        self,
        reason: str,
        *,
        smo: str | None,
        enp: str | None,
        since: date,
        due: date,
        mo: str | None,
        ref: str | None,
    ) -> None:
        if not smo or not enp:  # nobody to tell, or nobody to name
            return
        key = (smo, reason, ref or "", enp)
        self.accompany.setdefault(
            key,
            {
                "day": self.day,
                "smo": smo,
                "enp": enp,
                "reason": reason,
                "since": since,
                "due": due,
                "mo": mo,
                "ref": ref or "",
            },
        )


def build_report(
    session: Session, day: date, region: str, horizons: Horizons, zone: tzinfo
) -> Report:
    """The report of ``day`` — the region's, in its time zone ``zone`` — from what the
    database holds (nothing is written)."""
    build = _Build(day, horizons, Tally(region))
    events = _day_events(session, build)
    _oncology(session, build)
    _hospital(session, build)
    _telemedicine(session, build)
    _schedules(session, build)
    _dispensary(session, build)
    return Report(
        day=day,
        figures=build.tally.rows(day),
        accompany=sorted(
            build.accompany.values(), key=lambda r: (r["smo"], r["reason"], r["since"], r["ref"])
        ),
        balance=balance(session, day, zone),
        events=events,
    )


def _day_events(session: Session, build: _Build) -> int:
    rows = session.execute(
        select(
            col(Event.kind),
            col(Event.category),
            col(Event.enp),
            col(Event.mo),
            col(Event.smo),
            col(Event.ref),
            col(Event.detail),
            col(Event.amount_kop),
            col(Event.package_id),
            col(Event.pos),
            col(Event.n),
        ).where(col(Event.day) == build.day)
    )
    tally = build.tally
    total = 0
    for kind, category, enp, mo, smo, ref, detail, amount, package_id, pos, n in rows:
        total += 1
        counted = COUNTED.get(kind)
        if counted is None:
            continue
        indicator, keyed, unit_kind = counted
        key = (detail or "") if keyed else ""
        unit: Hashable = None
        if unit_kind == PERSON:
            unit = enp or (package_id, pos, n)
        elif unit_kind == KEY:
            unit = ref or (package_id, pos, n)
        tally.add(category, indicator, mo, smo, key=key, unit=unit)
        if kind in WITH_SUM:
            tally.add(category, f"{indicator}_kop", mo, smo, by=amount)
    return total


def _oncology(session: Session, build: _Build) -> None:
    """Each person's oncology pathway up to ``D``: the days suspicion → diagnosis and
    diagnosis → treatment for milestones reached on ``D``, and suspicions still waiting
    for a consultation (or a diagnosis) more than N days."""
    rows = session.execute(
        select(col(Event.enp), col(Event.kind), col(Event.day), col(Event.mo), col(Event.smo))
        .where(col(Event.category) == ONCOLOGY, col(Event.enp).is_not(None))
        .where(col(Event.day) >= build.since, col(Event.day) <= build.day)
    )
    by_person: defaultdict[str, list[tuple[date, int, str | None, str | None]]] = defaultdict(list)
    for enp, kind, when, mo, smo in rows:
        by_person[enp].append((when, ONCO_ORDER[kind], mo, smo))
    for enp, steps in by_person.items():
        _Pathway(build, enp).follow(
            sorted(steps, key=lambda s: (s[0], s[1], s[2] or "", s[3] or ""))
        )


class _Pathway:
    """One person's oncology milestones in order (same day: suspicion, consultation,
    diagnosis, treatment)."""

    def __init__(self, build: _Build, enp: str) -> None:
        self.build, self.enp = build, enp
        self.suspected: date | None = None  # the suspicion a diagnosis would confirm
        self.waiting: tuple[date, str | None, str | None] | None = None  # for a consultation
        self.diagnosed: date | None = None
        self.treated = False

    def follow(self, steps: list[tuple[date, int, str | None, str | None]]) -> None:
        handlers = (self._suspicion, self._consultation, self._diagnosis, self._treatment)
        for when, order, mo, smo in steps:
            handlers[order](when, mo, smo)
        build, limit = self.build, self.build.horizons.onco
        if self.waiting is not None and (build.day - self.waiting[0]).days > limit:
            since, mo, smo = self.waiting
            build.tally.add(ONCOLOGY, "onco_open_suspicions", mo, smo, unit=self.enp)
            build.accompany_row(
                NO_CONSULTATION,
                smo=smo,
                enp=self.enp,
                since=since,
                due=since + timedelta(days=limit),
                mo=mo,
                ref=None,
            )

    def _suspicion(self, when: date, mo: str | None, smo: str | None) -> None:
        if self.diagnosed is None and self.suspected is None:
            self.suspected = when
        if self.waiting is None:
            self.waiting = (when, mo, smo)

    def _consultation(self, when: date, mo: str | None, smo: str | None) -> None:
        self.waiting = None

    def _diagnosis(self, when: date, mo: str | None, smo: str | None) -> None:
        if self.diagnosed is None:
            self.diagnosed = when
            if when == self.build.day and self.suspected is not None:
                self.build.tally.sample(
                    ONCOLOGY, "onco_days_to_diagnosis", mo, smo, value=(when - self.suspected).days
                )
        self.suspected, self.waiting = None, None

    def _treatment(self, when: date, mo: str | None, smo: str | None) -> None:
        if self.treated or self.diagnosed is None:
            return
        self.treated = True
        if when == self.build.day:
            self.build.tally.sample(
                ONCOLOGY, "onco_days_to_treatment", mo, smo, value=(when - self.diagnosed).days
            )


def _hospital(session: Session, build: _Build) -> None:
    """Referrals waiting for admission, overdue planned admissions, the days from
    referral to admission by profile, and free beds."""
    day, tally, horizons = build.day, build.tally, build.horizons
    open_on_day = and_(
        or_(col(HospReferral.admitted_on).is_(None), col(HospReferral.admitted_on) > day),
        or_(col(HospReferral.cancelled_on).is_(None), col(HospReferral.cancelled_on) > day),
    )
    waiting = session.execute(
        select(
            col(HospReferral.id_d),
            col(HospReferral.date_d),
            col(HospReferral.date_hosp),
            col(HospReferral.mo_h),
            col(HospReferral.smo),
            col(HospReferral.enp),
        ).where(
            col(HospReferral.date_d) >= build.since, col(HospReferral.date_d) <= day, open_on_day
        )
    )
    for id_d, date_d, date_hosp, mo_h, smo, enp in waiting:
        if (day - date_d).days > horizons.referral:
            tally.add(HOSPITAL, "hosp_waiting", mo_h, smo, unit=id_d)
        if date_hosp is not None and (day - date_hosp).days > horizons.overdue:
            tally.add(HOSPITAL, "hosp_overdue", mo_h, smo, unit=id_d)
            build.accompany_row(
                OVERDUE,
                smo=smo,
                enp=enp,
                since=date_d,
                due=date_hosp + timedelta(days=horizons.overdue),
                mo=mo_h,
                ref=id_d,
            )
    admitted = session.execute(
        select(
            col(HospReferral.date_d),
            col(HospReferral.profil),
            col(HospReferral.mo_h),
            col(HospReferral.smo),
        ).where(col(HospReferral.admitted_on) == day)
    )
    for date_d, profil, mo_h, smo in admitted:
        tally.sample(
            HOSPITAL, "hosp_days_to_admission", mo_h, smo, value=(day - date_d).days, key=profil
        )
    beds = session.execute(
        select(col(BedReport.mo), col(BedReport.profil), func.sum(BedReport.free))
        .where(col(BedReport.date_pl) == day)
        .group_by(col(BedReport.mo), col(BedReport.profil))
    )
    for mo, profil, free in beds:
        tally.add(HOSPITAL, "hosp_free_beds", mo, None, key=profil, by=int(free or 0))


def _telemedicine(session: Session, build: _Build) -> None:
    """The share of consultations of the last N days whose recommendations were
    implemented by ``D``."""
    start = build.day - timedelta(days=build.horizons.tmk - 1)
    rows = session.execute(
        select(col(Event.kind), col(Event.ref), col(Event.mo), col(Event.smo))
        .where(col(Event.category) == TELEMEDICINE)
        .where(col(Event.kind).in_(["tmk.consultation", "tmk.implemented"]))
        .where(col(Event.day) >= start, col(Event.day) <= build.day)
        .order_by(col(Event.day), col(Event.package_id), col(Event.pos))
    )
    held: dict[str, tuple[str | None, str | None]] = {}
    implemented: set[str] = set()
    for kind, ref, mo, smo in rows:
        if kind == "tmk.consultation":
            held.setdefault(ref, (mo, smo))  # the first consultation in the window
        else:
            implemented.add(ref)
    for ref, (mo, smo) in held.items():
        build.tally.ratio(TELEMEDICINE, "tmk_implemented_share", mo, smo, ref in implemented)


def _schedules(session: Session, build: _Build) -> None:
    """Each МО's schedule in force on ``D`` (its latest schedule file received by then):
    units, units open in the evening, units open on Saturday."""
    latest = (
        select(func.max(Event.package_id))
        .where(col(Event.kind) == "schedule.unit", col(Event.day) <= build.day)
        .group_by(col(Event.mo))
    )
    rows = session.execute(
        select(col(Event.mo), col(Event.ref), col(Event.detail)).where(
            col(Event.kind) == "schedule.unit", col(Event.package_id).in_(latest)
        )
    )
    for mo, ref, flags in rows:
        build.tally.add(SCHEDULES, "units", mo, None, unit=ref)
        if "E" in (flags or ""):
            build.tally.add(SCHEDULES, "units_evening", mo, None, unit=ref)
        if "S" in (flags or ""):
            build.tally.add(SCHEDULES, "units_saturday", mo, None, unit=ref)


def _dispensary(session: Session, build: _Build) -> None:
    """People taken under dispensary observation more than N days ago with no case of
    care since: a missed dispensary visit."""
    day, limit = build.day, build.horizons.dispensary
    rows = session.execute(
        select(col(Event.enp), col(Event.day), col(Event.mo), col(Event.smo))
        .where(col(Event.kind) == "exam.dispensary", col(Event.enp).is_not(None))
        .where(col(Event.day) >= build.since, col(Event.day) <= day)
        .order_by(col(Event.enp), col(Event.day), col(Event.mo))
    )
    first: dict[str, tuple[date, str | None, str | None]] = {}
    for enp, since, mo, smo in rows:
        first.setdefault(enp, (since, mo, smo))  # the first registration in the window
    due = {enp: found for enp, found in first.items() if (day - found[0]).days > limit}
    if not due:
        return
    visited: set[str] = set()
    for chunk in in_chunks(due):
        cases = session.execute(
            select(col(CareCase.enp), col(CareCase.date_z_1)).where(
                col(CareCase.enp).in_(chunk),
                col(CareCase.status) == "accepted",
                col(CareCase.date_z_1) <= day,
                col(CareCase.date_z_1) > build.since,
            )
        )
        visited.update(enp for enp, started in cases if started > due[enp][0])
    for enp, (since, mo, smo) in due.items():
        if enp in visited:
            continue
        build.tally.add(EXAMS, "dispensary_missed", mo, smo, unit=enp)
        build.accompany_row(
            DISPENSARY_MISSED,
            smo=smo,
            enp=enp,
            since=since,
            due=since + timedelta(days=limit),
            mo=mo,
            ref=None,
        )


# ---------------------------------------------------------------- conservation


def balance(session: Session, day: date, zone: tzinfo) -> list[dict[str, Any]]:
    """Per participant, every message received on ``day`` (of ``zone``, the region's
    time zone): accepted, rejected, a
    duplicate — each answered by its protocol — or still in flight. Anything else (a
    final package with no protocol for that message, a protocol for a package not
    final) is ``unaccounted`` and fails the check."""
    start, end = day_span(day, zone)
    answered = (
        select(col(Outbox.id))
        .where(col(Outbox.kind) == "protocol", col(Outbox.receipt_seq) == Receipt.stream_seq)
        .exists()
    )
    rows = session.execute(
        select(
            col(Package.sender_role),
            col(Package.sender_code),
            col(Receipt.duplicate),
            col(Package.state),
            answered,
            func.count(),
        )
        .join(Package, col(Package.id) == Receipt.package_id)
        .where(col(Receipt.received_at) >= start, col(Receipt.received_at) < end)
        .group_by(
            col(Package.sender_role),
            col(Package.sender_code),
            col(Receipt.duplicate),
            col(Package.state),
            answered,
        )
    )
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for role, code, repeat, state, has_protocol, count in rows:
        row = out.setdefault(
            (role, code),
            {
                "day": day,
                "role": role,
                "code": code,
                "received": 0,
                "accepted": 0,
                "rejected": 0,
                "duplicate": 0,
                "in_flight": 0,
                "unaccounted": 0,
            },
        )
        row["received"] += count
        row[_bucket(bool(repeat), State(state), bool(has_protocol))] += count
    return [out[k] for k in sorted(out)]


def _bucket(repeat: bool, state: State, answered: bool) -> str:
    if state == State.QUARANTINED:  # held back as hostile; answered when it can be
        return "rejected"
    if not answered:
        return "in_flight" if state not in FINAL_STATES else "unaccounted"
    if repeat or state == State.DUPLICATE:
        return "duplicate"
    if state == State.APPLIED:
        return "accepted"
    if state == State.REJECTED:
        return "rejected"
    return "unaccounted"  # a protocol for a package still under way


# ---------------------------------------------------------------- store and publish


def store_report(session: Session, report: Report) -> None:
    """Replace the stored report of ``report.day`` with ``report``."""
    for model in (DailyFigure, DailyAccompany, DailyBalance):
        session.execute(delete(model).where(col(model.day) == report.day))
    insert_rows(session, DailyFigure, report.figures)
    insert_rows(session, DailyAccompany, report.accompany)
    insert_rows(session, DailyBalance, report.balance)


def smo_codes(session: Session, report: Report) -> list[str]:
    """Every active СМО of the participant registry, and any other the report names."""
    known = session.execute(
        select(col(Participant.code)).where(col(Participant.role) == "smo", col(Participant.active))
    ).scalars()
    named = {f["code"] for f in report.figures if f["scope"] == SMO}
    named |= {a["smo"] for a in report.accompany}
    return sorted(set(known) | named)


def extract_of(report: Report, region: str, smo: str, built: datetime) -> Extract:
    mine = [f for f in report.figures if f["scope"] == SMO and f["code"] == smo]
    own = next((b for b in report.balance if b["role"] == "smo" and b["code"] == smo), None)
    return Extract(
        region=region,
        smo=smo,
        day=report.day,
        built=built.date(),
        figures=[(f["category"], f["indicator"], f["key"], f["value"]) for f in mine],
        accompany=[a for a in report.accompany if a["smo"] == smo],
        balance=own,
    )


def queue_extracts(session: Session, report: Report, region: str, built: datetime) -> int:
    """The extract of each СМО into the outbox; an identical one already queued is not."""
    queued = 0
    for smo in smo_codes(session, report):
        extract = extract_of(report, region, smo, built)
        body = render_extract(extract)
        sha = sha256_hex(body)
        party = Party("smo", smo)
        queued += add_outbox(
            session,
            package_id=None,
            subject=outbound(party, "daily"),
            msg_id=f"daily-{smo}-{report.day.isoformat()}-{sha[:16]}",
            file_name=extract_file_name(region, smo, report.day),
            body=body,
            kind="daily",
            headers=json.dumps({H.SHA256: sha}),
        )
    return queued


@dataclass
class Consolidated:
    day: date
    events: int
    figures: int
    accompany: int
    unbalanced: int
    extracts: int
    duration_ms: int


def consolidate(day: date, settings: Settings | None = None) -> Consolidated:
    """Build, store and queue the report of ``day`` (idempotent: a re-run replaces it)."""
    settings = settings or get_settings()
    started = time.perf_counter()
    built = datetime.now(UTC)
    with session_scope() as session:
        report = build_report(session, day, settings.region, Horizons.of(settings), settings.zone)
        store_report(session, report)
        extracts = queue_extracts(session, report, settings.region, built)
        unbalanced = sum(1 for b in report.balance if b["unaccounted"])
        duration_ms = int((time.perf_counter() - started) * 1000)
        session.merge(
            DailyRun(
                day=day,
                built_at=built,
                events=report.events,
                figures=len(report.figures),
                accompany=len(report.accompany),
                unbalanced=unbalanced,
                extracts=extracts,
                duration_ms=duration_ms,
            )
        )
    done = Consolidated(
        day,
        report.events,
        len(report.figures),
        len(report.accompany),
        unbalanced,
        extracts,
        duration_ms,
    )
    log.info(
        "daily.consolidated",
        day=day.isoformat(),
        events=done.events,
        figures=done.figures,
        accompany=done.accompany,
        unbalanced=unbalanced,
        extracts=extracts,
        duration_ms=duration_ms,
    )
    if unbalanced:
        log.warning("daily.unbalanced", day=day.isoformat(), participants=unbalanced)
    return done


@pipeline_actor("maintenance")
def consolidate_day(day: str) -> None:
    """The scheduled (or requested) consolidation of ``day`` (ISO date); the extracts
    are then published by the reply stage."""
    done = consolidate(date.fromisoformat(day))
    if done.extracts:
        publish_protocols.send(None)


def iter_days(first: date, last: date) -> Iterable[date]:
    current = first
    while current <= last:
        yield current
        current += timedelta(days=1)
