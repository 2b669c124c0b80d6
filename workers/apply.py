"""Stage ``apply``: a checked package's data lands once, its name is claimed, it is answered.

The name is claimed first: a second package under an accepted name is a 805 duplicate
and nothing of it is applied (exchange.md §5). Otherwise the kind's applier runs
(registers, erz, attach, expert, and hosp, tmk, appeal, schedule for the
information resource), holding the lease of its scope so two packages of one МО — or
two erz files — never interleave. The applier's stateful-rule lines join the protocol
FLK stored, and the final state, the protocol and the forward to the paying СМО
commit together in the outbox, so each is published exactly once. A package of one
batch (most of a region's traffic) is applied in one transaction, from the applier's
first read to that conclusion; a larger one commits batch by batch and a run after a
crash resumes at the first batch not committed.

A package whose scope is held by another waits for it in its delivery, a little
(``OMSX_APPLY_LEASE_WAIT_S``: the small packages of a scope follow each other in
milliseconds), and is then sent again after a delay (not a retry: waiting for a
neighbour is not a failure) rather than hold a worker thread while a large register
is applied.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session

from contracts.flk import FlkResult
from contracts.protocol import Protocol, parse_protocol
from messages import headers as H
from messages.subjects import outbound
from omsx.errors import Busy
from omsx.logs import get_logger
from omsx.settings import Settings, get_settings
from storage.db import one_transaction, session_scope
from storage.models import FlkOutcome, Package, State
from storage.packages import add_outbox, claim_name, enter, first_receipt, first_receipt_seq
from storage.registry import acquire_lease, release_lease
from workers.batches import Applied, Forward, one_batch
from workers.broker import current_attempt, pipeline_actor
from workers.claims import apply_expert
from workers.events import apply_appeal, apply_hosp, apply_schedule, apply_tmk
from workers.outcome import conclude, duplicate_of, package_base
from workers.persons import apply_attach, apply_erz
from workers.registry import apply_register, refused_positions
from workers.replies import answer_now

log = get_logger("workers.apply")

IN_FLIGHT = (State.CHECKED, State.APPLYING)
FIRST_PAUSE_S = 0.005
LONGEST_PAUSE_S = 0.05  # another process's release is seen within this
_released = threading.Condition()  # this process's releases wake its waiters at once
Applier = Callable[[Package, dict[int, str], Settings, FlkResult | None], Applied]
APPLIERS: dict[str, Applier] = {
    "registry": apply_register,
    "erz": apply_erz,
    "attach": apply_attach,
    "expert": apply_expert,
    "hosp": apply_hosp,
    "tmk": apply_tmk,
    "appeal": apply_appeal,
    "schedule": apply_schedule,
}


def lease_scope(package: Package) -> str | None:
    """Packages of one scope are applied one at a time (see the module docstring)."""
    if package.kind == "registry":
        return f"registry:{package.sender_code}"
    return package.kind if package.kind in APPLIERS else None


def merged_protocol(flk: Protocol, applied: Applied) -> Protocol:
    """FLK's protocol with the stateful rules' lines and counts."""
    if not applied.problems and not applied.refused:
        return flk
    n_acc = max(flk.n_acc - applied.refused, 0)
    return Protocol.decide(
        flk.fname_i,
        n_acc=n_acc,
        n_rej=flk.n_rej + (flk.n_acc - n_acc),
        problems=[*flk.problems, *applied.problems],
    )


def _flk(
    session: Session, package_id: int, base: str, records: int
) -> tuple[Protocol, dict[int, str]]:
    """The protocol FLK produced at validation (A or P) and the records it refused."""
    outcome = session.get(FlkOutcome, package_id)
    if outcome is None:  # checked before FLK outcomes were stored
        return Protocol.decide(base, n_acc=records, n_rej=0, problems=[]), {}
    return parse_protocol(outcome.protocol), refused_positions(outcome.refused)


@pipeline_actor("apply")
def apply(package_id: int) -> None:
    apply_package(package_id)


Step = Callable[[Session], bool]


@dataclass
class _Started:
    """The start of an apply, committed: the package, its FLK outcome and its scope —
    or, under a name accepted already, its 805 (``protocol`` None)."""

    package: Package
    protocol: Protocol | None = None
    refused: dict[int, str] = field(default_factory=dict)
    scope: str | None = None
    leased: bool = True
    concluded: bool = False  # the duplicate's conclusion was this run's


def apply_package(
    package_id: int,
    *,
    checked: Step | None = None,
    flk: FlkResult | None = None,
) -> None:
    """Apply a checked package. ``validate``, applying a small package in its own
    delivery, passes ``checked`` — its move of the package to ``checked``, which commits
    with apply's start (False: the move did not happen, nothing to do) — and ``flk``, its
    FLK result: the protocol and refused records it just stored, so they are not read
    back, and the files' records when FLK kept them, so they are not parsed again."""
    settings = get_settings()
    attempt = current_attempt()
    started = time.perf_counter()
    with session_scope() as session:
        # read before the first write: on SQLite a read after it holds the write lock
        receipt_seq = first_receipt_seq(session, package_id)
        if checked is not None and not checked(session):
            return
        start = _start(session, package_id, flk, settings, attempt=attempt, started=started,
                       receipt_seq=receipt_seq)  # fmt: skip
    if start is None:
        return
    if start.protocol is None:
        if start.concluded:
            answer_now(package_id)
        return
    package, protocol, refused, scope = start.package, start.protocol, start.refused, start.scope
    if scope is not None and not start.leased:
        busy = take_scope(scope, package_id, settings)
        if busy is not None:
            on_busy(package_id, busy, settings)
            return
    applier = APPLIERS.get(package.kind)
    single = one_batch(package, settings)
    with one_transaction() if single else nullcontext():
        parsed = flk if single else None  # kept records are one batch at most
        applied = applier(package, refused, settings, parsed) if applier else Applied()
        with session_scope() as session:
            concluded = conclude(
                session,
                package,
                merged_protocol(protocol, applied),
                source=(State.APPLYING,),
                target=State.APPLIED,
                stage="apply",
                attempt=attempt,
                duration_ms=int((time.perf_counter() - started) * 1000),
                receipt_seq=receipt_seq,
            )
            if concluded and applied.forward is not None:
                queue_forward(session, package, applied.forward)
            if scope is not None:
                release_lease(session, scope, package_id)
    if scope is not None:
        with _released:
            _released.notify_all()
    if concluded:
        answer_now(package_id)  # reads what it owes after the commit, holding no lock


