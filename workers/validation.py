"""Stage ``validate``: the package-level checks (801–808) on the stored bytes.

A package that fails is concluded here with its protocol (RESULT R); one that passes
moves to ``checked`` and is handed to ``apply``. Contract failures are outcomes, not
exceptions: only transient failures (database, blob store) raise and are retried.
"""

from __future__ import annotations

import time

from contracts.package import Limits, PackageCheck, Subject, check_package
from contracts.protocol import Code, Problem, Protocol
from omsx.errors import ContractError
from omsx.settings import Settings, get_settings
from storage.blobs import BlobStore
from storage.db import session_scope
from storage.models import Package, State
from storage.packages import transition
from storage.refs import participants
from workers.apply import apply
from workers.broker import current_attempt, pipeline_actor
from workers.outcome import conclude, package_base
from workers.replies import publish_protocols

IN_FLIGHT = (State.RECEIVED, State.VALIDATING)


def limits(settings: Settings) -> Limits:
    return Limits(
        max_package_bytes=settings.max_package_bytes,
        max_uncompressed_bytes=settings.max_uncompressed_bytes,
        max_ratio=settings.max_ratio,
    )


def run_checks(package: Package, settings: Settings) -> PackageCheck | Problem:
    """The package-level checks; a Problem when the subject itself is not one we accept."""
    try:
        subject = Subject.parse(package.subject)
    except ContractError as exc:
        return Problem(
            oshib=str(int(Code.UNSUPPORTED)),
            im_pol="subject",
            zn_pol=package.subject,
            comment=str(exc),
        )
    return check_package(
        BlobStore(settings.blobs).path(package.sha256),
        file_name=package.file_name,
        subject=subject,
        participants=participants.get(),
        region=settings.region,
        limits=limits(settings),
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
    checked = run_checks(package, settings)
    ms = int((time.perf_counter() - started) * 1000)
    with session_scope() as session:
        if isinstance(checked, Problem) or not checked.ok:
            problem = checked if isinstance(checked, Problem) else checked.problems[0]
            concluded = conclude(
                session,
                package,
                Protocol.rejected(package_base(package), problem),
                source=(State.VALIDATING,),
                target=State.REJECTED,
                stage="validate",
                attempt=attempt,
                duration_ms=ms,
            )
            follow = "reply" if concluded else None
        else:
            name = checked.name
            moved = transition(
                session,
                package_id,
                source=(State.VALIDATING,),
                target=State.CHECKED,
                stage="validate",
                outcome="checked",
                attempt=attempt,
                duration_ms=ms,
                records=checked.records,
                file_type=name.type if name else None,
                period=f"{name.year:02d}{name.month:02d}" if name else None,
            )
            follow = "apply" if moved else None
    _hand_over(follow, package_id)


def _hand_over(follow: str | None, package_id: int) -> None:
    if follow == "reply":
        publish_protocols.send(package_id)
    elif follow == "apply":
        apply.send(package_id)
