"""Objects in the ``OMS_PACKAGES`` bucket, written by publishing alone and read through a
consumer on their own chunks (docs/nats.md "The object store").

The layout is nats-py's, so ``ObjectStore.get`` and ``nats object get`` read what is
written here::

    $O.OMS_PACKAGES.C.<role>.<code>.<nuid>   the chunks, 128 KiB each, in the namespace
                                             of the participant the object belongs to
    $O.OMS_PACKAGES.M.<base64url(name)>      the meta (nats-py's ObjectInfo as JSON);
                                             name = ``<role>.<code>/<sha256>``

Inbound, a gateway writes its package in its own namespace (:func:`put_object`) and the
hub reads it after checking that the meta points there (:func:`read_object` with
``owner``). Outbound, the hub writes into the recipient's namespace and says in the
delivery where the chunks lie (:attr:`Placed.headers`); the recipient reads them through
a consumer filtered to its own namespace (:func:`read_chunks`), the one read of the bucket
a participant is allowed. Nothing here reads the stream's info, gets a message by
sequence, purges or rolls up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ObjectInfo, ObjectMetaOptions
from nats.js.errors import DigestMismatchError, NotFoundError, ObjectNotFoundError
from nats.nuid import NUID

from messages import headers as H
from messages.streams import BUCKET, OBJ_STREAM
from omsx.errors import OmsxError

CHUNK = 128 * 1024  # object store chunk, as nats-py writes them
WINDOW = 32  # chunks delivered and not yet acknowledged while reading
READ_IDLE_S = 5.0  # the server removes a read's consumer this long after we stop listening
# where the hub says an outbound object's chunks lie (a participant may not read metas)
NUID_HEADER = "Oms-Object-Nuid"
SIZE_HEADER = "Oms-Object-Size"
_DIGEST = "SHA-256="


class ForeignObjectError(OmsxError):
    """An object that is not in the namespace it must be in: its name is not
    ``<owner>/…`` or its chunks do not lie under ``<owner>.``."""

    def __init__(self, name: str, nuid: str, owner: str) -> None:
        super().__init__(f"the object {name} (chunks {nuid}) is not in {owner}'s namespace")
        self.name, self.nuid, self.owner = name, nuid, owner


@dataclass(frozen=True)
class Placed:
    """Where an object lies and what it holds."""

    name: str
    nuid: str  # its chunks are $O.OMS_PACKAGES.C.<nuid>
    size: int
    sha256: str  # hex

    @property
    def headers(self) -> dict[str, str]:
        """What a message carrying the object by reference says about it."""
        return {
            H.OBJECT: self.name,
            H.SHA256: self.sha256,
            NUID_HEADER: self.nuid,
            SIZE_HEADER: str(self.size),
        }

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Placed | None:
        """The object a delivery names, where the hub says it lies; None when the headers
        do not say (then only the meta does)."""
        name, nuid = headers.get(H.OBJECT), headers.get(NUID_HEADER)
        size = headers.get(SIZE_HEADER, "")
        if not (name and nuid and size.isdigit()):
            return None
        return cls(name, nuid, int(size), headers.get(H.SHA256, "").lower())

    @classmethod
    def from_meta(cls, info: ObjectInfo) -> Placed:
        digest = (info.digest or "").removeprefix(_DIGEST).removeprefix(_DIGEST.lower())
        try:
            sha = base64.urlsafe_b64decode(digest).hex()
        except (binascii.Error, ValueError):
            sha = ""
        return cls(info.name, info.nuid or "", info.size or 0, sha)

    def in_namespace(self, owner: str) -> bool:
        """Named ``<owner>/…`` with its chunks under ``<owner>.``."""
        return self.name.startswith(f"{owner}/") and self.nuid.startswith(f"{owner}.")


def meta_subject(name: str) -> str:
    return f"$O.{BUCKET}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


def chunk_subject(nuid: str) -> str:
    return f"$O.{BUCKET}.C.{nuid}"


async def put_object(
    js: JetStreamContext, name: str, data: bytes | BinaryIO, *, namespace: str
) -> Placed:
    """Write ``data`` into ``OMS_PACKAGES`` as ``name`` by publishing alone: the chunks
    under ``namespace``, then the meta, in nats-py's format. Unlike ``ObjectStore.put``
    nothing is read, purged or rolled up (``Nats-Rollup``, which the bucket refuses);
    chunks of a failed put, and of an object put again, expire with the bucket."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    nuid = f"{namespace}.{NUID().next().decode()}"
    digest = hashlib.sha256()
    size = count = 0
    while chunk := source.read(CHUNK):
        await js.publish(chunk_subject(nuid), chunk, timeout=30)
        digest.update(chunk)
        size += len(chunk)
        count += 1
    meta = ObjectInfo(
        name=name, bucket=BUCKET, nuid=nuid, size=size, chunks=count,
        mtime=datetime.now(UTC).isoformat(),
        digest=_DIGEST + base64.urlsafe_b64encode(digest.digest()).decode(),
        options=ObjectMetaOptions(max_chunk_size=CHUNK),
    )  # fmt: skip
    await js.publish(meta_subject(name), json.dumps(meta.as_dict()).encode(), timeout=30)
    return Placed(name, nuid, size, digest.hexdigest())


