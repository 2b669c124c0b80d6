"""Queries of the admin's package pages: search with keyset paging, and one package's
detail (timeline, protocol, what it touched); and the person card (:func:`person_card`).

Paging is by id, newest first (``before`` = the last id of the previous page): each page
is one index range scan however deep the operator pages, where OFFSET would read every
row it skips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from storage.care import Attachment, CareCase, Insurance, Invoice, Person, PersonVersion
from storage.events import Event
from storage.models import Outbox, Package, PackageEvent, Receipt, columns, day_span
from storage.registry import PERSON_FIELDS

PAGE = 50
MAX_PAGE = 500


@dataclass(frozen=True)
class PackageFilter:
    participant: str | None = None  # sender code (МО, СМО, ТФОМС)
    kind: str | None = None
    period: str | None = None  # YYMM of the file name, as stored
    state: str | None = None
    file_name: str | None = None  # a prefix of the name
    since: date | None = None  # received on or after (a day of ``zone``)
    until: date | None = None  # received on or before
    zone: tzinfo = UTC  # the days' time zone: the region's (Settings.zone)


@dataclass
class PackagePage:
    rows: list[dict[str, Any]]
    next_before: int | None  # pass as ``before`` for the next page; None: the last page


def search_packages(
    session: Session, where: PackageFilter, *, before: int | None = None, limit: int = PAGE
) -> PackagePage:
    limit = max(1, min(limit, MAX_PAGE))
    stmt = select(
        col(Package.id), col(Package.file_name), col(Package.sender_role),
        col(Package.sender_code), col(Package.kind), col(Package.file_type),
        col(Package.period), col(Package.state), col(Package.result), col(Package.records),
        col(Package.n_acc), col(Package.n_rej), col(Package.size), col(Package.received_at),
        col(Package.updated_at),
    )  # fmt: skip
    if where.participant:
        stmt = stmt.where(col(Package.sender_code) == where.participant)
    if where.kind:
        stmt = stmt.where(col(Package.kind) == where.kind)
    if where.period:
        stmt = stmt.where(col(Package.period) == where.period)
    if where.state:
        stmt = stmt.where(col(Package.state) == where.state)
    if where.file_name:
        escaped = where.file_name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(col(Package.file_name).like(f"{escaped}%", escape="\\"))
    if where.since:
        stmt = stmt.where(col(Package.received_at) >= day_span(where.since, where.zone)[0])
    if where.until:
        stmt = stmt.where(col(Package.received_at) < day_span(where.until, where.zone)[1])
    if before is not None:
        stmt = stmt.where(col(Package.id) < before)
    found = session.execute(stmt.order_by(col(Package.id).desc()).limit(limit + 1)).mappings()
    rows = [dict(r) for r in found]
    more = len(rows) > limit
    rows = rows[:limit]
    return PackagePage(rows, rows[-1]["id"] if more and rows else None)


@dataclass
class PackageDetail:
    package: Package
    timeline: list[PackageEvent]
    receipts: list[Receipt]
    protocol: Outbox | None
    outbox: list[dict[str, Any]] = field(default_factory=list)
    invoice: Invoice | None = None


def package_detail(session: Session, package_id: int) -> PackageDetail | None:
    package = session.get(Package, package_id)
    if package is None:
        return None
    timeline = session.execute(
        select(PackageEvent)
        .where(col(PackageEvent.package_id) == package_id)
        .order_by(col(PackageEvent.at), col(PackageEvent.id))
    ).scalars()
    receipts = session.execute(
        select(Receipt).where(col(Receipt.package_id) == package_id).order_by(col(Receipt.id))
    ).scalars()
    sent = session.execute(
        select(
            col(Outbox.id), col(Outbox.kind), col(Outbox.subject), col(Outbox.file_name),
            col(Outbox.created_at), col(Outbox.published_at), col(Outbox.receipt_seq),
            func.length(Outbox.body).label("size"),
        )
        .where(col(Outbox.package_id) == package_id)
        .order_by(col(Outbox.id))
    ).mappings()  # fmt: skip
    outbox = [dict(r) for r in sent]
    protocol = first_protocol(session, package_id)
    invoice = session.execute(
        select(Invoice).where(col(Invoice.package_id) == package_id)
    ).scalar_one_or_none()
    return PackageDetail(package, list(timeline), list(receipts), protocol, outbox, invoice)


def first_protocol(session: Session, package_id: int) -> Outbox | None:
    """The package's protocol (a repeat receipt's 805 answers come later)."""
    return session.execute(
        select(Outbox)
        .where(col(Outbox.package_id) == package_id, col(Outbox.kind) == "protocol")
        .order_by(col(Outbox.id))
        .limit(1)
    ).scalar_one_or_none()


# ------------------------------------------------------------------ the person card

CARD_ROWS = 200  # the latest cases and events shown; the counts say how many there are


@dataclass
class PersonCard:
    enp: str
    details: dict[str, Any] | None  # the current details (personal data: mask to show)
    versions: list[dict[str, Any]]  # which source changed the details, when
    insurance: list[dict[str, Any]]
    attachment: list[dict[str, Any]]
    cases: list[dict[str, Any]]  # newest first, at most CARD_ROWS
    case_count: int
    events: list[dict[str, Any]]  # newest first, at most CARD_ROWS
    event_count: int

    @property
    def known(self) -> bool:
        return bool(self.details or self.insurance or self.attachment or self.case_count
                    or self.event_count)  # fmt: skip


def _rows(session: Session, stmt: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(stmt).mappings()]


def person_card(session: Session, enp: str, *, limit: int = CARD_ROWS) -> PersonCard:
    """Everything the registry holds on one ENP; each part is one index range read."""
    person = session.get(Person, enp)
    details = None
    if person is not None:
        details = {f: getattr(person, f) for f in PERSON_FIELDS}
        details["package_id"] = person.package_id
        details["updated_at"] = person.updated_at

    def newest(model: Any, names: str, *order: Any) -> list[dict[str, Any]]:
        stmt = select(*columns(model, names)).where(col(model.enp) == enp)
        return _rows(session, stmt.order_by(*(col(o).desc() for o in order)).limit(limit))

    versions = newest(PersonVersion, "source recorded_on package_id digest", PersonVersion.id)
    insurance = newest(Insurance, "smo dbeg dend package_id closed_by", Insurance.dbeg)
    attachment = newest(
        Attachment, "mo dbeg dend method doctor package_id closed_by", Attachment.dbeg
    )
    cases = newest(
        CareCase,
        "id package_id invoice_id code_mo payer year month idcase date_z_1 date_z_2 usl_ok"
        " profil ds1 sumv_kop sump_kop mee_kop ekmp_kop status reason",
        CareCase.date_z_1,
        CareCase.id,
    )
    events = newest(
        Event, "day category kind mo smo ref detail amount_kop package_id", Event.day, Event.id
    )
    case_count = len(cases)
    if case_count == limit:
        case_count = _count(session, CareCase.enp, enp)
    event_count = len(events)
    if event_count == limit:
        event_count = _count(session, Event.enp, enp)
    return PersonCard(enp, details, versions, insurance, attachment, cases, case_count, events,
                      event_count)  # fmt: skip


def _count(session: Session, column: Any, value: str) -> int:
    return int(session.execute(select(func.count()).where(column == value)).scalar_one())
