"""The ingest process: a durable pull consumer on OMS_IN.

For each message: the bytes (inline, or from OMS_PACKAGES with their SHA-256
checked) go to the blob store and are fsynced; the ``Package`` row, its ``Receipt``
and its first timeline event commit in one transaction (with the other receipts of the
same pull); the validation actor is enqueued with the package id; only then is the
message acknowledged. A crash at any point before the ack means redelivery, and a
redelivered message (same stream sequence) never creates a second package or receipt.

A new message carrying bytes already received is a duplicate receipt: it is
answered with 805 naming the first receipt, and nothing else happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import dramatiq.errors
import redis
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import DigestMismatchError, NotFoundError, ObjectNotFoundError
from sqlmodel import Session

from contracts.protocol import Code, Problem, Protocol
from messages import headers as H
from messages.connect import connect
from messages.objects import ForeignObjectError, read_object
from messages.streams import IN_STREAM, provision
from messages.subjects import IN_ALL, IN_PREFIX
from omsx.errors import BrokerUnavailable, TransientError, TransportUnavailable
from omsx.logs import get_logger
from omsx.settings import Settings
from storage.blobs import BlobStore
from storage.db import session_scope
from storage.models import State
from storage.packages import Arriving, ReceiptOutcome, first_receipt, record_receipts
from workers.outcome import conclude, duplicate_of, package_base, queue_protocol
from workers.replies import publish_protocols
from workers.validation import validate

log = get_logger("messages.ingest")
NAK_DELAY_S = 5.0
PULL_RETRY_S = 1.0  # pause after JetStream failed a pull (restart, election, reconnect)
OBJECT_PROBLEMS = {
    ObjectNotFoundError: "Объект пакета не найден в хранилище OMS_PACKAGES",
    DigestMismatchError: "Объект пакета в OMS_PACKAGES повреждён (не совпал его дайджест)",
}


@dataclass(frozen=True)
class Arrival:
    """What a message carried, after its bytes are safely in the blob store."""

    subject: str
    stream_seq: int
    file_name: str
    sha256: str
    size: int
    transport_problem: Problem | None = None


def subject_parts(subject: str) -> tuple[str, str, str]:
    """(role, code, kind) of ``oms.in.<role>.<code>.<kind>``; blanks where absent."""
    tokens = subject.split(".")
    if subject.startswith(IN_PREFIX + ".") and len(tokens) == 5:
        return tokens[2], tokens[3], tokens[4]
    return "", "", ""


class Ingest:
    def __init__(self, settings: Settings, nc: Client) -> None:
        self.settings = settings
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=10)
        self.blobs = BlobStore(settings.blobs)

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        """The durable pull consumer, created (with the streams) when missing and
        brought to the settings when not: binding to an existing consumer keeps its
        config, so a changed ``OMSX_INGEST_ACK_WAIT_S`` would not take effect."""
        await provision(self.js, self.settings)
        durable = self.settings.ingest_durable
        config = ConsumerConfig(
            name=durable,
            durable_name=durable,
            filter_subject=IN_ALL,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=float(self.settings.ingest_ack_wait_s),
            max_deliver=-1,
            max_ack_pending=max(1000, self.settings.ingest_batch * 4),
        )
        await self.js.add_consumer(IN_STREAM, config=config)  # creates, or updates
        return await self.js.pull_subscribe(IN_ALL, durable=durable, stream=IN_STREAM)

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and store until ``stop``. JetStream failing a pull does not end the run
        (a server restarting or a leader being elected answers 503, a dropped connection
        fails the pull until the client reconnects): it is logged and the pull tried
        again after a pause; a consumer deleted by mistake is created again."""
        sub = await self.subscribe()
        log.info("ingest.started", durable=self.settings.ingest_durable)
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self.settings.ingest_batch, timeout=1)
                except (NatsTimeout, TimeoutError):
                    continue
                except NatsError as exc:
                    sub = await self.recover(sub, exc, stop)
                    continue
                await self.handle_all(msgs)
        finally:
            await sub.unsubscribe()
        log.info("ingest.stopped")

    async def recover(
        self, sub: JetStreamContext.PullSubscription, exc: NatsError, stop: asyncio.Event
    ) -> JetStreamContext.PullSubscription:
        """After a failed pull: wait a moment (or until ``stop``), then the same
        subscription, or a new one when the consumer is gone (a pull on a deleted
        consumer is answered 503 too, as while JetStream is away: asked to tell)."""
        log.warning("ingest.pull_failed", error=type(exc).__name__, detail=str(exc)[:200],
                    retry_in_s=PULL_RETRY_S)  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PULL_RETRY_S)
        if stop.is_set():
            return sub
        try:
            await self.js.consumer_info(IN_STREAM, self.settings.ingest_durable)
            return sub  # there: JetStream was away, and the same pull goes on
        except NotFoundError:
            pass
        except (NatsError, TimeoutError):  # JetStream still away: the next pull retries
            return sub
        try:
            fresh = await self.subscribe()
        except (NatsError, TimeoutError) as again:
            log.warning("ingest.resubscribe_failed", error=type(again).__name__)
            return sub
        with contextlib.suppress(NatsError):
            await sub.unsubscribe()
        log.info("ingest.resubscribed", durable=self.settings.ingest_durable)
        return fresh

    async def handle_all(self, msgs: list[Msg]) -> None:
        """Store a pull's messages: their bytes ``ingest_concurrency`` at a time (one
        waits for the disk while another is hashed), then every receipt in one
        transaction — one turn at the database's write lock for the pull, not one per
        message — then each package is handed over and its message acked (in any order:
        every message is acked explicitly). A message whose bytes could not be stored,
        or whose hand-over failed, is nak'ed alone; the database failing naks the pull.

        Meanwhile JetStream hears that the pull is in hand (:func:`_keep_alive`), so
        the ack wait can be short: a message whose ack is lost (a server restarting)
        or whose ingest died comes back within it, and a long hand-over (a large
        object read, a database slow to take the write) is not delivered twice."""
        beat = asyncio.create_task(_keep_alive(msgs, self.settings.ingest_ack_wait_s / 3))
        try:
            await self._handle_all(msgs)
        finally:
            beat.cancel()

    async def _handle_all(self, msgs: list[Msg]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        slots = asyncio.Semaphore(self.settings.ingest_concurrency)
        arrived: list[tuple[Msg, Arrival]] = []

        async def receive(msg: Msg) -> None:
            async with slots:
                try:
                    arrived.append((msg, await self.receive(msg)))
                except TransientError as exc:
                    await _retry_later(msg, exc)

        async with asyncio.TaskGroup() as group:
            for msg in msgs:
                group.create_task(receive(msg))
        if not arrived:
            return
        try:
            stored = await asyncio.to_thread(self.store_all, [a for _, a in arrived])
        except TransientError as exc:
            for msg, _ in arrived:
                await _retry_later(msg, exc)
            return
        failed = await asyncio.to_thread(self.hand_over_all, stored)
        if self.settings.fault_pause_before_ack_s:
            log.warning("ingest.paused_before_ack", messages=len(arrived))
            await asyncio.sleep(self.settings.fault_pause_before_ack_s)
        for i, ((msg, arrival), (outcome, _)) in enumerate(zip(arrived, stored, strict=True)):
            handover = failed.get(i)
            if handover is not None:
                await _retry_later(msg, handover)
                continue
            try:
                await msg.ack()
            except NatsError as exc:  # stored; the message comes back and is known by its seq
                log.warning("ingest.ack_failed", seq=arrival.stream_seq, error=type(exc).__name__,
                            note="redelivered after the ack wait, stored once")  # fmt: skip
                continue
            log.info("message.processed", stage="ingest", package_id=outcome.package.id,
                     seq=arrival.stream_seq, outcome=_outcome_name(outcome),
                     duration_ms=round((loop.time() - started) * 1000, 1))  # fmt: skip

    async def receive(self, msg: Msg) -> Arrival:
        headers = msg.headers or {}
        seq = msg.metadata.sequence.stream
        file_name = headers.get(H.FILE_NAME, "")
        object_name = headers.get(H.OBJECT)
        if not object_name:
            sha = hashlib.sha256(msg.data).hexdigest()
            await asyncio.to_thread(self.blobs.put, sha, msg.data)
            return Arrival(msg.subject, seq, file_name, sha, len(msg.data))
        return await self.receive_object(
            msg.subject, seq, file_name, object_name, headers.get(H.SHA256, "")
        )

    async def receive_object(
        self, subject: str, seq: int, file_name: str, object_name: str, declared_sha: str
    ) -> Arrival:
        tmp = self.blobs.tmp_file()
        role, code, _ = subject_parts(subject)
        try:
            with tmp.open("wb") as fh:
                # the sender's own object only: named and chunked in its namespace (806)
                await read_object(self.nc, object_name, fh, owner=f"{role}.{code}")
                fh.flush()
                os.fsync(fh.fileno())
            sha, size = await asyncio.to_thread(_hash_file, tmp)
        except ForeignObjectError:
            tmp.unlink(missing_ok=True)
            problem = Problem(
                oshib=str(int(Code.SENDER)),
                im_pol=H.OBJECT,
                zn_pol=object_name[:100],
                comment="Объект пакета в OMS_PACKAGES лежит вне пространства отправителя",
            )
            return self._transport_failure(
                subject, seq, file_name, f"object:{object_name}", problem
            )
        except (ObjectNotFoundError, DigestMismatchError) as exc:
            tmp.unlink(missing_ok=True)
            problem = Problem(
                oshib=str(int(Code.NOT_A_ZIP)),
                im_pol=H.OBJECT,
                zn_pol=object_name[:100],
                comment=OBJECT_PROBLEMS[type(exc)],
            )
            return self._transport_failure(
                subject, seq, file_name, f"object:{object_name}", problem
            )
        except (NatsError, OSError) as exc:
            tmp.unlink(missing_ok=True)
            raise TransportUnavailable(f"object store read failed: {type(exc).__name__}") from exc
        if declared_sha and declared_sha.lower() != sha:
            tmp.unlink(missing_ok=True)
            problem = Problem(
                oshib=str(int(Code.NOT_A_ZIP)),
                im_pol=H.SHA256,
                zn_pol=declared_sha[:100],
                comment="Контрольная сумма объекта не совпадает с Oms-Sha256",
            )
            return self._transport_failure(subject, seq, file_name, f"sha:{declared_sha}", problem)
        await asyncio.to_thread(self.blobs.adopt, sha, tmp)
        return Arrival(subject, seq, file_name, sha, size)

    def _transport_failure(
        self, subject: str, seq: int, file_name: str, what: str, problem: Problem
    ) -> Arrival:
        # no trustworthy bytes: the package is keyed by what arrived, so it is never
        # confused with a real package, and is answered 801 at once
        key = hashlib.sha256(f"transport|{subject}|{seq}|{what}".encode()).hexdigest()
        return Arrival(subject, seq, file_name, key, 0, transport_problem=problem)

    def store(self, arrival: Arrival) -> tuple[ReceiptOutcome, tuple[str, ...]]:
        """Commit one receipt (see :meth:`store_all`)."""
        return self.store_all([arrival])[0]

    def store_all(self, arrivals: list[Arrival]) -> list[tuple[ReceiptOutcome, tuple[str, ...]]]:
        """Commit the receipts, in one transaction; returns each with the stages to hand
        its package to next ("validate", "reply", both or none), decided from the state
        this transaction read."""
        with session_scope() as session:
            outcomes = record_receipts(session, [_arriving(a) for a in arrivals])
            return [
                self._follow(session, arrival, outcome)
                for arrival, outcome in zip(arrivals, outcomes, strict=True)
            ]

    @staticmethod
    def _follow(
        session: Session, arrival: Arrival, outcome: ReceiptOutcome
    ) -> tuple[ReceiptOutcome, tuple[str, ...]]:
        package = outcome.package
        waiting = package.state == State.RECEIVED
        if arrival.transport_problem is not None:
            if outcome.created:
                protocol = Protocol.rejected(package_base(package), arrival.transport_problem)
                conclude(
                    session,
                    package,
                    protocol,
                    source=(State.RECEIVED,),
                    target=State.REJECTED,
                    stage="ingest",
                )
            return outcome, ("reply",)
        if outcome.duplicate:
            assert package.id is not None
            protocol = duplicate_of(
                package, package, first_receipt(session, package.id), same_bytes=True
            )
            queue_protocol(session, package, protocol, receipt_seq=arrival.stream_seq, repeat=True)
        # a package still waiting for validation (new, or stored before a crash) goes on;
        # a repeat owes its 805 now: the state read above may be stale by the time this
        # commits (the first package concluded and published meanwhile), and the reply
        # publishes whatever of the package's outbox is pending, once
        stages = ("validate",) if waiting else ()
        return outcome, (*stages, "reply") if outcome.duplicate else stages

    @classmethod
    def hand_over_all(
        cls, stored: list[tuple[ReceiptOutcome, tuple[str, ...]]]
    ) -> dict[int, TransientError]:
        """Hand each stored package over; the failures, by their place in ``stored``."""
        failed: dict[int, TransientError] = {}
        for i, (outcome, follow) in enumerate(stored):
            assert outcome.package.id is not None
            try:
                cls.hand_over(outcome.package.id, follow)
            except TransientError as exc:
                failed[i] = exc
        return failed

    @staticmethod
    def hand_over(package_id: int, follow: tuple[str, ...]) -> None:
        """Enqueue the next stage; Redis down is transient (the message is nak'ed and
        comes back, and the stored package is handed over then)."""
        try:
            if "validate" in follow:
                validate.send(package_id)
            if "reply" in follow:
                publish_protocols.send(package_id)
        except (redis.RedisError, dramatiq.errors.ConnectionError) as exc:
            raise BrokerUnavailable(f"enqueue failed: {type(exc).__name__}") from exc


async def _keep_alive(msgs: list[Msg], every: float) -> None:
    """Every ``every`` seconds, tell JetStream (+WPI) that the messages not yet acked
    or nak'ed are still being worked on, which restarts their ack wait."""
    while True:
        await asyncio.sleep(every)
        for msg in msgs:
            if msg.is_acked:
                continue
            try:
                await msg.in_progress()
            except NatsError as exc:  # the ack wait runs out and the message comes back
                log.warning("ingest.progress_failed", seq=msg.metadata.sequence.stream,
                            error=type(exc).__name__)  # fmt: skip


async def _retry_later(msg: Msg, exc: TransientError) -> None:
    """Nak a message that met an outage; if the nak fails too, it comes back after the
    ack wait anyway."""
    seq = msg.metadata.sequence.stream
    log.warning("ingest.retry_later", seq=seq, error=type(exc).__name__, detail=str(exc))
    try:
        await msg.nak(delay=NAK_DELAY_S)
    except NatsError as failed:
        log.warning("ingest.nak_failed", seq=seq, error=type(failed).__name__)


def _arriving(arrival: Arrival) -> Arriving:
    role, code, kind = subject_parts(arrival.subject)
    return Arriving(
        sha256=arrival.sha256,
        stream_seq=arrival.stream_seq,
        subject=arrival.subject,
        file_name=arrival.file_name,
        size=arrival.size,
        sender_role=role,
        sender_code=code,
        kind=kind,
    )


def _outcome_name(outcome: ReceiptOutcome) -> str:
    if outcome.redelivery:
        return "redelivery"
    return "duplicate" if outcome.duplicate else "stored"


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def main(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run ingest until ``stop`` is set (or SIGINT/SIGTERM when run as a process)."""
    nc = await connect(settings, name="omsx-ingest")
    stop = stop or asyncio.Event()
    try:
        await Ingest(settings, nc).run(stop)
    finally:
        # drain() waits out its whole timeout on a pull subscription; acks are plain
        # publishes, so flushing them is what matters before closing
        if nc.is_connected:
            await nc.flush(timeout=5)
        await nc.close()
