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
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BucketNotFoundError, NoStreamResponseError

from contracts.filenames import Party, parse_name
from contracts.protocol import Protocol, parse_protocol
from messages import headers as H
from messages import subjects
from messages.connect import open_connection
from messages.streams import BUCKET, OUT_STREAM
from omsx.errors import ContractError, OmsxError, TransportUnavailable

HEADER_ROOM = 4096  # bytes kept free for headers under the server's max_payload


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
            try:
                store = await self.js.object_store(BUCKET)
            except BucketNotFoundError as exc:
                raise TransportUnavailable("the hub has not provisioned OMS_PACKAGES") from exc
            await store.put(sha, data)
            headers.update({H.OBJECT: sha, H.SHA256: sha})
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
        sub = await self.js.subscribe(
            subjects.protocol(self.party),
            stream=OUT_STREAM,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since),
        )
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
        async for msg in self._pull(subjects.protocol(self.party), durable, batch, idle_timeout):
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
        async for msg in self._pull(subject, durable, batch, idle_timeout):
            yield await self._delivered(msg)

    async def wait_delivery(
        self, what: str, since: datetime, *, timeout: float = 60.0
    ) -> Delivered:
        """The first ``what`` (``registry``, ``daily`` …) addressed to us since ``since``."""
        sub = await self.js.subscribe(
            subjects.outbound(self.party, what),
            stream=OUT_STREAM,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since),
        )
        try:
            msg = await sub.next_msg(timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError) as exc:
            raise TransportUnavailable(
                f"no {what} for {self.party.token} within {timeout:.0f} s"
            ) from exc
        finally:
            await sub.unsubscribe()
        return await self._delivered(msg)

    async def _pull(
        self, subject: str, durable: str, batch: int, idle_timeout: float | None
    ) -> AsyncIterator[Msg]:
        sub = await self.js.pull_subscribe(
            subject,
            durable=durable,
            stream=OUT_STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
        )
        loop = asyncio.get_running_loop()
        last = loop.time()
        while idle_timeout is None or loop.time() - last < idle_timeout:
            try:
                msgs = await sub.fetch(batch, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                yield msg
                await msg.ack()
                last = loop.time()

    async def _delivered(self, msg: Msg) -> Delivered:
        headers = dict(msg.headers or {})
        data = msg.data
        name = headers.get(H.OBJECT)
        if name:
            store = await self.js.object_store(BUCKET)
            data = (await store.get(name)).data or b""
            expected = headers.get(H.SHA256, name)
            if hashlib.sha256(data).hexdigest() != expected:
                raise OmsxError(f"{msg.subject}: the object {name} does not match its SHA-256")
        return Delivered(msg.subject, headers.get(H.FILE_NAME, ""), data, headers)


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
