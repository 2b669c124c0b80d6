"""Stage ``apply``: a checked package's data lands, its name is claimed, it is answered.

The name claim and the final state commit together with the protocol: a second
package under an accepted name is a 805 duplicate (exchange.md §5). The protocol is
the one FLK stored at validation; the per-kind appliers and the stateful MEK rules
(registry issue) plug in here.
"""

from __future__ import annotations

import time

from sqlmodel import Session

from contracts.protocol import Protocol, parse_protocol
from storage.db import session_scope
from storage.models import FlkOutcome, Package, State
from storage.packages import claim_name, first_receipt, transition
from workers.broker import current_attempt, pipeline_actor
from workers.outcome import conclude, duplicate_of, package_base
from workers.replies import publish_protocols

IN_FLIGHT = (State.CHECKED, State.APPLYING)


def _flk_protocol(session: Session, package_id: int, base: str, records: int) -> Protocol:
    """The protocol FLK produced at validation (A or P); MEK lines join it here later."""
    outcome = session.get(FlkOutcome, package_id)
    if outcome is None:  # checked before FLK outcomes were stored
        return Protocol.decide(base, n_acc=records, n_rej=0, problems=[], file_rejected=False)
    return parse_protocol(outcome.protocol)


@pipeline_actor("apply")
def apply(package_id: int) -> None:
    attempt = current_attempt()
    started = time.perf_counter()
    with session_scope() as session:
        if not transition(
            session,
            package_id,
            source=IN_FLIGHT,
            target=State.APPLYING,
            stage="apply",
            outcome="started",
            attempt=attempt,
        ):
            return
    with session_scope() as session:
        package = session.get(Package, package_id)
        assert package is not None
        base = package_base(package)
        earlier_id = claim_name(session, package, base)
        ms = int((time.perf_counter() - started) * 1000)
        if earlier_id is not None and earlier_id != package_id:
            earlier = session.get(Package, earlier_id)
            assert earlier is not None
            protocol = duplicate_of(
                package, earlier, first_receipt(session, earlier_id), same_bytes=False
            )
            target = State.DUPLICATE
        else:
            protocol = _flk_protocol(session, package_id, base, package.records or 0)
            target = State.APPLIED
        concluded = conclude(
            session,
            package,
            protocol,
            source=(State.APPLYING,),
            target=target,
            stage="apply",
            attempt=attempt,
            duration_ms=ms,
        )
    if concluded:
        publish_protocols.send(package_id)
