"""The gateway client: what a participant's system imports to exchange with the hub.

    gw = await Gateway.connect("nats://hub:4222", Party.from_token("mo.640001"))
    sent = await gw.publish_file(Path("HM640001S64004_25111.zip"))
    got = await gw.wait_protocol(sent)          # -> Received (with .protocol)
    async for item in gw.protocols("my-gateway"):  # later, with a durable consumer
        ...
    async for item in gw.deliveries("my-inbox"):  # everything addressed to us:
        item.kind, item.file_name, item.data      # protocols, registers forwarded to an
                                                  # СМО, daily extracts …

Bodies that fit in a NATS message travel inline; larger ones go through the
``OMS_PACKAGES`` object store, with ``Oms-Object`` and ``Oms-Sha256`` headers
(exchange.md §2). ``Nats-Msg-Id`` is always the SHA-256 of the package bytes.

Everything a gateway does fits the permissions ``omsx nats-config`` gives a participant
(docs/nats.md): replies and deliveries come to its own inbox prefix; it
reads OMS_OUT only through push consumers it creates with its own subjects as the filter
(durables named after it, waits named at random); it writes a large package into the
object store without reading the bucket, its chunks under its own namespace, and reads
a large delivery through a consumer on the chunks the hub put in that namespace
(:mod:`messages.objects`). The names are those of :mod:`messages.natsconfig`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import DigestMismatchError, NoStreamResponseError, ObjectNotFoundError
from nats.nuid import NUID

from contracts.filenames import Party, parse_name
from contracts.protocol import Protocol, parse_protocol
from messages import headers as H
from messages import subjects
from messages.connect import open_connection
from messages.natsconfig import chunk_namespace, consumer_name, inbox_prefix, object_name
from messages.objects import Placed, put_object, read_chunks, read_object
from messages.streams import OUT_STREAM
from omsx.errors import ContractError, OmsxError, TransportUnavailable

HEADER_ROOM = 4096  # bytes kept free for headers under the server's max_payload
WAIT_IDLE_S = 10.0  # the server removes a wait's consumer this long after we stop listening


@dataclass(frozen=True)
class Published:
    """One publish, as JetStream acknowledged it."""

    file_name: str
    subject: str
    sha256: str
    seq: int  # OMS_IN stream sequence (the original's when ``duplicate``)
    duplicate: bool  # JetStream dropped it as a repeat inside its window
    via_object: bool
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Received:
    """One protocol from the hub."""

    file_name: str
    protocol: Protocol
    raw: bytes
    receipt: int | None
    headers: dict[str, str]


@dataclass(frozen=True)
class Delivered:
    """Anything the hub addressed to this participant (``oms.out.<role>.<code>.<what>``)."""

    subject: str
    file_name: str
    data: bytes  # the file's bytes, fetched from the object store when sent through it
    headers: dict[str, str]

    @property
    def kind(self) -> str:
        """What it is: the subject's last token (``protocol``, ``registry``, ``daily`` …)."""
        return self.subject.rsplit(".", 1)[-1]

    @property
    def protocol(self) -> Protocol | None:
        return parse_protocol(self.data) if self.kind == "protocol" else None


def kind_of(file_name: str) -> str:
    """The subject kind for a package file name (exchange.md §3)."""
    return parse_name(file_name).kind


