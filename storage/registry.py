"""Queries of the appliers: what a batch of records needs to know, and the leases and
progress that make an applier safe to run twice and alone in its scope."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import BindParameter, bindparam, case, delete, exists, func, select, update
from sqlmodel import Session, col

from contracts.mek import AcceptedCase, Earlier, EarlierCase, Period, PeriodBook
from contracts.protocol import Problem
from omsx.errors import Busy
from storage.bulk import insert_row, table_of
from storage.care import (
    ApplyLease,
    ApplyProgress,
    Attachment,
    CareCase,
    Insurance,
    Invoice,
    Person,
    RecordProblem,
    Sanction,
)
from storage.models import Package, State, utcnow

PERSON_FIELDS = ("fam", "im", "ot", "w", "dr", "snils", "doctype", "docser", "docnum")


# ------------------------------------------------------------ leases and progress


_PROGRESS = table_of(ApplyProgress)
_PACKAGE = table_of(Package)
_LEASE = table_of(ApplyLease)
_BATCHES_DONE = select(_PROGRESS.c.batches).where(
    _PROGRESS.c.package_id == bindparam("progress_of")
)
_ADVANCE = (
    update(_PROGRESS)
    .where(_PROGRESS.c.package_id == bindparam("progress_of"))
    .values(
        batches=case(
            (_PROGRESS.c.batches < bindparam("done"), bindparam("done")),
            else_=_PROGRESS.c.batches,
        ),
        updated_at=bindparam("now"),
    )
)
_BEAT = (
    update(_PACKAGE)
    .where(_PACKAGE.c.id == bindparam("beat_of"))
    .values(updated_at=bindparam("now"))
)
_LEASE_HOLDER = (
    select(_LEASE.c.package_id, _LEASE.c.acquired_at, _PACKAGE.c.state)
    .select_from(_LEASE.outerjoin(_PACKAGE, _PACKAGE.c.id == _LEASE.c.package_id))
    .where(_LEASE.c.scope == bindparam("lease_scope"))
)
_RELEASE_LEASE = delete(_LEASE).where(
    _LEASE.c.scope == bindparam("lease_scope"), _LEASE.c.package_id == bindparam("holder")
)


def acquire_lease(
    session: Session,
    scope: str,
    package_id: int,
    *,
    stale_after: timedelta,
    insert_first: bool = False,
) -> None:
    """Take the scope for ``package_id`` or raise :class:`Busy` (retried later).

    A lease held by a package that is no longer applying, or older than
    ``stale_after``, is taken over: its holder crashed or was quarantined.
    It reads first — a package waiting for the scope polls this, and on SQLite even an
    INSERT that meets the held key takes the write lock — unless ``insert_first``: the
    caller's transaction has written already, and the insert mostly succeeds.
    """
    now = utcnow()
    held = None
    if not insert_first:
        held = session.execute(_LEASE_HOLDER, {"lease_scope": scope}).one_or_none()
    if held is None:
        lease = {"scope": scope, "package_id": package_id, "acquired_at": now}
        if insert_row(session, ApplyLease, lease):
            return
        held = session.execute(_LEASE_HOLDER, {"lease_scope": scope}).one_or_none()
        if held is None:  # taken and released meanwhile: try again later
            raise Busy(f"scope {scope} changed hands")
    holder_id, acquired, holder_state = held
    if holder_id == package_id:
        return
    if acquired.tzinfo is None:  # SQLite hands back naive datetimes
        acquired = acquired.replace(tzinfo=now.tzinfo)
    if holder_state != State.APPLYING.value or now - acquired > stale_after:
        taken = session.execute(
            update(_LEASE)
            .where(_LEASE.c.scope == scope, _LEASE.c.package_id == holder_id)
            .values(package_id=package_id, acquired_at=now)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return
    raise Busy(f"scope {scope} is being applied by package {holder_id}")


def release_lease(session: Session, scope: str, package_id: int) -> None:
    session.execute(_RELEASE_LEASE, {"lease_scope": scope, "holder": package_id})


def batches_done(session: Session, package_id: int) -> int:
    done = session.execute(_BATCHES_DONE, {"progress_of": package_id}).scalar_one_or_none()
    return int(done) if done is not None else 0


def advance(session: Session, package_id: int, batches: int) -> None:
    """Record that ``batches`` batches are committed (in the batch's own transaction)."""
    now = utcnow()
    moved = session.execute(_ADVANCE, {"progress_of": package_id, "done": batches, "now": now})
    if moved.rowcount == 0:  # type: ignore[attr-defined]
        insert_row(
            session,
            ApplyProgress,
            {"package_id": package_id, "batches": batches, "updated_at": now},
        )
    # a heartbeat: the sweeper leaves a package alone while its batches keep coming
    session.execute(_BEAT, {"beat_of": package_id, "now": now})


# ------------------------------------------------------------------ the registry


def in_chunks(values: Collection[Any], size: int = 5_000) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


_WANTED: BindParameter[Any] = bindparam("wanted", expanding=True)  # a chunk of keys (ENP, IDCASE …)
_INSURANCE = table_of(Insurance)
_ATTACHMENT = table_of(Attachment)
_INSURANCE_OF = select(
    _INSURANCE.c.enp, _INSURANCE.c.smo, _INSURANCE.c.dbeg, _INSURANCE.c.dend
).where(_INSURANCE.c.enp.in_(_WANTED))
_PERIODS_OF = {  # (row id, ENP, holder, from, to): the holder is the СМО or the МО
    model: select(t.c.id, t.c.enp, t.c[holder], t.c.dbeg, t.c.dend).where(t.c.enp.in_(_WANTED))
    for model, t, holder in ((Insurance, _INSURANCE, "smo"), (Attachment, _ATTACHMENT, "mo"))
}


def insurance_of(session: Session, enps: Collection[str]) -> dict[str, list[Period]]:
    out: dict[str, list[Period]] = {}
    for chunk in in_chunks(enps):
        for enp, smo, dbeg, dend in session.execute(_INSURANCE_OF, {"wanted": chunk}):
            out.setdefault(enp, []).append(Period(smo, dbeg, dend))
    return out


def period_book(
    session: Session, model: type[Insurance] | type[Attachment], enps: Collection[str]
) -> PeriodBook:
    """The stored periods of ``enps`` (insurance: holder = СМО, attachment: holder = МО)."""
    book = PeriodBook()
    for chunk in in_chunks(enps):
        for row_id, enp, code, dbeg, dend in session.execute(_PERIODS_OF[model], {"wanted": chunk}):
            book.load(enp, Period(code, dbeg, dend), row_id)
    return book


def _earlier_by(column: str) -> Any:
    """The cases of an МО, from other packages, whose ``column`` is one of a list."""
    case_ = table_of(CareCase)
    later = case_.alias("later")
    replaced = exists().where(later.c.replaces == case_.c.id)
    c = case_.c
    return select(
        c.id, c.package_id, c.idcase, c.year, c.month, c.status, replaced,
        c.enp, c.date_z_1, c.date_z_2, c.profil,
    ).where(
        c.code_mo == bindparam("code_mo"),
        c[column].in_(_WANTED),
        c.package_id != bindparam("package_id"),
    )  # fmt: skip


# built once: building them per call cost a register ~2 ms (the aliased subquery)
_EARLIER_BY_IDCASE = _earlier_by("idcase")
_EARLIER_BY_ENP = _earlier_by("enp")


def earlier_cases(
    session: Session,
    code_mo: str,
    idcases: Collection[str],
    enps: Collection[str],
    *,
    package_id: int,
) -> Earlier:
    """Cases of ``code_mo`` from other packages with these IDCASE or these people."""
    earlier = Earlier()
    for statement, values in ((_EARLIER_BY_IDCASE, idcases), (_EARLIER_BY_ENP, enps)):
        for chunk in in_chunks(values):
            rows = session.execute(
                statement, {"code_mo": code_mo, "wanted": chunk, "package_id": package_id}
            )
            for case_id, pkg, idcase, year, month, status, gone, enp, z1, z2, profil in rows:
                earlier.add(
                    EarlierCase(
                        case_id,
                        pkg,
                        idcase,
                        (year, month),
                        status,
                        bool(gone),
                        (enp, z1, z2, profil),
                    )
                )
    return earlier


def digest_of(details: Mapping[str, Any]) -> str:
    text = "\x1f".join("" if details.get(k) is None else str(details[k]) for k in PERSON_FIELDS)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


_PERSON = table_of(Person)
_PERSONS = select(
    _PERSON.c.enp, _PERSON.c.digest, *(_PERSON.c[name] for name in PERSON_FIELDS)
).where(_PERSON.c.enp.in_(_WANTED))


def current_persons(session: Session, enps: Collection[str]) -> dict[str, dict[str, Any]]:
    """The registry's current details (and ``digest``) of those of ``enps`` it knows."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in in_chunks(enps):
        for enp, digest, *values in session.execute(_PERSONS, {"wanted": chunk}):
            out[enp] = {"digest": digest, **dict(zip(PERSON_FIELDS, values, strict=True))}
    return out


def decisions(
    session: Session, package_id: int, first: int, last: int
) -> dict[int, tuple[str, str, int]]:
    """Stored cases of positions ``first..last``: pos → (status, ID_PAC, SUMV kopecks)."""
    rows = session.execute(
        select(
            col(CareCase.pos), col(CareCase.status), col(CareCase.id_pac), col(CareCase.sumv_kop)
        ).where(
            col(CareCase.package_id) == package_id,
            col(CareCase.pos).between(first, last),
        )
    )
    return {pos: (status, id_pac, sumv) for pos, status, id_pac, sumv in rows}


def accepted_for_sanctions(
    session: Session, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], AcceptedCase]:
    """Accepted cases by (CODE_MO, IDCASE), with the sanctions stored on them so far."""
    out: dict[tuple[str, str], AcceptedCase] = {}
    by_mo: dict[str, set[str]] = {}
    for code_mo, idcase in keys:
        by_mo.setdefault(code_mo, set()).add(idcase)
    sanctioned = (
        select(func.coalesce(func.sum(Sanction.s_sum_kop), 0))
        .where(col(Sanction.case_id) == CareCase.id)
        .scalar_subquery()
    )
    for code_mo, idcases in by_mo.items():
        for chunk in in_chunks(idcases):
            rows = session.execute(
                select(
                    col(CareCase.id),
                    col(CareCase.invoice_id),
                    col(CareCase.idcase),
                    col(CareCase.payer),
                    col(Invoice.nschet),
                    col(Invoice.year),
                    col(Invoice.month),
                    col(CareCase.sump_kop),
                    sanctioned,
                )
                .join(Invoice, col(Invoice.id) == CareCase.invoice_id)
                .where(
                    col(CareCase.code_mo) == code_mo,
                    col(CareCase.idcase).in_(chunk),
                    col(CareCase.status) == "accepted",
                )
            )
            for case_id, invoice_id, idcase, payer, nschet, year, month, sump, sank in rows:
                out[code_mo, idcase] = AcceptedCase(
                    case_id, invoice_id, payer, nschet, year, month, sump, int(sank or 0)
                )
    return out


def sanction_codes(session: Session, case_ids: Collection[int]) -> dict[int, set[str]]:
    """S_CODEs already stored on each case."""
    out: dict[int, set[str]] = {}
    for chunk in in_chunks(case_ids):
        for case_id, code in session.execute(
            select(col(Sanction.case_id), col(Sanction.s_code)).where(
                col(Sanction.case_id).in_(chunk)
            )
        ):
            out.setdefault(case_id, set()).add(code)
    return out


# ------------------------------------------------------------------- the money


def recompute_invoices(session: Session, invoice_ids: Collection[int]) -> None:
    """Each invoice's figures from its cases and their sanctions (idempotent)."""
    for invoice_id in invoice_ids:
        totals = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(CareCase.sumv_kop), 0),
                func.coalesce(func.sum(CareCase.sump_kop), 0),
                func.coalesce(func.sum(CareCase.refused_kop), 0),
                func.coalesce(func.sum(CareCase.mee_kop), 0),
                func.coalesce(func.sum(CareCase.ekmp_kop), 0),
                func.coalesce(func.sum(_is(CareCase.status, "accepted")), 0),
            ).where(col(CareCase.invoice_id) == invoice_id)
        ).one()
        cases, presented, accepted, refused, mee, ekmp, n_acc = (int(v) for v in totals)
        session.execute(
            update(Invoice)
            .where(col(Invoice.id) == invoice_id)
            .values(
                cases=cases,
                presented_kop=presented,
                accepted_kop=accepted,
                refused_kop=refused,
                mee_kop=mee,
                ekmp_kop=ekmp,
                payable_kop=accepted - mee - ekmp,
                accepted=n_acc,
                refused=cases - n_acc,
                updated_at=utcnow(),
            )
        )