def _start(
    session: Session,
    package_id: int,
    flk: FlkResult | None,
    settings: Settings,
    *,
    attempt: int,
    started: float,
    receipt_seq: int | None,
) -> _Started | None:
    """Move the package to ``applying`` and claim its name; None if another run has it."""
    package = enter(session, package_id, source=IN_FLIGHT, target=State.APPLYING, stage="apply",
                    attempt=attempt, pin_batch=settings.apply_batch)  # fmt: skip
    if package is None:
        return None
    base = package_base(package)
    earlier_id = claim_name(session, package, base)
    if earlier_id is not None and earlier_id != package_id:
        earlier = session.get(Package, earlier_id)
        assert earlier is not None
        concluded = conclude(
            session,
            package,
            duplicate_of(package, earlier, first_receipt(session, earlier_id), same_bytes=False),
            source=(State.APPLYING,),
            target=State.DUPLICATE,
            stage="apply",
            attempt=attempt,
            duration_ms=int((time.perf_counter() - started) * 1000),
            receipt_seq=receipt_seq,
        )
        return _Started(package, concluded=concluded)
    if flk is not None:
        protocol, refused = flk.protocol, flk.refused
    else:
        protocol, refused = _flk(session, package_id, base, package.records or 0)
    scope = lease_scope(package)
    # the first try at the scope commits with the start: one transaction fewer
    leased = scope is None or _try_scope(session, scope, package_id, settings)
    return _Started(package, protocol, refused, scope, leased)


def _try_scope(session: Session, scope: str, package_id: int, settings: Settings) -> bool:
    try:  # inside the start's write transaction: the insert first, a read only if it fails
        acquire_lease(session, scope, package_id, insert_first=True,
                      stale_after=timedelta(seconds=settings.apply_lease_stale_s))  # fmt: skip
    except Busy:  # raised after reads or a write that changed nothing
        return False
    return True


def take_scope(scope: str, package_id: int, settings: Settings) -> Busy | None:
    """Take the scope's lease, waiting up to ``apply_lease_wait_s`` for its holder;
    the last :class:`Busy` if it is still held then."""
    deadline = time.monotonic() + settings.apply_lease_wait_s
    pause = FIRST_PAUSE_S
    while True:
        try:
            with session_scope() as session:
                acquire_lease(
                    session,
                    scope,
                    package_id,
                    stale_after=timedelta(seconds=settings.apply_lease_stale_s),
                )
        except Busy as exc:
            if time.monotonic() + pause > deadline:
                return exc
            with _released:
                _released.wait(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)
        else:
            return None


def queue_forward(session: Session, package: Package, forward: Forward) -> bool:
    """The accepted records for the paying СМО, once per package (by Nats-Msg-Id)."""
    headers = {
        H.SHA256: forward.sha256,
        H.SOURCE: package.sha256,
        H.RECORDS: str(forward.records),
    }
    return add_outbox(
        session,
        package_id=package.id,
        subject=outbound(forward.party, "registry"),
        msg_id=f"registry-{package.sha256}",
        file_name=forward.file_name,
        body=b"",
        blob_sha=forward.sha256,
        kind="registry",
        headers=json.dumps(headers),
    )


def on_busy(package_id: int, exc: Busy, settings: Settings) -> None:
    log.info("apply.busy", package_id=package_id, reason=str(exc))
    apply.send_with_options(args=(package_id,), delay=int(settings.apply_busy_delay_s * 1000))