async def get_meta(js: JetStreamContext, name: str) -> ObjectInfo:
    """The newest meta of ``name`` from the stream's leader (the hub's read; a participant
    may not). :class:`ObjectNotFoundError` when there is none, it is deleted or unreadable."""
    try:
        msg = await js.get_last_msg(OBJ_STREAM, meta_subject(name))
        info: ObjectInfo = ObjectInfo.from_response(json.loads(msg.data or b""))
    except NotFoundError as exc:
        raise ObjectNotFoundError from exc
    except (ValueError, TypeError, KeyError) as exc:  # not nats-py's meta
        raise ObjectNotFoundError from exc
    if info.deleted or not info.nuid:
        raise ObjectNotFoundError
    return info


async def read_object(
    nc: Client, name: str, sink: BinaryIO, *, owner: str | None = None, timeout: float = 30.0
) -> Placed:
    """Read ``name`` into ``sink`` by its meta, checked against the meta's size and digest.

    With ``owner``, an object not in ``owner``'s namespace is refused before a byte of it
    is read (:class:`ForeignObjectError`); the chunks read are those of the meta checked."""
    placed = Placed.from_meta(await get_meta(nc.jetstream(timeout=timeout), name))
    if owner is not None and not placed.in_namespace(owner):
        raise ForeignObjectError(name, placed.nuid, owner)
    await read_chunks(nc, placed, sink, timeout=timeout)
    return placed


async def read_chunks(nc: Client, placed: Placed, sink: BinaryIO, *, timeout: float = 30.0) -> None:
    """Write the chunks of ``placed`` into ``sink`` in order, through a push consumer
    filtered to them alone and delivered to our inbox: the consumer is created through
    ``$JS.API.CONSUMER.CREATE.OBJ_OMS_PACKAGES.<name>.$O.OMS_PACKAGES.C.<nuid>``, which a
    participant may use for its own namespace only. At most :data:`WINDOW` chunks are
    in flight; each is acknowledged as it is written.

    :class:`ObjectNotFoundError` when no chunk is there (expired); :class:`DigestMismatchError`
    when the bytes are not ``placed.size`` long or do not hash to ``placed.sha256``."""
    if placed.size == 0:
        if placed.sha256 != hashlib.sha256().hexdigest():
            raise DigestMismatchError
        return
    js = nc.jetstream(timeout=timeout)
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        config = ConsumerConfig(
            name=f"obj-{NUID().next().decode()}", filter_subject=chunk_subject(placed.nuid),
            deliver_subject=inbox, deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT, max_ack_pending=WINDOW,
            inactive_threshold=READ_IDLE_S, mem_storage=True, num_replicas=1,
        )  # fmt: skip
        created = await js.add_consumer(OBJ_STREAM, config=config)
        if not created.num_pending and not (created.delivered and created.delivered.stream_seq):
            raise ObjectNotFoundError  # no chunk to deliver, nor one delivered already
        digest = hashlib.sha256()
        size = last = 0
        while True:
            msg = await sub.next_msg(timeout=timeout)
            meta = msg.metadata
            if meta.sequence.stream <= last:  # redelivered: already written
                await msg.ack()
                continue
            last = meta.sequence.stream
            size += len(msg.data)
            if size > placed.size:
                raise DigestMismatchError
            sink.write(msg.data)
            digest.update(msg.data)
            await msg.ack()
            if not meta.num_pending:
                break
    finally:
        await sub.unsubscribe()  # the server removes the consumer once idle
    if size != placed.size or digest.hexdigest() != placed.sha256:
        raise DigestMismatchError
