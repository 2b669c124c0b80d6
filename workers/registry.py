"""Applying a register (H, C, T, D*) and its L-file: MEK, the account of care, the
claims, the registry of persons and the forward to the paying СМО.

One pass over the main file, in batches of ``OMSX_APPLY_BATCH`` records, each batch one
transaction:

1. the registry answers what the batch needs — insurance periods of its people, and
   the cases of the same МО already accepted or refused in other packages;
2. each record FLK let through is checked by the stateful rules (005K.64.0001–0003,
   :mod:`contracts.mek`); a refused one keeps its reason and F014 basis;
3. every record lands — case, SL, USL — accepted or refused (the claims need both:
   presented = accepted + refused), with the batch's protocol lines and progress;
4. the batch's events of the information resource land with it (exams, oncology
   milestones, refusals: :mod:`workers.care_events`);
5. accepted records are appended to the forward register.

Then a pass over the L-file updates the persons of accepted records (a new version of
their details only when they changed) and adds their PERS to the forward. Finally the
invoice's figures are recomputed from its cases, the forward ZIP goes to the blob store,
and the caller concludes the package with the protocol and the forward in the outbox.

Re-running is safe: committed batches are skipped (their decisions are read back for
the forward), every insert ignores rows already there, and totals are recomputed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Dialect
from sqlmodel import Session, select

from contracts.filecheck import FileCheck
from contracts.filenames import Party, parse_name
from contracts.flk import FlkResult
from contracts.forward import ForwardWriter
from contracts.mek import (
    Finding,
    case_person,
    insurance_problem,
    person_key,
    repeat_problem,
)
from contracts.records import Record, items, to_kop
from contracts.rules import load_catalogue
from omsx.settings import Settings
from storage.blobs import BlobStore, sha256_hex
from storage.bulk import Prepared, insert_prepared, insert_row, prepare_rows
from storage.care import CareCase, CareSl, CareUsl, Invoice, RecordProblem
from storage.db import session_scope
from storage.events import Event
from storage.models import Package
from storage.registry import (
    decisions,
    earlier_cases,
    insurance_of,
    problem_row,
    recompute_invoices,
)
from workers.batches import (
    Applied,
    Batch,
    Forward,
    Progress,
    batch_size,
    batches,
    encoding_of,
    members_of,
    one_batch,
    opened,
    records,
)
from workers.care_events import Register, case_events
from workers.persons import person_details, save_persons

ACCEPTED, REFUSED = "accepted", "refused"


@dataclass
class Invoiced:
    """The register's invoice as the applier needs it."""

    id: int
    code_mo: str
    payer: str
    out_of_region: bool
    year: int
    month: int


def payer_of(schet: Record, receiver: Party, region: str) -> str:
    """SCHET/PLAT, else the receiver of the name: an СМО, or the ТФОМС (the region)."""
    plat = schet.get("PLAT")
    if isinstance(plat, str) and plat:
        return plat
    return receiver.code if receiver.role == "smo" else region


def apply_register(
    package: Package, refused: dict[int, str], settings: Settings, parsed: FlkResult | None = None
) -> Applied:
    assert package.id is not None
    name = parse_name(package.file_name)
    path = BlobStore(settings.blobs).path(package.sha256)
    applied = Applied()
    with opened(path) as zf, tempfile.TemporaryDirectory(dir=settings.data_dir) as tmp:
        members = members_of(zf, name.base)
        encoding = encoding_of(zf, members.main)
        forward = ForwardWriter(
            Path(tmp),
            main_member=members.main,
            personal_member=members.personal,
            encoding=encoding,
        )
        try:
            main, personal = (parsed.main, parsed.personal) if parsed else (None, None)
            run = _RegisterRun(package, name.receiver, refused, settings, forward, parsed=main)
            size = batch_size(package, settings)
            with records(zf, members.main, "ZAP", main) as reader:
                for batch in batches(reader, size):
                    run.main_batch(batch, reader.header)
                    run.progress.next()
            invoice = run.plan_invoice(reader.header)
            personal_zglv = None
            if members.personal is not None:
                with records(zf, members.personal, "PERS", personal) as persons:
                    for batch in batches(persons, size):
                        run.person_batch(batch, persons.header)
                        run.progress.next()
                personal_zglv = persons.head_elements.get("ZGLV")
            if forward.count and not invoice.out_of_region:
                zipped = forward.finish(
                    reader.root_tag or "ZL_LIST", reader.head_elements, personal_zglv
                )
                applied.forward = _store_forward(
                    zipped, settings, invoice.payer, name.base, forward.count
                )
            with session_scope() as session:
                run.write_deferred(session)
                invoice_id = run.invoice_id(session)
                if not run.figures_written:
                    recompute_invoices(session, [invoice_id])
                    _mark_complete(session, invoice_id)
                applied.read_back(session, package.id)
        finally:
            forward.close()
    return applied


