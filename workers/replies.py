"""Stage ``reply``: publish what the outbox owes, then mark it published.

JetStream drops a repeated Nats-Msg-Id inside OMS_OUT's duplicate window, so a
crash between the publish and the mark re-publishes harmlessly; the sweeper
re-drives rows that stay unpublished.
"""

from __future__ import annotations

import json

from messages import headers as H
from messages.bridge import get_bridge
from omsx.logs import get_logger
from storage.db import session_scope
from storage.packages import add_event, mark_published, pending_outbox
from workers.broker import pipeline_actor

log = get_logger("workers.replies")


@pipeline_actor("reply")
def publish_protocols(package_id: int | None = None) -> None:
    """Publish every pending outbox row of ``package_id`` (or the oldest pending ones)."""
    with session_scope() as session:
        rows = pending_outbox(session, package_id)
    bridge = get_bridge()
    for row in rows:
        headers = {H.MSG_ID: row.msg_id, H.FILE_NAME: row.file_name, **json.loads(row.headers)}
        ack = bridge.publish(row.subject, row.body, headers)
        with session_scope() as session:
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
        log.info(
            "outbox.published",
            outbox_id=row.id,
            kind=row.kind,
            seq=ack.seq,
            duplicate=bool(ack.duplicate),
        )