def recompute_case_sanctions(session: Session, case_ids: Collection[int]) -> None:
    """Each case's МЭЭ/ЭКМП totals from its sanctions (idempotent)."""
    for chunk in in_chunks(case_ids):
        for kind, column in (("mee", "mee_kop"), ("ekmp", "ekmp_kop")):
            total = (
                select(func.coalesce(func.sum(Sanction.s_sum_kop), 0))
                .where(col(Sanction.case_id) == CareCase.id, col(Sanction.kind) == kind)
                .scalar_subquery()
            )
            session.execute(
                update(CareCase).where(col(CareCase.id).in_(chunk)).values({column: total})
            )


def _is(column: Any, value: str) -> Any:
    return case((column == value, 1), else_=0)


_PROBLEM_FIELDS = ("oshib", "comment", "im_pol", "bas_el", "n_zap", "idcase", "sl_id", "id_pac",
                   "zn_pol")  # fmt: skip
_PROBLEMS = table_of(RecordProblem)
_PROBLEMS_OF = (
    select(_PROBLEMS.c.pos, *(_PROBLEMS.c[name] for name in _PROBLEM_FIELDS))
    .where(_PROBLEMS.c.package_id == bindparam("problems_of"))
    .order_by(_PROBLEMS.c.pos, _PROBLEMS.c.id)
)


def record_problems(session: Session, package_id: int) -> tuple[list[Problem], int]:
    """The stateful rules' protocol lines of the package, and how many of its records
    they refused: each refusal stores its lines (``recordproblem``), FLK's none."""
    problems: list[Problem] = []
    positions: set[int] = set()
    for pos, *values in session.execute(_PROBLEMS_OF, {"problems_of": package_id}):
        positions.add(pos)
        problems.append(Problem(**dict(zip(_PROBLEM_FIELDS, values, strict=True))))
    return problems, len(positions)


def problem_row(package_id: int, pos: int, problem: Problem) -> dict[str, Any]:
    return {
        "package_id": package_id,
        "pos": pos,
        "oshib": problem.oshib,
        "im_pol": problem.im_pol,
        "bas_el": problem.bas_el,
        "n_zap": problem.n_zap,
        "idcase": problem.idcase,
        "sl_id": problem.sl_id,
        "id_pac": problem.id_pac,
        "zn_pol": problem.zn_pol,
        "comment": problem.comment,
    }
