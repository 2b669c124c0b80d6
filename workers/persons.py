"""Applying erz and attach packages: the registry of persons, insurance and attachment.

erz (exchange.md §4.3, one СМО's file): ``P`` opens an insurance period and ends any
open period that began before it (one СМО at a time); ``I`` changes the person's
details; ``C`` ends the СМО's open period on DEND (else the file's date). ``I``/``C``
for a person the СМО does not insure are refused (007F.64.0004).

attach (§4.2, one МО's file, each month the whole attached population): a period
restated as it was changes nothing; one overlapping another period at the same МО is
refused (007F.64.0001); a newer attachment elsewhere ends the old one the day before.

Details (name, sex, birth date, SNILS, document) are merged into the person's current
ones — a source that does not carry a field leaves it as it was — and a new version is
kept only when something changed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from contracts.flk import FlkResult
from contracts.mek import Finding, PeriodBook
from contracts.records import Record
from omsx.settings import Settings
from storage.bulk import insert_rows, update_rows
from storage.care import Attachment, Insurance, Person, PersonVersion, RecordProblem
from storage.db import session_scope
from storage.models import Package
from storage.registry import (
    PERSON_FIELDS,
    current_persons,
    digest_of,
    period_book,
    problem_row,
)
from workers.batches import Applied, Batch, each_batch


def person_details(record: Record) -> dict[str, Any]:
    """The registry's person fields from a PERS (L-file, erz) or REC (attach); a field
    the source does not carry is None."""
    dr = record.get("DR")
    snils = record.get("SNILS")
    digits = "".join(ch for ch in snils if ch.isdigit()) if isinstance(snils, str) else ""
    return {
        "fam": record.get("FAM") or None,
        "im": record.get("IM") or None,
        "ot": record.get("OT") or None,
        "w": str(record.get("W") or "") or None,
        "dr": dr if isinstance(dr, date) else None,
        "snils": digits or None,
        "doctype": str(record.get("DOCTYPE") or "") or None,
        "docser": record.get("DOCSER") or None,
        "docnum": record.get("DOCNUM") or None,
    }


def save_persons(
    session: Session,
    package_id: int,
    source: str,
    recorded: date,
    details: dict[str, dict[str, Any]],
) -> None:
    """New persons, and for known ones a new version when the merged details changed."""
    current = current_persons(session, details)
    new_people: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    for enp, fields in details.items():
        known = current.get(enp)
        merged = dict(fields)
        if known is not None:
            merged = {k: fields[k] if fields[k] is not None else known[k] for k in PERSON_FIELDS}
        digest = digest_of(merged)
        if known is not None and known["digest"] == digest:
            continue
        row = {"enp": enp, "digest": digest, "package_id": package_id, **merged}
        (changed if known is not None else new_people).append(row)
        versions.append(
            {
                "enp": enp,
                "package_id": package_id,
                "source": source,
                "recorded_on": recorded,
                "digest": digest,
                **merged,
            }
        )
    insert_rows(session, Person, new_people)
    update_rows(session, Person, changed, ("digest", "package_id", *PERSON_FIELDS), key="enp")
    insert_rows(session, PersonVersion, versions)


class _PeriodRun:
    """The shared loop of erz and attach: batches → a period book → rows."""

    source = ""
    model: type[Insurance] | type[Attachment]
    tag = ""

    def __init__(
        self,
        package: Package,
        refused: dict[int, str],
        settings: Settings,
        parsed: FlkResult | None = None,
    ) -> None:
        assert package.id is not None
        self.package = package
        self.package_id: int = package.id
        self.refused = refused
        self.settings = settings
        self.parsed = parsed.main if parsed else None
        self.applied = Applied()
        self.holder = ""
        # a file without its date: the day the region received it (a re-run agrees)
        self.received = settings.local_date(package.received_at)
        self.file_date = self.received

    def run(self) -> Applied:
        each_batch(self.package, self.settings, self.tag, self._handle, self.parsed)
        with session_scope() as session:
            self.applied.read_back(session, self.package_id)
        return self.applied

    def _handle(self, session: Session, batch: Batch, header: dict[str, Record]) -> None:
        self.header(header.get("ZGLV") or {})
        self.batch(session, batch)

    def header(self, zglv: Record) -> None:
        raise NotImplementedError

    def decide(self, book: PeriodBook, record: Record) -> Finding | None:
        raise NotImplementedError

    def batch(self, session: Session, batch: Batch) -> None:
        live = [(pos, rec) for pos, _elem, rec in batch if pos not in self.refused]
        enps = {rec["ENP"] for _pos, rec in live if isinstance(rec.get("ENP"), str)}
        book = period_book(session, self.model, enps)
        problems: list[dict[str, Any]] = []
        details: dict[str, dict[str, Any]] = {}
        for pos, record in live:
            finding = self.decide(book, record)
            if finding is not None:
                problems.append(problem_row(self.package_id, pos, finding.problem))
            elif isinstance(record.get("ENP"), str):
                details[record["ENP"]] = person_details(record)
        save_persons(session, self.package_id, self.source, self.file_date, details)
        self.write_periods(session, book)
        insert_rows(session, RecordProblem, problems)

    def write_periods(self, session: Session, book: PeriodBook) -> None:
        holder = "smo" if self.model is Insurance else "mo"
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for enp, entry in book.changed():
            period = entry.period
            closed_by = self.package_id if entry.closed_by_this else None
            if entry.id is None:
                new.append(
                    {
                        "enp": enp,
                        holder: period.holder,
                        "dbeg": period.dbeg,
                        "dend": period.dend,
                        "package_id": self.package_id,
                        "closed_by": closed_by,
                        **entry.extra,
                    }
                )
            else:
                changed.append({"id": entry.id, "dend": period.dend, "closed_by": closed_by})
        insert_rows(session, self.model, new)
        update_rows(session, self.model, changed, ("dend", "closed_by"))


class _ErzRun(_PeriodRun):
    source = "erz"
    model = Insurance
    tag = "PERS"

    def header(self, zglv: Record) -> None:
        self.holder = str(zglv.get("SMO") or self.package.sender_code)
        data = zglv.get("DATA")
        self.file_date = data if isinstance(data, date) else self.received

    def decide(self, book: PeriodBook, record: Record) -> Finding | None:
        return book.insure(record, self.holder, self.file_date)


class _AttachRun(_PeriodRun):
    source = "attach"
    model = Attachment
    tag = "REC"

    def header(self, zglv: Record) -> None:
        self.holder = str(zglv.get("CODE_MO") or self.package.sender_code)
        fdate = zglv.get("FDATE")
        self.file_date = fdate if isinstance(fdate, date) else self.received

    def decide(self, book: PeriodBook, record: Record) -> Finding | None:
        return book.attach(
            record,
            self.holder,
            method=str(record.get("ATTACH_METHOD") or ""),
            doctor=str(record.get("DOC_CODE") or "")[:14],
            dep_id=record.get("MO_DEP_ID") or None,
        )


def apply_erz(
    package: Package, refused: dict[int, str], settings: Settings, parsed: FlkResult | None = None
) -> Applied:
    return _ErzRun(package, refused, settings, parsed).run()


def apply_attach(
    package: Package, refused: dict[int, str], settings: Settings, parsed: FlkResult | None = None
) -> Applied:
    return _AttachRun(package, refused, settings, parsed).run()
