"""Stage ``validate``: FLK — the package checks (801–808), then every file's structure,
keys and stateless rules (901–905 and the catalogue), streaming from the stored bytes.

A package whose files are rejected, or whose every record is refused, is concluded
here with its protocol (RESULT R). Otherwise the FLK outcome (the protocol so far and
the refused records) is stored and the package moves to ``checked`` for ``apply``.
Contract failures are outcomes, not exceptions: only transient failures (database,
blob store) raise and are retried.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date

from sqlmodel import Session

from contracts.flk import Environment, FlkResult, check_flk
from contracts.package import Limits, Subject
from contracts.protocol import Code, Problem, Protocol, render_protocol
from omsx.errors import ContractError
from omsx.settings import Settings, get_settings
from storage.blobs import BlobStore
from storage.db import session_scope
from storage.models import FlkOutcome, Package, State
from storage.packages import transition
from storage.refs import directories, participants
from workers.apply import apply
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


def environment(settings: Settings) -> Environment:
    return Environment(
        participants=participants.get(),
        refs=directories.get(),
        region=settings.region,
        today=date.today(),
        limits=limits(settings),
        workers=settings.flk_workers or os.cpu_count() or 1,
        parallel_min_bytes=settings.flk_parallel_min_bytes,
    )


def run_flk(package: Package, settings: Settings) -> FlkResult | Problem:
    """FLK of a stored package; a Problem when even its subject is not one we accept."""
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
        env=environment(settings),
    )


@pipeline_actor("validate")
def validate(package_id: int) -> None:
    settings = get_settings()
    attempt = current_attempt()
    with session_scope() as session:
        if not transition(
            session,
            package_id,
            source=IN_FLIGHT,
            target=State.VALIDATING,
            stage="validate",
            outcome="started",
            attempt=attempt,
        ):
            return  # another run concluded it, or it is past this stage
        package = session.get(Package, package_id)
    assert package is not None
    started = time.perf_counter()
    checked = run_flk(package, settings)  # the delivery beats meanwhile (workers.heartbeat)
    ms = int((time.perf_counter() - started) * 1000)
    if isinstance(checked, Problem):
        protocol = Protocol.rejected(package_base(package), checked)
    else:
        protocol = checked.protocol
    with session_scope() as session:
        if protocol.result == "R":
            moved = conclude(
                session,
                package,
                protocol,
                source=(State.VALIDATING,),
                target=State.REJECTED,
                stage="validate",
                attempt=attempt,
                duration_ms=ms,
            )
        else:
            assert isinstance(checked, FlkResult)
            moved = _checked(session, package, checked, attempt=attempt, ms=ms)
    if moved:
        if protocol.result == "R":
            answer_now(package_id)
        else:
            apply.send(package_id)


def _checked(session: Session, package: Package, flk: FlkResult, *, attempt: int, ms: int) -> bool:
    assert package.id is not None
    name = flk.package.name
    moved = transition(
        session,
        package.id,
        source=(State.VALIDATING,),
        target=State.CHECKED,
        stage="validate",
        outcome="checked",
        attempt=attempt,
        duration_ms=ms,
        detail=f"accepted={flk.protocol.n_acc} refused={flk.protocol.n_rej}",
        records=flk.main.records if flk.main else 0,
        file_type=name.type if name else None,
        period=f"{name.year:02d}{name.month:02d}" if name else None,
    )
    if moved:
        existing = session.get(FlkOutcome, package.id)
        if existing is not None:  # a re-driven run: the newer outcome wins
            session.delete(existing)
            session.flush()
        session.add(
            FlkOutcome(
                package_id=package.id,
                protocol=render_protocol(flk.protocol),
                refused=json.dumps({str(k): v for k, v in sorted(flk.refused.items())}),
                format_version=flk.main.fmt.version if flk.main and flk.main.fmt else "",
            )
        )
    return moved
