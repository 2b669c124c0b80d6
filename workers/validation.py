"""Stage ``validate``: FLK — the package checks (801–808), then every file's structure,
keys and stateless rules (901–905 and the catalogue), streaming from the stored bytes.

A package whose files are rejected, or whose every record is refused, is concluded
here with its protocol (RESULT R). Otherwise the FLK outcome (the protocol so far and
the refused records) is stored and the package moves to ``checked`` for ``apply``:
in this delivery when the package is small (``OMSX_APPLY_INLINE_MAX_BYTES``) — one
Dramatiq hop and one crash-guard count fewer for most of a region's traffic, and the
move commits with apply's start, its name claim and its first try at the scope's
lease — else through the ``apply`` queue. Such a package is not even entered
(``validating``): read, checked, and its first write is that move (or its rejection),
its timeline's ``started`` line written then, with the time FLK began. The delivery
keeps its hold on a small package until apply concludes it, so a worker that dies in
the inline apply is counted towards the quarantine as in ``apply``'s own deliveries;
the message delivered again finds the package received (FLK again) or applying, and
goes on with apply.
Contract failures are outcomes, not exceptions: only transient failures (database,
blob store) raise and are retried.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from contracts.flk import Environment, FlkResult, check_flk
from contracts.package import Limits, Subject
from contracts.protocol import Code, Problem, Protocol, render_protocol
from omsx.errors import ContractError
from omsx.settings import Settings, get_settings
from storage.blobs import BlobStore
from storage.bulk import put_row
from storage.db import session_scope
from storage.models import FlkOutcome, Package, State, utcnow
from storage.packages import add_event, enter, first_receipt_seq, read_package, transition
from storage.refs import directories, participants
from workers.apply import IN_FLIGHT as APPLYING
from workers.apply import apply, apply_package
from workers.broker import current_attempt, pipeline_actor
from workers.outcome import conclude, package_base
from workers.replies import answer_now

IN_FLIGHT = (State.RECEIVED, State.VALIDATING)


def limits(settings: Settings) -> Limits:
    return Limits(
        max_package_bytes=settings.max_package_bytes,
        max_uncompressed_bytes=settings.max_uncompressed_bytes,
        max_ratio=settings.max_ratio,
    )


def environment(settings: Settings, *, keep: int = 0) -> Environment:
    return Environment(
        participants=participants.get(),
        refs=directories.get(),
        region=settings.region,
        today=settings.today(),
        limits=limits(settings),
        workers=settings.flk_workers or os.cpu_count() or 1,
        parallel_min_bytes=settings.flk_parallel_min_bytes,
        keep=keep,
    )


def run_flk(package: Package, settings: Settings, *, keep: int = 0) -> FlkResult | Problem:
    """FLK of a stored package; a Problem when even its subject is not one we accept.
    ``keep``: files of at most this many records hand them back (the inline apply's)."""
    try:
        subject = Subject.parse(package.subject)
    except ContractError as exc:
        return Problem(
            oshib=str(int(Code.UNSUPPORTED)),
            im_pol="subject",
            zn_pol=package.subject,
            comment=str(exc),
        )
    return check_flk(
        BlobStore(settings.blobs).path(package.sha256),
        file_name=package.file_name,
        subject=subject,
        env=environment(settings, keep=keep),
    )


def inline_apply(package: Package, settings: Settings) -> bool:
    """Whether ``validate`` applies the package itself (see the module docstring)."""
    return package.size <= settings.apply_inline_max_bytes


@pipeline_actor("validate")
def validate(package_id: int) -> None:
    settings = get_settings()
    attempt = current_attempt()
    begun = _begin(package_id, settings, attempt)
    if begun is None:
        return
    package, stage = begun
    inline = stage.unentered_since is not None
    started = time.perf_counter()
    # the delivery beats meanwhile (workers.heartbeat); the inline apply takes the records
    checked = run_flk(package, settings, keep=settings.apply_batch if inline else 0)
    stage.ms = int((time.perf_counter() - started) * 1000)
    if isinstance(checked, Problem):
        protocol = Protocol.rejected(package_base(package), checked)
    else:
        protocol = checked.protocol
    if protocol.result != "R" and inline:
        assert isinstance(checked, FlkResult)
        flk, entered = checked, package
        apply_package(  # in this delivery; the move to checked commits with apply's start
            package_id,
            checked=lambda session: _checked(session, entered, flk, stage, hold=True),
            flk=flk,
        )
        return
    with session_scope() as session:
        if protocol.result == "R":
            seq = first_receipt_seq(session, package_id)  # read before the first write
            stage.started(session, package_id)
            moved = conclude(
                session,
                package,
                protocol,
                source=IN_FLIGHT,
                target=State.REJECTED,
                stage="validate",
                attempt=attempt,
                duration_ms=stage.ms,
                receipt_seq=seq,
            )
        else:
            assert isinstance(checked, FlkResult)
            moved = _checked(session, package, checked, stage, hold=False)
    if not moved:
        return
    if protocol.result == "R":
        answer_now(package_id)
    else:
        apply.send(package_id)


def _begin(package_id: int, settings: Settings, attempt: int) -> tuple[Package, _Stage] | None:
    """The package, if this delivery is to validate it. A small package (the inline
    apply's) is only read: its first write is its move to ``checked`` or its rejection,
    one transaction fewer; a larger one is entered (``validating``) for its long FLK."""
    started_at = utcnow()
    with session_scope() as session:
        package = read_package(session, package_id)
    if package is None:
        return None
    inline = inline_apply(package, settings)
    if package.state not in IN_FLIGHT:  # another run concluded it, or it is past this stage
        if package.state in APPLYING and inline:
            apply_package(package_id)  # this message's inline apply died with its worker
        return None
    if inline:
        return package, _Stage(attempt, started_at)
    with session_scope() as session:
        entered = enter(session, package_id, source=IN_FLIGHT, target=State.VALIDATING,
                        stage="validate", attempt=attempt)  # fmt: skip
    return None if entered is None else (entered, _Stage(attempt, None))


@dataclass
class _Stage:
    """This delivery's validation: its attempt, its FLK's duration, and — for a package
    that was not entered (a small one: :func:`inline_apply`) — when it started: the
    timeline's ``started`` line, written with its first move (as the move's entry wrote
    it, whether or not the move then finds another run got there first)."""

    attempt: int
    unentered_since: datetime | None
    ms: int = 0

    def started(self, session: Session, package_id: int) -> None:
        if self.unentered_since is not None:
            add_event(session, package_id, "validate", "started", attempt=self.attempt,
                      at=self.unentered_since)  # fmt: skip


def _checked(session: Session, package: Package, flk: FlkResult, stage: _Stage, *,
             hold: bool) -> bool:  # fmt: skip
    """Store the FLK outcome and move the package to ``checked``; ``hold``: this delivery
    applies it too, and keeps its crash-guard hold on it."""
    assert package.id is not None
    name = flk.package.name
    stage.started(session, package.id)
    moved = transition(
        session,
        package.id,
        source=IN_FLIGHT,
        target=State.CHECKED,
        stage="validate",
        outcome="checked",
        attempt=stage.attempt,
        duration_ms=stage.ms,
        detail=f"accepted={flk.protocol.n_acc} refused={flk.protocol.n_rej}",
        records=flk.main.records if flk.main else 0,
        file_type=name.type if name else None,
        period=f"{name.year:02d}{name.month:02d}" if name else None,
        release=not hold,
    )
    if moved:
        outcome = {  # a re-driven run's newer outcome replaces the stored one
            "package_id": package.id,
            "protocol": render_protocol(flk.protocol),
            "refused": json.dumps({str(k): v for k, v in sorted(flk.refused.items())}),
            "format_version": flk.main.fmt.version if flk.main and flk.main.fmt else "",
        }
        put_row(session, FlkOutcome, outcome, key=("package_id",))
    return moved
