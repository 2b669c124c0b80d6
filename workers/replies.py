"""Stage ``reply``: publish what the outbox owes, then mark it published.

The stage that concludes a package publishes its answer itself (:func:`answer_now`);
the ``reply`` queue carries what that could not publish, ingest's 805 answers and the
daily extracts.

JetStream drops a repeated Nats-Msg-Id inside OMS_OUT's duplicate window, so a
crash between the publish and the mark re-publishes harmlessly; the sweeper
re-drives rows that stay unpublished.
"""

from __future__ import annotations

import json

from nats.js.api import PubAck

from contracts.filenames import Party
from messages import headers as H
from messages.bridge import NatsBridge, get_bridge
from messages.natsconfig import chunk_namespace, object_name
from omsx.errors import TransientError
from omsx.logs import get_logger
from omsx.settings import get_settings
from storage.blobs import BlobStore
from storage.db import session_scope
from storage.models import Outbox
from storage.packages import add_event, mark_published, pending_outbox
from workers.broker import pipeline_actor

log = get_logger("workers.replies")


HEADER_ROOM = 4096  # bytes kept free for headers under the server's max_payload


def _blob_body(bridge: NatsBridge, sha256: str, headers: dict[str, str], subject: str) -> bytes:
    """A body kept in the blob store: inline when it fits a message, else through the
    object store, in the recipient's namespace (``oms.out.<role>.<code>.…``), named
    ``<role>.<code>/<sha256>`` as gateways name theirs (exchange.md §2); the headers say
    where its chunks lie, which is all the recipient may read (docs/nats.md)."""
    path = BlobStore(get_settings().blobs).path(sha256)
    if path.stat().st_size <= bridge.max_payload() - HEADER_ROOM:
        return path.read_bytes()
    recipient = Party.from_token(".".join(subject.split(".")[2:4]))
    name = object_name(recipient, sha256)
    placed = bridge.put_object(name, path, namespace=chunk_namespace(recipient))
    headers.update(placed.headers)
    return b""


@pipeline_actor("reply")
def publish_protocols(package_id: int | None = None) -> None:
    """Publish every pending outbox row of ``package_id`` (or the oldest pending ones)."""
    publish_pending(package_id)


def answer_now(package_id: int) -> None:
    """Publish what the package owes from the delivery that concluded it, without a hop
    through the ``reply`` queue. If NATS (or the database) fails here, the ``reply``
    queue takes it over and retries it with backoff; and if Redis is down too, the
    sweeper re-publishes the outbox within the stage deadline. Nothing is published
    twice: the outbox row is marked once, and OMS_OUT drops a repeated Nats-Msg-Id.
    """
    try:
        publish_pending(package_id)
    except TransientError as exc:
        log.warning("reply.handed_to_queue", package_id=package_id, error=type(exc).__name__)
        publish_protocols.send(package_id)


def publish_pending(package_id: int | None) -> None:
    """Publish every pending outbox row of ``package_id`` (or the oldest pending ones),
    read after the transaction that concluded the package: on SQLite a read inside it
    would hold the write lock."""
    with session_scope() as session:
        rows = pending_outbox(session, package_id)
    bridge = get_bridge()
    published: list[tuple[Outbox, PubAck]] = []
    try:
        for row in rows:
            headers = {H.MSG_ID: row.msg_id, H.FILE_NAME: row.file_name, **json.loads(row.headers)}
            body = row.body
            if row.blob_sha:
                body = _blob_body(bridge, row.blob_sha, headers, row.subject)
            published.append((row, bridge.publish(row.subject, body, headers)))
    finally:  # what NATS took is marked even when a later row fails
        if published:
            _mark(published)


def _mark(published: list[tuple[Outbox, PubAck]]) -> None:
    """Mark the published rows, in one transaction, with a timeline line each."""
    with session_scope() as session:
        for row, ack in published:
            assert row.id is not None
            mark_published(session, row.id)
            if row.package_id is not None:
                add_event(
                    session,
                    row.package_id,
                    "reply",
                    "duplicate-dropped" if ack.duplicate else "published",
                    detail=f"{row.kind} seq={ack.seq}",
                )
    for row, ack in published:
        log.info(
            "outbox.published",
            outbox_id=row.id,
            kind=row.kind,
            seq=ack.seq,
            duplicate=bool(ack.duplicate),
        )