class Gateway:
    def __init__(self, nc: Client, party: Party) -> None:
        self.nc = nc
        self.party = party
        self.js = nc.jetstream(timeout=30)

    @classmethod
    async def connect(
        cls, url: str, party: Party, *, wait_s: float = 15.0, **options: Any
    ) -> Gateway:
        """Connect as ``party``; :class:`TransportUnavailable` after ``wait_s`` without a server."""
        servers = [u.strip() for u in url.split(",") if u.strip()]
        options.setdefault("inbox_prefix", inbox_prefix(party))
        nc = await open_connection(servers, name=f"gateway-{party.token}", wait_s=wait_s, **options)
        return cls(nc, party)

    async def close(self) -> None:
        await self.nc.drain()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def publish_file(self, path: Path, *, kind: str | None = None) -> Published:
        return await self.publish(path.read_bytes(), path.name, kind=kind)

    async def publish(self, data: bytes, file_name: str, *, kind: str | None = None) -> Published:
        """Publish one package; ``kind`` defaults to the one its name implies."""
        if kind is None:
            try:
                kind = kind_of(file_name)
            except ContractError as exc:
                raise OmsxError(f"cannot tell the kind of {file_name!r}: pass kind") from exc
        subject = subjects.inbound(self.party, kind)
        sha = hashlib.sha256(data).hexdigest()
        headers = {H.MSG_ID: sha, H.FILE_NAME: file_name}
        via_object = len(data) > self.nc.max_payload - HEADER_ROOM
        body = data
        if via_object:
            name = object_name(self.party, sha)
            try:
                await put_object(self.js, name, data, namespace=chunk_namespace(self.party))
            except NoStreamResponseError as exc:
                raise TransportUnavailable("the hub has not provisioned OMS_PACKAGES") from exc
            headers.update({H.OBJECT: name, H.SHA256: sha})
            body = b""
        try:
            ack = await self.js.publish(subject, body, headers=headers, timeout=30)
        except NoStreamResponseError as exc:
            raise TransportUnavailable(f"no stream takes {subject}: is the hub running?") from exc
        return Published(file_name, subject, sha, ack.seq, bool(ack.duplicate), via_object)

    async def wait_protocol(self, sent: Published, timeout: float = 60.0) -> Received:
        got = await self.wait_protocols([sent], timeout=timeout)
        return got[sent.seq]

    async def wait_protocols(
        self, sent: Iterable[Published], timeout: float = 60.0
    ) -> dict[int, Received]:
        """The protocol of each publish, keyed by its receipt (``Published.seq``)."""
        wanted = {p.seq: p for p in sent}
        if not wanted:
            return {}
        since = min(p.at for p in wanted.values()) - _lookback(wanted.values())
        found: dict[int, Received] = {}
        sub = await self._follow(subjects.protocol(self.party), since)
        try:
            async with asyncio.timeout(timeout):
                async for msg in sub.messages:
                    item = _received(msg)
                    if item.receipt in wanted:
                        found[item.receipt] = item
                        if len(found) == len(wanted):
                            break
        except TimeoutError as exc:
            missing = sorted(p.file_name for s, p in wanted.items() if s not in found)
            raise TransportUnavailable(
                f"no protocol within {timeout:.0f} s for: {', '.join(missing)}"
            ) from exc
        finally:
            await sub.unsubscribe()
        return found

    async def protocols(
        self, durable: str, *, batch: int = 50, idle_timeout: float | None = None
    ) -> AsyncIterator[Received]:
        """Everything addressed to this participant, through its own durable consumer.

        Each item is acknowledged after the caller's loop body runs, so a gateway that
        crashes re-reads what it had not finished. Ends after ``idle_timeout`` s of quiet.
        """
        subject = subjects.protocol(self.party)
        async for msg in self._durable(subject, durable, batch, idle_timeout):
            yield _received(msg)

    async def deliveries(
        self, durable: str, *, batch: int = 10, idle_timeout: float | None = None
    ) -> AsyncIterator[Delivered]:
        """Everything addressed to this participant — protocols, the registers forwarded
        to an СМО, daily extracts — through its own durable consumer, acknowledged after
        the loop body runs (a crashed gateway re-reads what it had not finished). A body
        sent through the object store is fetched and checked against its SHA-256.

        Use a durable name of its own: one consumer has one subject filter, and
        :meth:`protocols` reads only the protocols.
        """
        subject = subjects.outbound_all(self.party)
        async for msg in self._durable(subject, durable, batch, idle_timeout):
            yield await self._delivered(msg)

    async def wait_delivery(
        self, what: str, since: datetime, *, timeout: float = 60.0
    ) -> Delivered:
        """The first ``what`` (``registry``, ``daily`` …) addressed to us since ``since``."""
        sub = await self._follow(subjects.outbound(self.party, what), since)
        try:
            msg = await sub.next_msg(timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError) as exc:
            raise TransportUnavailable(
                f"no {what} for {self.party.token} within {timeout:.0f} s"
            ) from exc
        finally:
            await sub.unsubscribe()
        return await self._delivered(msg)

    async def _follow(self, subject: str, since: datetime) -> Subscription:
        """Messages on ``subject`` from ``since``, pushed to our inbox by a consumer of
        this wait alone: named at random, removed by the server once we stop listening."""
        inbox = self.nc.new_inbox()
        name = f"{consumer_name(self.party, 'wait')}-{NUID().next().decode()}"
        config = ConsumerConfig(
            name=name, filter_subject=subject, deliver_subject=inbox,
            deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since,
            ack_policy=AckPolicy.NONE, inactive_threshold=WAIT_IDLE_S,
            mem_storage=True, num_replicas=1,
        )  # fmt: skip
        await self.js.add_consumer(OUT_STREAM, config=config)  # it waits for our interest
        return await self.nc.subscribe(inbox)

    async def _durable(
        self, subject: str, durable: str, batch: int, idle_timeout: float | None
    ) -> AsyncIterator[Msg]:
        """Our durable push consumer ``durable`` on ``subject``: (re)asserted with our own
        filter and inbox, at most ``batch`` messages unacknowledged, each acked after the
        caller's loop body. Instances sharing the name share the messages (a queue group).

        A named consumer with a filter is created through
        ``$JS.API.CONSUMER.CREATE.OMS_OUT.<name>.<filter>``: the one form the NATS config
        lets a participant use, with its own subjects as the filter."""
        name = consumer_name(self.party, durable)
        inbox = f"{inbox_prefix(self.party)}.{name}"
        config = ConsumerConfig(
            name=name, durable_name=name, filter_subject=subject, deliver_subject=inbox,
            deliver_group=name, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=batch,
        )  # fmt: skip
        await self.js.add_consumer(OUT_STREAM, config=config)  # before we listen: restored
        sub = await self.nc.subscribe(inbox, queue=name)
        loop = asyncio.get_running_loop()
        last = loop.time()
        try:
            while idle_timeout is None or loop.time() - last < idle_timeout:
                try:
                    msg = await sub.next_msg(timeout=1)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                self._check_ours(msg, name)
                yield msg
                await msg.ack()
                last = loop.time()
        finally:
            await sub.unsubscribe()

    def _check_ours(self, msg: Msg, name: str) -> None:
        # another participant can re-point a durable whose name it knows at its own
        # subjects (never ours at it: the server checks the filter); refuse to go on
        if not msg.subject.startswith(f"{subjects.OUT_PREFIX}.{self.party.token}."):
            raise OmsxError(
                f"the consumer {name} delivered {msg.subject}, which is not addressed to "
                f"{self.party.token}: it was re-pointed; restart the gateway to restore it"
            )

    async def _delivered(self, msg: Msg) -> Delivered:
        headers = dict(msg.headers or {})
        data = msg.data
        name = headers.get(H.OBJECT)
        if name:
            data = await self._object(msg.subject, name, headers)
        return Delivered(msg.subject, headers.get(H.FILE_NAME, ""), data, headers)

    async def _object(self, subject: str, name: str, headers: dict[str, str]) -> bytes:
        """The object a delivery names, read through a consumer on its chunks, which the
        hub put in our namespace and named in ``Oms-Object-Nuid``; checked against
        ``Oms-Object-Size`` and ``Oms-Sha256``. Without ``Oms-Object-Nuid`` (an older hub)
        the meta says where the chunks lie — a read the generated NATS config does not
        give participants (docs/nats.md "The object store")."""
        placed = Placed.from_headers(headers)
        buf = io.BytesIO()
        try:
            if placed is not None:
                await read_chunks(self.nc, placed, buf)
            else:
                placed = await read_object(self.nc, name, buf)
        except DigestMismatchError as exc:
            raise OmsxError(f"{subject}: the object {name} does not match its SHA-256") from exc
        except ObjectNotFoundError as exc:
            raise TransportUnavailable(
                f"{subject}: the object {name} is not in OMS_PACKAGES (expired?)"
            ) from exc
        except (NatsError, TimeoutError) as exc:
            where = f"chunks {placed.nuid}" if placed else "its meta"
            raise TransportUnavailable(
                f"{subject}: the object {name} could not be read ({where}: {type(exc).__name__})"
            ) from exc
        data = buf.getvalue()
        if hashlib.sha256(data).hexdigest() != headers.get(H.SHA256, name).lower():
            raise OmsxError(f"{subject}: the object {name} does not match its SHA-256")
        return data


def _lookback(sent: Iterable[Published]) -> timedelta:
    # a repeat inside JetStream's window is answered by the original's protocol, which
    # may be up to a day old; otherwise allow a little clock skew
    return timedelta(hours=25) if any(p.duplicate for p in sent) else timedelta(minutes=5)


def _received(msg: Msg) -> Received:
    headers = dict(msg.headers or {})
    receipt = headers.get(H.RECEIPT)
    return Received(
        file_name=headers.get(H.FILE_NAME, ""),
        protocol=parse_protocol(msg.data),
        raw=msg.data,
        receipt=int(receipt) if receipt and receipt.isdigit() else None,
        headers=headers,
    )