def _mark_complete(session: Session, invoice_id: int) -> None:
    invoice = session.get(Invoice, invoice_id)
    assert invoice is not None
    invoice.complete = True
    session.add(invoice)


def _store_forward(zipped: Path, settings: Settings, payer: str, base: str, count: int) -> Forward:
    store = BlobStore(settings.blobs)
    data = zipped.read_bytes()
    sha = sha256_hex(data)
    store.put(sha, data)
    return Forward(sha, len(data), Party("smo", payer), f"{base}.zip", count)


def _figures(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """An invoice's figures from its cases, as :func:`storage.registry.recompute_invoices`
    sums them from the rows."""
    accepted = [c for c in cases if c["status"] == ACCEPTED]
    sump = sum(c["sump_kop"] for c in cases)
    mee = sum(c["mee_kop"] for c in cases)
    ekmp = sum(c["ekmp_kop"] for c in cases)
    return {
        "cases": len(cases),
        "presented_kop": sum(c["sumv_kop"] for c in cases),
        "accepted_kop": sump,
        "refused_kop": sum(c["refused_kop"] for c in cases),
        "mee_kop": mee,
        "ekmp_kop": ekmp,
        "payable_kop": sump - mee - ekmp,
        "accepted": len(accepted),
        "refused": len(cases) - len(accepted),
    }


_Prepared = tuple[Prepared | None, ...]  # a batch's rows: cases first, then the rest


@dataclass
class _Rows:
    """One main batch's rows, written together."""

    cases: list[dict[str, Any]]
    sls: list[dict[str, Any]]
    usls: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def prepare(self, dialect: Dialect) -> _Prepared:
        """The rows as the driver's parameters; the cases' invoice id comes at the write."""
        return (
            prepare_rows(dialect, CareCase, self.cases),
            prepare_rows(dialect, CareSl, self.sls),
            prepare_rows(dialect, CareUsl, self.usls),
            prepare_rows(dialect, RecordProblem, self.problems),
            prepare_rows(dialect, Event, self.events),
        )


class _RegisterRun:
    """The register's pass. A package of one batch (:func:`workers.batches.one_batch`)
    is applied in one transaction, and on SQLite that transaction holds the database's
    write lock from its first write: so its run reads and decides everything first —
    the registry's answers, the decisions, the L-file, the forward — and writes at the
    end (``deferred``). A larger register writes each batch as it goes."""

    def __init__(
        self,
        package: Package,
        receiver: Party,
        refused: dict[int, str],
        settings: Settings,
        forward: ForwardWriter,
        *,
        parsed: FileCheck | None,
    ) -> None:
        assert package.id is not None
        self.package = package
        self.package_id: int = package.id
        self.receiver = receiver
        self.flk_refused = refused
        self.settings = settings
        self.forward = forward
        self.catalogue = load_catalogue()
        self.invoice: Invoiced | None = None
        self.invoice_row: dict[str, Any] = {}
        self.accepted_pacs: dict[str, str | None] = {}  # ID_PAC of accepted cases → ENP
        self.deferred: list[Callable[[Session], None]] | None = (
            [] if one_batch(package, settings) else None
        )
        self.cases: list[dict[str, Any]] = []  # a deferred run's, for the invoice's figures
        self.figures_written = False
        self.progress = Progress.of(package, parsed)
        # the day the region received it: the care events' date, and the date of an
        # invoice or a person file that states none (a re-run agrees)
        self.received = settings.local_date(package.received_at)

    def _write(self, session: Session | None, write: Callable[[Session], None]) -> None:
        """Write now, in ``session`` (with the batch's progress), or at the end."""
        if self.deferred is not None:
            self.deferred.append(write)
            return
        assert session is not None
        write(session)
        self.progress.commit(session)

    def write_deferred(self, session: Session) -> None:
        """The deferred writes; the invoice first, complete, with the figures of every
        case (all of them are new: one transaction, so no earlier run left any)."""
        if self.deferred is None:
            return
        assert self.invoice is not None, "plan_invoice first"
        if not self.invoice.id:
            self.invoice_row.update(_figures(self.cases), complete=True)
            self.invoice.id, self.figures_written = self._insert_invoice(session)
        for write in self.deferred:
            write(session)
        self.progress.commit(session)  # counts nothing: all of it commits with the conclusion
        self.deferred.clear()

    # ---------------------------------------------------------------- the invoice

    def plan_invoice(self, header: dict[str, Record]) -> Invoiced:
        """The invoice from SCHET, before it is written (its ``id`` is 0 until then)."""
        if self.invoice is not None:
            return self.invoice
        schet = header.get("SCHET") or {}
        payer = payer_of(schet, self.receiver, self.settings.region)
        self.invoice_row = {
            "package_id": self.package_id,
            "file_type": self.package.file_type or "",
            "code_mo": str(schet.get("CODE_MO") or self.package.sender_code),
            "year": int(schet.get("YEAR") or 0),
            "month": int(schet.get("MONTH") or 0),
            "nschet": str(schet.get("NSCHET") or ""),
            "dschet": schet.get("DSCHET")
            if isinstance(schet.get("DSCHET"), date)
            else self.received,
            "payer": payer,
            "summav_kop": to_kop(schet.get("SUMMAV")),
        }
        row = self.invoice_row
        self.invoice = Invoiced(0, row["code_mo"], payer, payer == self.settings.region,
                                row["year"], row["month"])  # fmt: skip
        return self.invoice

    def invoice_id(self, session: Session) -> int:
        """The invoice's id, written first if it is not yet (a re-run finds it)."""
        invoice = self.invoice
        assert invoice is not None, "plan_invoice first"
        if not invoice.id:
            invoice.id, _inserted = self._insert_invoice(session)
        return invoice.id

    def _insert_invoice(self, session: Session) -> tuple[int, bool]:
        """The invoice's id, and whether this call inserted it (a re-run finds it)."""
        inserted = insert_row(session, Invoice, self.invoice_row, returning="id")
        if inserted is not None:
            return int(inserted), True
        found = session.exec(select(Invoice.id).where(Invoice.package_id == self.package_id)).one()
        assert found is not None
        return found, False

    # ---------------------------------------------------------------- the main file

    def main_batch(self, batch: Batch, header: dict[str, Record]) -> None:
        invoice = self.plan_invoice(header)
        if self.progress.committed:
            self._replay(batch)
            return
        with session_scope() as session:
            rows = self._decide(session, batch, invoice)
            prepared = rows.prepare(session.connection().dialect)  # before the write lock
            self._write(session, lambda s: self._insert(s, prepared))
        if self.deferred is not None:
            self.cases.extend(rows.cases)
        self._fault_hook()
        for (_pos, elem, _record), case in zip(batch, rows.cases, strict=True):
            if case["status"] == ACCEPTED:
                self.forward.add_case(elem, case["sumv_kop"])

    def _insert(self, session: Session, prepared: _Prepared) -> None:
        cases, *rest = prepared
        if cases is not None:
            cases.fill("invoice_id", self.invoice_id(session))
        for rows in (cases, *rest):
            insert_prepared(session, rows)

    def _events(self, batch: Batch, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The information resource's events of the batch (:mod:`workers.care_events`)."""
        register = Register(
            self.package_id,
            (self.package.file_type or "").upper(),
            self.received,
        )
        out: list[dict[str, Any]] = []
        for (pos, _elem, record), case in zip(batch, cases, strict=True):
            out.extend(case_events(register, pos, record, case))
        return out

    def _fault_hook(self) -> None:
        """Test hook (OMSX_FAULT_FAIL_AFTER_BATCHES): the first run dies after N batches."""
        limit = self.settings.fault_fail_after_batches
        if limit and self.progress.index + 1 == limit and self.progress.done < limit:
            raise RuntimeError(f"fault injected after {limit} committed batches")

    def _replay(self, batch: Batch) -> None:
        """A batch an earlier run committed: its decisions feed the forward."""
        with session_scope() as session:
            stored = decisions(session, self.package_id, batch[0][0], batch[-1][0])
        for pos, elem, record in batch:
            status, id_pac, sumv = stored[pos]
            if status == ACCEPTED:
                pacient = record.get("PACIENT") or {}
                self.accepted_pacs[id_pac] = person_key(pacient)
                self.forward.add_case(elem, sumv)

    def _decide(self, session: Session, batch: Batch, invoice: Invoiced) -> _Rows:
        enps = {
            key
            for _p, _e, record in batch
            if (key := person_key(record.get("PACIENT") or {})) is not None
        }
        idcases = {str((record.get("Z_SL") or {}).get("IDCASE") or "") for _p, _e, record in batch}
        periods = {} if invoice.out_of_region else insurance_of(session, enps)
        earlier = earlier_cases(session, invoice.code_mo, idcases, enps, package_id=self.package_id)
        cases: list[dict[str, Any]] = []
        sls: list[dict[str, Any]] = []
        usls: list[dict[str, Any]] = []
        problems: list[dict[str, Any]] = []
        for pos, _elem, record in batch:
            pacient = record.get("PACIENT") or {}
            enp = person_key(pacient)
            reason = self.flk_refused.get(pos)
            variant = ""
            replaces = None
            if reason is None:
                findings: list[Finding] = []
                repeat, replaced = repeat_problem(
                    record, enp, earlier, (invoice.year, invoice.month)
                )
                if repeat is not None:
                    findings.append(repeat)
                if not invoice.out_of_region:
                    insured = insurance_problem(
                        record, enp, invoice.payer, periods.get(enp or "", [])
                    )
                    if insured is not None:
                        findings.append(insured)
                if findings:
                    reason, variant = findings[0].rule, findings[0].variant
                    problems.extend(problem_row(self.package_id, pos, f.problem) for f in findings)
                elif replaced is not None:
                    replaces = replaced.case_id
                    earlier.refused_open.pop(replaced.idcase, None)
            case = self._case_row(
                pos,
                record,
                invoice=invoice,
                enp=enp,
                reason=reason,
                variant=variant,
                replaces=replaces,
            )
            cases.append(case)
            if case["status"] == ACCEPTED:
                self.accepted_pacs[case["id_pac"]] = enp
            _sections(self.package_id, pos, record, sls, usls)
        return _Rows(cases, sls, usls, problems, self._events(batch, cases))

    def _case_row(
        self,
        pos: int,
        record: Record,
        *,
        invoice: Invoiced,
        enp: str | None,
        reason: str | None,
        variant: str,
        replaces: int | None,
    ) -> dict[str, Any]:
        z_sl = record.get("Z_SL") or {}
        pacient = record.get("PACIENT") or {}
        first = (items(z_sl, "SL") or [{}])[0]
        sumv = to_kop(z_sl.get("SUMV"))
        accepted = reason is None
        person = case_person(record, enp)
        return {
            "package_id": self.package_id,
            "invoice_id": None,  # written with the invoice (_insert)
            "pos": pos,
            "n_zap": str(record.get("N_ZAP") or ""),
            "idcase": str(z_sl.get("IDCASE") or ""),
            "code_mo": invoice.code_mo,
            "year": invoice.year,
            "month": invoice.month,
            "pr_nov": int(record.get("PR_NOV") or 0)
            if str(record.get("PR_NOV") or "0").isdigit()
            else 0,
            "id_pac": str(pacient.get("ID_PAC") or ""),
            "enp": enp,
            "payer": invoice.payer,
            "out_of_region": invoice.out_of_region,
            "territory": str(pacient.get("ST_OKATO") or pacient.get("SMO_OK") or "")[:5] or None,
            "usl_ok": str(z_sl.get("USL_OK") or ""),
            "vidpom": str(z_sl.get("VIDPOM") or ""),
            "for_pom": str(z_sl.get("FOR_POM") or ""),
            "profil": person[3],
            "ds1": str(first.get("DS1") or ""),
            "date_z_1": person[1],
            "date_z_2": person[2],
            "rslt": str(z_sl.get("RSLT") or z_sl.get("RSLT_D") or ""),
            "ishod": str(z_sl.get("ISHOD") or ""),
            "idsp": str(z_sl.get("IDSP") or ""),
            "sumv_kop": sumv,
            "sump_kop": sumv if accepted else 0,
            "refused_kop": 0 if accepted else sumv,
            "mee_kop": 0,
            "ekmp_kop": 0,
            "status": ACCEPTED if accepted else REFUSED,
            "reason": reason,
            "f014": None if accepted else self.catalogue.basis(reason or "", variant),
            "replaces": replaces,
        }

    # ---------------------------------------------------------------- the L-file

    def person_batch(self, batch: Batch, header: dict[str, Record]) -> None:
        mine = [
            (pos, elem, record)
            for pos, elem, record in batch
            if str(record.get("ID_PAC") or "") in self.accepted_pacs
        ]
        if not self.progress.committed:
            zglv = header.get("ZGLV") or {}
            stated = zglv.get("DATA")
            recorded = stated if isinstance(stated, date) else self.received
            details: dict[str, dict[str, Any]] = {}
            for _pos, _elem, record in mine:
                enp = self.accepted_pacs.get(str(record.get("ID_PAC") or ""))
                if enp is not None:
                    details[enp] = person_details(record)

            def persons(session: Session) -> None:
                # read and written in one go: persons are shared with other МО's packages
                save_persons(session, self.package_id, "L", recorded, details)

            if self.deferred is not None:
                self._write(None, persons)
            else:
                with session_scope() as session:
                    self._write(session, persons)
        for _pos, elem, _record in mine:
            self.forward.add_person(elem)


def _sections(
    package_id: int, pos: int, record: Record, sls: list[dict[str, Any]], usls: list[dict[str, Any]]
) -> None:
    z_sl = record.get("Z_SL") or {}
    for n, sl in enumerate(items(z_sl, "SL"), 1):
        tarif = sl.get("TARIF")
        sls.append(
            {
                "package_id": package_id,
                "pos": pos,
                "n": n,
                "sl_id": str(sl.get("SL_ID") or ""),
                "profil": str(sl.get("PROFIL") or ""),
                "det": str(sl.get("DET") or ""),
                "nhistory": str(sl.get("NHISTORY") or "")[:50],
                "date_1": sl.get("DATE_1") if isinstance(sl.get("DATE_1"), date) else None,
                "date_2": sl.get("DATE_2") if isinstance(sl.get("DATE_2"), date) else None,
                "ds0": sl.get("DS0") or None,
                "ds1": str(sl.get("DS1") or ""),
                "ds2": ",".join(str(d) for d in items(sl, "DS2"))[:100] or None,
                "c_zab": sl.get("C_ZAB") or None,
                "dn": sl.get("DN") or None,
                "prvs": str(sl.get("PRVS") or ""),
                "iddokt": str(sl.get("IDDOKT") or ""),
                "tarif_kop": to_kop(tarif) if tarif not in (None, "") else None,
                "sum_m_kop": to_kop(sl.get("SUM_M")),
            }
        )
        for k, usl in enumerate(items(sl, "USL"), 1):
            u_tarif = usl.get("TARIF")
            usls.append(
                {
                    "package_id": package_id,
                    "pos": pos,
                    "sl_n": n,
                    "n": k,
                    "idserv": str(usl.get("IDSERV") or ""),
                    "lpu": str(usl.get("LPU") or ""),
                    "profil": str(usl.get("PROFIL") or ""),
                    "date_in": usl.get("DATE_IN") if isinstance(usl.get("DATE_IN"), date) else None,
                    "date_out": usl.get("DATE_OUT")
                    if isinstance(usl.get("DATE_OUT"), date)
                    else None,
                    "ds": str(usl.get("DS") or ""),
                    "code_usl": str(usl.get("CODE_USL") or ""),
                    "kol_usl": str(usl.get("KOL_USL") or ""),
                    "tarif_kop": to_kop(u_tarif) if u_tarif not in (None, "") else None,
                    "sumv_usl_kop": to_kop(usl.get("SUMV_USL")),
                }
            )


def refused_positions(raw: str) -> dict[int, str]:
    """FlkOutcome.refused: ``{"pos": reason}`` (older rows: a list of positions)."""
    data = json.loads(raw or "{}")
    if isinstance(data, list):
        return {int(pos): "FLK" for pos in data}
    return {int(pos): str(reason) for pos, reason in data.items()}
