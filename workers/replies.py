"""Stage ``reply``: publish what the outbox owes, then mark it published.

The stage that concludes a package publishes its answer itself (:func:`answer_now`);
the ``reply`` queue carries what that could not publish, ingest's 805 answers and the
daily extracts.

JetStream drops a repeated Nats-Msg-Id inside OMS_OUT's duplicate window, so a
crash between the publish and the mark re-publishes harmlessly; the sweeper
re-drives rows that stay unpublished.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing.util
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime

from nats.js.api import PubAck
from sqlalchemy.exc import SQLAlchemyError

from contracts.filenames import Party
from messages import headers as H
from messages.bridge import NatsBridge, get_bridge
from messages.natsconfig import chunk_namespace, object_name
from omsx.errors import TransientError
from omsx.logs import get_logger
from omsx.settings import get_settings
from storage.blobs import BlobStore
from storage.bulk import insert_rows
from storage.db import session_scope
from storage.models import Outbox, PackageEvent, utcnow
from storage.packages import mark_all_published, pending_outbox, timeline_row
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
    """Publish every pending outbox row of ``package_id`` (or the oldest pending ones);
    this process's marks still waiting (:data:`MARKS`) are written first, so what it
    published already is not published again."""
    MARKS.flush()
    publish_pending(package_id)


def answer_now(package_id: int) -> None:
    """Publish what the package owes from the delivery that concluded it, without a hop
    through the ``reply`` queue. If NATS (or the database) fails here, the ``reply``
    queue takes it over and retries it with backoff; and if Redis is down too, the
    sweeper re-publishes the outbox within the stage deadline. Nothing is published
    twice: the outbox row is marked once, and OMS_OUT drops a repeated Nats-Msg-Id.

    The marks are written a moment later, with other deliveries' (:data:`MARKS`): one
    write transaction for many answers instead of one each."""
    try:
        publish_pending(package_id, marks=MARKS)
    except TransientError as exc:
        log.warning("reply.handed_to_queue", package_id=package_id, error=type(exc).__name__)
        publish_protocols.send(package_id)


Published = list[tuple[Outbox, PubAck, datetime]]


def publish_pending(package_id: int | None, *, marks: Marks | None = None) -> None:
    """Publish every pending outbox row of ``package_id`` (or the oldest pending ones),
    read after the transaction that concluded the package: on SQLite a read inside it
    would hold the write lock. What NATS took is marked, even when a later row fails:
    now, in one transaction, or by ``marks`` a moment later — which an exit's flush
    waits for while the rows are being published."""
    with marks.publishing() if marks is not None else contextlib.nullcontext():
        with session_scope() as session:
            rows = pending_outbox(session, package_id)
        _publish(rows, marks)


def _publish(rows: list[Outbox], marks: Marks | None) -> None:
    bridge = get_bridge()
    published: Published = []
    try:
        for row in rows:
            headers = {H.MSG_ID: row.msg_id, H.FILE_NAME: row.file_name, **json.loads(row.headers)}
            body = row.body
            if row.blob_sha:
                body = _blob_body(bridge, row.blob_sha, headers, row.subject)
            published.append((row, bridge.publish(row.subject, body, headers), utcnow()))
    finally:
        if published:
            if marks is None:
                write_marks(published)
                log_published(published)
            else:
                marks.add(published)


def write_marks(published: Published) -> None:
    """Mark the published rows, in one transaction, with a timeline line each at the
    time NATS took the row."""
    lines = [
        timeline_row(
            row.package_id,
            "reply",
            "duplicate-dropped" if ack.duplicate else "published",
            detail=f"{row.kind} seq={ack.seq}",
            at=at,
        )
        for row, ack, at in published
        if row.package_id is not None
    ]
    with session_scope() as session:
        mark_all_published(session, [(row.id, at) for row, _ack, at in published if row.id])
        insert_rows(session, PackageEvent, lines)


def log_published(published: Published) -> None:
    for row, ack, _at in published:
        log.info(
            "outbox.published",
            outbox_id=row.id,
            kind=row.kind,
            seq=ack.seq,
            duplicate=bool(ack.duplicate),
        )


class Marks:
    """Rows NATS took, marked by a background thread a moment later
    (``OMSX_PUBLISH_MARK_LINGER_MS``), all that gathered meanwhile in one transaction.

    A mark only keeps a row from being published again: if this process dies before it
    is written, the sweeper re-publishes the row after its grace, OMS_OUT drops the
    repeated Nats-Msg-Id (its duplicate window is a day), and that publish is marked.
    If the database is unavailable, the marks wait, in order, for the next try; a write
    that fails otherwise drops them (logged), and the sweeper's re-publish marks those
    rows. They are written at the process's exit too."""

    def __init__(self) -> None:
        self._queue: Published = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._publishing = 0  # threads between their first publish and their add()

    def add(self, published: Published) -> None:
        with self._wake:
            self._queue.extend(published)
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()  # a forked process starts its own
                self._thread = threading.Thread(target=self._run, name="omsx-marks", daemon=True)
                self._thread.start()
            self._wake.notify()

    @contextlib.contextmanager
    def publishing(self) -> Iterator[None]:
        """Around a publish whose marks come here: an exit's flush waits for it."""
        with self._wake:
            self._publishing += 1
        try:
            yield
        finally:
            with self._wake:
                self._publishing -= 1
                self._wake.notify_all()

    def settle(self, timeout: float) -> int:
        """Wait, at most ``timeout`` seconds, for the publishes under way to hand their
        marks over; the number still under way."""
        with self._wake:
            self._wake.wait_for(lambda: self._publishing == 0, timeout)
            return self._publishing

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    def flush(self) -> None:
        """Write every mark queued so far, in this thread."""
        with self._wake:
            batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            write_marks(batch)
        except TransientError:
            self._keep(batch)  # for the next try
            raise
        except Exception:
            log.error("outbox.marks_dropped", marks=len(batch),
                      note="the rows stay pending: the sweeper publishes them again, "
                      "OMS_OUT drops the repeats, and that publish marks them")  # fmt: skip
            raise
        except BaseException:  # SystemExit: a second SIGTERM mid-write. The exit's flush
            self._keep(batch)  # writes them (if it came just after the commit, the rows
            raise  # are marked again, at the same times, and their timeline line repeats)
        log_published(batch)

    def _keep(self, batch: Published) -> None:
        with self._wake:  # in order, before any queued since
            self._queue[:0] = batch

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
            time.sleep(get_settings().publish_mark_linger_ms / 1000)
            try:
                self.flush()
            except TransientError as exc:
                log.warning("outbox.marks_deferred", marks=self.pending(),
                            error=type(exc).__name__)  # fmt: skip
                time.sleep(MARK_RETRY_S)
            except Exception:  # a bug: logged with its traceback; the rows stay pending
                log.exception("outbox.marks_failed")


MARK_RETRY_S = 1.0
EXIT_SETTLE_S = 5.0
MARKS = Marks()


def flush_marks() -> None:
    """Write the marks still waiting, as a process ends: when its Dramatiq worker stops
    (:class:`workers.middleware.FlushMarks`), and at its exit — a forked worker process
    runs no ``atexit`` handlers but multiprocessing's finalizers, and a second SIGTERM
    (a process group's, forwarded by Dramatiq's main process too) ends it without the
    worker's stop — its threads may be publishing still, so it waits for them first
    (at most :data:`EXIT_SETTLE_S`). Logged if they cannot be written: the sweeper
    re-publishes those rows, and OMS_OUT drops the repeats."""
    unsettled = MARKS.settle(EXIT_SETTLE_S)
    if unsettled:
        log.warning("outbox.marks_unsettled_at_exit", publishing=unsettled)
    try:
        MARKS.flush()
    except (TransientError, SQLAlchemyError) as exc:
        log.warning("outbox.marks_lost_at_exit", marks=MARKS.pending(), error=type(exc).__name__)


# at exit, in any process (multiprocessing runs its finalizers from atexit too)
multiprocessing.util.Finalize(None, flush_marks, exitpriority=10)
