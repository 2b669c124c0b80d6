"""Who may do what on NATS, checked at a real nats-server running the config of
``omsx nats-config`` (messages/natsconfig.py, docs/nats.md), the OMS_PACKAGES bucket
included: each participant writes and reads chunks in its own namespace only, reads no
meta, and nobody may roll the bucket up (messages/objects.py, messages/streams.py).

Behind the server, the hub still checks the sender itself: a package on МО A's subject
whose file name names МО B is answered 806 on a server without authentication —
tests/e2e/test_pipeline.py::test_a_sender_other_than_the_subject_gets_806 (and
…::test_an_unknown_participant_gets_806 for a participant the registry does not know).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import signal
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
import nkeys
import pytest
from click.testing import CliRunner
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError

from admin.cli import main as omsx
from contracts.filenames import Party
from contracts.participants import load_participants_csv
from messages.bridge import NatsBridge
from messages.connect import connect
from messages.gateway import Gateway
from messages.ingest import Ingest
from messages.natsconfig import (
    KeyStore,
    Written,
    chunk_namespace,
    inbox_prefix,
    object_name,
    write_config,
)
from messages.objects import (
    CHUNK,
    WINDOW,
    Placed,
    chunk_subject,
    get_meta,
    meta_subject,
    put_object,
    read_chunks,
    read_object,
)
from messages.streams import BUCKET, IN_STREAM, OBJ_STREAM, OUT_STREAM, provision
from messages.subjects import IN_ALL
from omsx import embedded
from omsx.embedded import EmbeddedServer, free_port
from omsx.errors import OmsxError, TransportUnavailable
from omsx.settings import Settings, get_settings
from storage.blobs import BlobStore
from workers.replies import _blob_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

A, B, SMO = Party("mo", "640001"), Party("mo", "640002"), Party("smo", "64004")
REGISTRY = """role,code,name,active
mo,640001,МО A,1
mo,640002,МО B,1
smo,64004,СМО,1
mo,640003,МО закрыта,0
"""
DENIED_S = 1.5  # a request the server refused never gets an answer: wait this long


@dataclass
class Secured:
    server: EmbeddedServer
    keys: KeyStore
    written: Written
    root: Path

    def settings(self) -> Settings:
        """The hub's settings: its seed is found under the data dir."""
        return Settings(data_dir=self.root, nats_url=self.server.url)


def _write(root: Path, registry: str = REGISTRY) -> tuple[KeyStore, Written]:
    keys = KeyStore(root / "nats-auth")
    written = write_config(keys, load_participants_csv(registry), keys.directory / "n.conf")
    return keys, written


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """A nats-server with the generated users, its streams provisioned by the hub."""
    root = tmp_path_factory.mktemp("secured")
    keys, written = _write(root)
    server = embedded.nats_server(free_port(), root / "nats", config_file=written.path)
    with server:
        running = Secured(server, keys, written, root)
        asyncio.run(_provision(running))
        yield running


async def _provision(secured: Secured) -> None:
    nc = await connect(secured.settings(), name="test-hub", wait_s=10)
    try:
        await provision(nc.jetstream(), secured.settings())
    finally:
        await nc.close()


async def _as(secured: Secured, party: Party, errors: list[str]) -> Client:
    """A raw connection of ``party``'s gateway that records the server's refusals."""

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    return await nats.connect(
        secured.server.url,
        nkeys_seed=str(secured.keys.seed_path(party.token)),
        inbox_prefix=inbox_prefix(party),
        error_cb=on_error,
        allow_reconnect=False,
    )


async def _gateway(secured: Secured, party: Party) -> Gateway:
    seed = str(secured.keys.seed_path(party.token))
    return await Gateway.connect(secured.server.url, party, nkeys_seed=seed)


def _violated(errors: list[str], what: str) -> bool:
    """The server reported a permissions violation for ``what`` (lower case)."""
    return any(f"permissions violation for {what}" in e for e in errors)


async def _refused(nc: Client, subject: str, body: bytes = b"") -> None:
    with pytest.raises(nats.errors.TimeoutError):
        await nc.request(subject, body, timeout=DENIED_S)


async def _hub(secured: Secured) -> Client:
    return await connect(secured.settings(), name="test-hub", wait_s=10)


# ---------------------------------------------------------------- the files


def test_the_config_holds_public_keys_only_and_the_seeds_are_readable_by_their_owner_only(
    secured: Secured,
) -> None:
    text = secured.written.path.read_text()
    assert stat.S_IMODE(secured.keys.directory.stat().st_mode) == 0o700
    for holder in ("hub", "mo.640001", "mo.640002", "smo.64004"):
        seed = secured.keys.seed_path(holder)
        assert stat.S_IMODE(seed.stat().st_mode) == 0o600
        assert seed.read_text().strip() not in text
    assert secured.written.participants == ["mo.640001", "mo.640002", "smo.64004"]
    assert "mo.640003" not in text and not secured.keys.seed_path("mo.640003").exists()


def test_a_rerun_keeps_the_keys_adds_new_participants_and_drops_inactive_ones(
    tmp_path: Path,
) -> None:
    keys, first = _write(tmp_path)
    seed_a = keys.seed_path("mo.640001").read_bytes()
    registry = REGISTRY.replace("mo,640002,МО B,1", "mo,640002,МО B,0") + "mo,640004,МО D,1\n"
    keys, second = _write(tmp_path, registry)
    assert first.generated == ["hub", "mo.640001", "mo.640002", "smo.64004"]
    assert second.generated == ["mo.640004"]
    assert keys.seed_path("mo.640001").read_bytes() == seed_a
    assert second.participants == ["mo.640001", "mo.640004", "smo.64004"]
    assert second.dropped == ["mo.640002"]  # its seed stays, for a reactivation
    assert json.dumps(_public(keys, "mo.640002")) not in second.path.read_text()


def test_a_participant_that_keeps_its_own_seed_is_known_by_its_public_key(tmp_path: Path) -> None:
    keys, _ = _write(tmp_path)
    own = nkeys.from_seed(bytearray(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)))
    keys.register("mo.640002", own.public_key.decode())
    keys, written = _write(tmp_path)
    assert written.own_keys == ["mo.640002"] and not keys.seed_path("mo.640002").exists()
    assert own.public_key.decode() in written.path.read_text()
    with pytest.raises(OmsxError, match="not an NKey user public key"):
        keys.register("mo.640002", "UNOTAKEY")
    with pytest.raises(OmsxError, match="keeps its own seed"):
        keys.rotate("mo.640002")  # only its holder can replace it


def _public(keys: KeyStore, holder: str) -> str:
    return keys.public_key(holder)[0]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("OMSX_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def test_omsx_nats_config_writes_rotates_and_exports(tmp_path: Path, data_dir: Path) -> None:
    csv = tmp_path / "participants.csv"
    csv.write_text(REGISTRY, encoding="utf-8")
    env = {"OMSX_DATA_DIR": str(data_dir)}
    run = CliRunner().invoke
    args = ["nats-config", "--participants", str(csv), "--no-reload"]
    first = run(omsx, args, env=env)
    assert first.exit_code == 0, first.output
    assert "the hub and 3 participants" in first.output
    seed = data_dir / "nats-auth" / "mo.640001.nk"
    old = seed.read_bytes()
    second = run(omsx, [*args, "--rotate", "mo.640001", "--export", str(tmp_path / "out")], env=env)
    assert second.exit_code == 0, second.output
    assert "new seeds: mo.640001" in second.output and seed.read_bytes() != old
    exported = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert exported == ["mo.640001.nk", "mo.640002.nk", "smo.64004.nk"]  # never the hub's
    bad = run(omsx, [*args, "--public-key", "mo.640001=nonsense"], env=env)
    assert bad.exit_code == 1 and "not an NKey user public key" in bad.output


# ---------------------------------------------------------------- who gets in


def _greeting(server: EmbeddedServer, seed: bytes | None) -> str:
    """The server's answer to a CONNECT signed with ``seed`` (or with no credentials)."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        reader = sock.makefile("rb")
        info = json.loads(reader.readline().split(b" ", 1)[1])
        connect: dict[str, object] = {"verbose": False, "pedantic": False, "protocol": 1}
        if seed is not None:
            key = nkeys.from_seed(bytearray(seed.strip()))
            signature = base64.urlsafe_b64encode(key.sign(info["nonce"].encode()))
            connect |= {"nkey": key.public_key.decode(), "sig": signature.decode().rstrip("=")}
        sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        return reader.readline().decode().strip()


def test_a_known_key_connects_and_an_unknown_key_or_none_cannot(secured: Secured) -> None:
    stranger = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    assert _greeting(secured.server, secured.keys.seed_path("mo.640001").read_bytes()) == "PONG"
    assert _greeting(secured.server, stranger) == "-ERR 'Authorization Violation'"
    assert _greeting(secured.server, None) == "-ERR 'Authorization Violation'"


async def test_a_deactivated_participant_loses_its_user_at_the_next_reload(tmp_path: Path) -> None:
    registry = REGISTRY.replace("mo,640003,МО закрыта,0", "mo,640003,МО C,1")
    keys, written = _write(tmp_path, registry)
    seed = str(keys.seed_path("mo.640003"))
    with embedded.nats_server(free_port(), tmp_path / "nats", config_file=written.path) as server:
        nc = await nats.connect(server.url, nkeys_seed=seed, allow_reconnect=False)
        try:
            assert nc.is_connected
            _write(tmp_path)  # МО C is inactive again
            assert server.pid is not None
            os.kill(server.pid, signal.SIGHUP)
            for _ in range(50):
                if nc.is_closed:
                    break
                await asyncio.sleep(0.1)
            assert nc.is_closed  # the server dropped the connection of a user it no longer has
        finally:
            await nc.close()
        refused = _greeting(server, keys.seed_path("mo.640003").read_bytes())
        assert refused == "-ERR 'Authorization Violation'"


# ---------------------------------------------------------------- publishing


async def test_a_participant_publishes_on_its_own_subject_and_gets_a_jetstream_ack(
    secured: Secured,
) -> None:
    async with await _gateway(secured, A) as gw:
        sent = await gw.publish(b"own bytes", "HM640001S64004_25111.zip")
    assert sent.subject == "oms.in.mo.640001.registry" and sent.seq > 0


async def test_a_participant_cannot_publish_as_another(secured: Secured) -> None:
    errors: list[str] = []
    nc = await _as(secured, A, errors)
    try:
        with pytest.raises(nats.errors.TimeoutError):  # no stream ever saw it: no ack
            await nc.jetstream().publish(
                "oms.in.mo.640002.registry", b"as B", headers={"Nats-Msg-Id": "x"}, timeout=2
            )
    finally:
        await nc.close()
    assert _violated(errors, 'publish to "oms.in.mo.640002.registry"'), errors
    hub = await _hub(secured)
    try:
        info = await hub.jetstream().stream_info(IN_STREAM, subjects_filter="oms.in.mo.640002.>")
    finally:
        await hub.close()
    assert not info.state.subjects


async def test_a_large_package_goes_into_the_object_store_under_its_senders_namespace_only(
    secured: Secured,
) -> None:
    data = os.urandom(1 << 20) * 2
    async with await _gateway(secured, A) as gw:
        sent = await gw.publish(data, "HM640001S64004_25112.zip")
    assert sent.via_object
    hub = await _hub(secured)
    try:
        js = hub.jetstream()
        msg = await js.get_msg(IN_STREAM, sent.seq)
        assert msg.headers is not None
        name = msg.headers["Oms-Object"]
        assert name == f"mo.640001/{sent.sha256}" and msg.data in (None, b"")
        store = await js.object_store(BUCKET)
        assert (await store.get_info(name)).nuid.startswith("mo.640001.")
        assert (await store.get(name)).data == data  # what ingest reads
    finally:
        await hub.close()
    errors: list[str] = []
    nc = await _as(secured, A, errors)
    try:
        with pytest.raises(nats.errors.TimeoutError):
            await nc.jetstream().publish("$O.OMS_PACKAGES.C.mo.640002.x", b"into B's", timeout=2)
        await _refused(nc, f"$JS.API.STREAM.INFO.OBJ_{BUCKET}")  # nor reads the bucket
    finally:
        await nc.close()
    assert _violated(errors, 'publish to "$o.oms_packages.c.mo.640002.x"'), errors


# ---------------------------------------------------------------- reading


async def _publish_out(secured: Secured, party: Party, text: str) -> None:
    hub = await _hub(secured)
    try:
        subject = f"oms.out.{party.token}.protocol"
        await hub.jetstream().publish(subject, text.encode(), headers={"Nats-Msg-Id": text})
    finally:
        await hub.close()


async def test_a_participant_reads_its_own_deliveries_through_its_own_consumers(
    secured: Secured,
) -> None:
    since = datetime.now(UTC)
    await _publish_out(secured, B, "for B 1")
    await _publish_out(secured, A, "for A 1")
    async with await _gateway(secured, A) as gw:
        waited = await gw.wait_delivery("protocol", since, timeout=10)
        durable = [item.data async for item in gw.deliveries("inbox", idle_timeout=2)]
    assert waited.data == b"for A 1"
    assert b"for A 1" in durable and not any(b"for B" in d for d in durable)


async def test_a_participant_cannot_read_another_participants_deliveries(
    secured: Secured,
) -> None:
    await _publish_out(secured, B, "for B 2")
    errors: list[str] = []
    nc = await _as(secured, A, errors)
    try:
        inbox = nc.new_inbox()
        config = {"name": "steal", "deliver_subject": inbox, "ack_policy": "none"}
        config["filter_subject"] = "oms.out.mo.640002.>"
        stealing = {"stream_name": OUT_STREAM, "config": config}
        # a consumer on B's subjects: the filter is in the subject, and not A's to use
        await _refused(nc, "$JS.API.CONSUMER.CREATE.OMS_OUT.steal.oms.out.mo.640002.>",
                       json.dumps(stealing).encode())  # fmt: skip
        # A's subjects in the subject, B's in the request: the server compares them
        answer = await nc.request(
            "$JS.API.CONSUMER.CREATE.OMS_OUT.steal.oms.out.mo.640001.>",
            json.dumps(stealing).encode(),
            timeout=5,
        )
        assert json.loads(answer.data)["error"]["err_code"] == 10131
        # nor the old ways around the filter: unfiltered create, pulling, reading the stream
        await _refused(nc, "$JS.API.CONSUMER.CREATE.OMS_OUT", json.dumps(stealing).encode())
        await _refused(nc, "$JS.API.CONSUMER.MSG.NEXT.OMS_OUT.gw-mo-640002-inbox", b"1")
        await _refused(nc, "$JS.API.STREAM.MSG.GET.OMS_OUT", b'{"seq": 1}')
        # nor listen where B's messages pass
        await nc.subscribe("oms.out.mo.640002.>")
        await nc.subscribe("_INBOX_mo_640002.>")
        await nc.flush()
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
    for subject in ("oms.out.mo.640002.>", "_inbox_mo_640002.>"):
        assert _violated(errors, f'subscription to "{subject}"'), errors


async def test_a_redirected_durable_gives_its_owners_messages_to_no_one_and_is_restored(
    secured: Secured,
) -> None:
    """The one thing a participant can do to another's consumer, knowing its name: point
    it at its own subjects (the server refuses any other filter). B's gateway notices,
    and puts its consumer back when it starts again."""
    async with await _gateway(secured, B) as gw:  # B's durable exists, read up to now
        _ = [item async for item in gw.deliveries("inbox", idle_timeout=1)]
    await _publish_out(secured, B, "for B 3")
    await _publish_out(secured, A, "for A 3")
    errors: list[str] = []
    nc = await _as(secured, A, errors)
    try:
        name = "gw-mo-640002-inbox"
        config = ConsumerConfig(
            name=name, durable_name=name, filter_subject="oms.out.mo.640001.>",
            deliver_subject=f"_INBOX_mo_640002.{name}", deliver_group=name,
            ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
        )  # fmt: skip
        await nc.jetstream().add_consumer(OUT_STREAM, config=config)
    finally:
        await nc.close()
    async with await _gateway(secured, B) as gw:
        got = [item.data async for item in gw.deliveries("inbox", idle_timeout=2)]
    assert b"for B 3" in got and not any(b"for A" in d for d in got)


# ---------------------------------------------------------------- the hub


async def test_the_hub_consumes_oms_in_reads_objects_and_answers_on_oms_out(
    secured: Secured,
) -> None:
    since = datetime.now(UTC)
    async with await _gateway(secured, SMO) as gw:
        sent = await gw.publish(b"erz bytes", "ESM64004T64_25111.zip", kind="erz")
        hub = await _hub(secured)
        try:
            js = hub.jetstream()
            sub = await js.pull_subscribe(IN_ALL, durable="test-ingest", stream=IN_STREAM)
            msgs = await sub.fetch(100, timeout=5)
            mine = [m for m in msgs if m.subject == "oms.in.smo.64004.erz"]
            assert [m.data for m in mine] == [b"erz bytes"]
            for m in msgs:
                await m.ack_sync()
            sha = hashlib.sha256(b"erz bytes").hexdigest()
            await js.publish("oms.out.smo.64004.protocol", b"<FLK_P/>",
                             headers={"Nats-Msg-Id": f"protocol-{sha}"})  # fmt: skip
        finally:
            await hub.close()
        got = await gw.wait_delivery("protocol", since, timeout=10)
    assert (got.data, sent.subject) == (b"<FLK_P/>", "oms.in.smo.64004.erz")


# ---------------------------------------------------------------- the object store


async def _put(secured: Secured, party: Party, data: bytes) -> Placed:
    """An object the hub puts for ``party``, in its namespace (as workers/replies.py does)."""
    hub = await _hub(secured)
    try:
        name = object_name(party, hashlib.sha256(data).hexdigest())
        return await put_object(hub.jetstream(), name, data, namespace=chunk_namespace(party))
    finally:
        await hub.close()


async def _bucket_messages(secured: Secured) -> int:
    hub = await _hub(secured)
    try:
        return int((await hub.jetstream().stream_info(OBJ_STREAM)).state.messages)
    finally:
        await hub.close()


async def test_the_hub_puts_a_large_delivery_in_the_recipients_namespace_and_it_fetches_it(
    secured: Secured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through workers/replies.py's own path: the register forwarded to the СМО is above
    the message limit, so it goes into the bucket, in the СМО's namespace, without
    ``Nats-Rollup``; the СМО's gateway reads it through a consumer on its own chunks."""
    data = os.urandom(1 << 20) * 5 + b"tail"  # more chunks than a read keeps in flight
    assert len(data) > WINDOW * CHUNK
    sha = hashlib.sha256(data).hexdigest()
    monkeypatch.setenv("OMSX_DATA_DIR", str(secured.root))
    get_settings.cache_clear()
    BlobStore(get_settings().blobs).put(sha, data)
    bridge = NatsBridge(secured.settings())
    since = datetime.now(UTC)
    subject = "oms.out.smo.64004.registry"
    try:
        headers = {"Nats-Msg-Id": f"registry-{sha}", "Oms-File-Name": "HM640001S64004_25111.zip"}
        body = await asyncio.to_thread(_blob_body, bridge, sha, headers, subject)
        await asyncio.to_thread(bridge.publish, subject, body, headers)
    finally:
        await asyncio.to_thread(bridge.close)
        get_settings.cache_clear()
    assert body == b"" and headers["Oms-Object"] == f"smo.64004/{sha}"
    assert headers["Oms-Object-Nuid"].startswith("smo.64004.")
    assert headers["Oms-Object-Size"] == str(len(data))
    async with await _gateway(secured, SMO) as gw:
        got = await gw.wait_delivery("registry", since, timeout=10)
    assert (got.file_name, got.data) == ("HM640001S64004_25111.zip", data)
    hub = await _hub(secured)
    try:  # nats-py's meta: `nats object get` and ObjectStore.get read it; no rollup header
        meta = await hub.jetstream().get_last_msg(OBJ_STREAM, meta_subject(f"smo.64004/{sha}"))
        assert "Nats-Rollup" not in (meta.headers or {})
        store = await hub.jetstream().object_store(BUCKET)
        info = (await store.get(f"smo.64004/{sha}")).info
        assert (info.nuid, info.size) == (headers["Oms-Object-Nuid"], len(data))
    finally:
        await hub.close()


async def test_another_participant_cannot_read_an_object_put_for_the_smo(
    secured: Secured,
) -> None:
    data = os.urandom(300_000)
    placed = await _put(secured, SMO, data)
    errors: list[str] = []
    nc = await _as(secured, B, errors)
    try:
        # its chunks: not through the gateway's read, nor any consumer on them
        with pytest.raises(nats.errors.TimeoutError):
            await read_chunks(nc, placed, io.BytesIO(), timeout=DENIED_S)
        filtered = {"name": "steal", "filter_subject": chunk_subject(placed.nuid),
                    "deliver_subject": nc.new_inbox(), "ack_policy": "none"}  # fmt: skip
        request = json.dumps({"stream_name": OBJ_STREAM, "config": filtered}).encode()
        await _refused(nc, f"$JS.API.CONSUMER.CREATE.{OBJ_STREAM}", request)
        await _refused(nc, f"$JS.API.CONSUMER.CREATE.{OBJ_STREAM}.steal.$O.{BUCKET}.C.>", request)
        # B's own namespace in the subject, the СМО's chunks in the request: compared
        answer = await nc.request(
            f"$JS.API.CONSUMER.CREATE.{OBJ_STREAM}.steal.$O.{BUCKET}.C.mo.640002.>",
            request,
            timeout=5,
        )
        assert json.loads(answer.data)["error"]["err_code"] == 10131
        # its meta: not by name, not by a literal wildcard, not by sequence, not listed
        for key in (meta_subject(placed.name), f"$O.{BUCKET}.M.*", f"$O.{BUCKET}.>"):
            await _refused(nc, f"$JS.API.DIRECT.GET.{OBJ_STREAM}.{key}")
        await _refused(nc, f"$JS.API.DIRECT.GET.{OBJ_STREAM}", b'{"seq": 1}')
        await _refused(nc, f"$JS.API.STREAM.MSG.GET.{OBJ_STREAM}", b'{"seq": 1}')
        await _refused(nc, f"$JS.API.STREAM.INFO.{OBJ_STREAM}")
        # nor listen where chunks pass
        await nc.subscribe(f"$O.{BUCKET}.>")
        await nc.flush()
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
    create = f"$js.api.consumer.create.{OBJ_STREAM}.obj-".lower()
    assert any(f'publish to "{create}' in e for e in errors), errors
    assert _violated(errors, f'subscription to "$o.{BUCKET.lower()}.>"'), errors
    errors.clear()
    smo = await _as(secured, SMO, errors)  # the СМО itself reads its chunks, and no meta
    try:
        buf = io.BytesIO()
        await read_chunks(smo, placed, buf, timeout=10)
        assert buf.getvalue() == data
        await _refused(smo, f"$JS.API.DIRECT.GET.{OBJ_STREAM}.{meta_subject(placed.name)}")
    finally:
        await smo.close()


async def test_a_delivery_whose_object_does_not_match_fails_naming_the_object(
    secured: Secured,
) -> None:
    data = os.urandom(200_000)
    placed = await _put(secured, SMO, data)
    since = datetime.now(UTC)
    hub = await _hub(secured)
    try:
        js = hub.jetstream()
        wrong = {**placed.headers, "Oms-Sha256": "0" * 64, "Nats-Msg-Id": f"bad-{placed.nuid}"}
        await js.publish("oms.out.smo.64004.bad", b"", headers=wrong)
        gone = {**placed.headers, "Oms-Object-Nuid": "smo.64004.gone", "Nats-Msg-Id": "gone"}
        await js.publish("oms.out.smo.64004.gone", b"", headers=gone)
    finally:
        await hub.close()
    async with await _gateway(secured, SMO) as gw:
        with pytest.raises(OmsxError, match=f"the object {placed.name} does not match"):
            await gw.wait_delivery("bad", since, timeout=10)
        with pytest.raises(TransportUnavailable, match=f"the object {placed.name} is not in"):
            await gw.wait_delivery("gone", since, timeout=10)


async def test_ingest_answers_806_for_an_object_outside_the_senders_namespace(
    secured: Secured,
) -> None:
    """МО A may write a meta under any name (names are base64: permissions cannot bind
    them), so it can name its package after МО B's chunks, or name B's object itself;
    ingest reads neither, and answers 806. A's own object is read as before."""
    theirs, mine = os.urandom(1 << 20) * 2, os.urandom(1 << 20) * 2
    async with await _gateway(secured, B) as gw:
        sent_b = await gw.publish(theirs, "HM640002S64004_25111.zip")
    async with await _gateway(secured, A) as gw:
        sent_a = await gw.publish(mine, "HM640001S64004_25113.zip")
    hub = await _hub(secured)
    try:
        js = hub.jetstream()
        b_meta = await get_meta(js, f"mo.640002/{sent_b.sha256}")
        assert b_meta.nuid and b_meta.nuid.startswith("mo.640002.")
    finally:
        await hub.close()
    forged = f"mo.640001/{sent_b.sha256}"
    nc = await _as(secured, A, [])
    try:
        js = nc.jetstream()
        meta = {**b_meta.as_dict(), "name": forged}  # B's chunks under A's name
        await js.publish(meta_subject(forged), json.dumps(meta).encode(), timeout=5)
        seqs = []
        for name in (forged, f"mo.640002/{sent_b.sha256}"):
            headers = {"Nats-Msg-Id": name, "Oms-File-Name": "HM640001S64004_25114.zip",
                       "Oms-Object": name, "Oms-Sha256": sent_b.sha256}  # fmt: skip
            ack = await js.publish("oms.in.mo.640001.registry", b"", headers=headers, timeout=5)
            seqs.append(ack.seq)
    finally:
        await nc.close()
    hub = await _hub(secured)
    try:
        ingest = Ingest(secured.settings(), hub)
        js = hub.jetstream()
        arrivals = [await ingest.receive(await _in_msg(js, seq)) for seq in seqs]
        own = await ingest.receive(await _in_msg(js, sent_a.seq))
    finally:
        await hub.close()
    for arrival in arrivals:
        assert arrival.transport_problem is not None
        assert (arrival.transport_problem.oshib, arrival.size) == ("806", 0)
        assert not BlobStore(secured.settings().blobs).exists(sent_b.sha256)
    assert (own.transport_problem, own.sha256, own.size) == (None, sent_a.sha256, len(mine))
    assert BlobStore(secured.settings().blobs).read(sent_a.sha256) == mine


async def _in_msg(js: JetStreamContext, seq: int) -> Msg:
    """OMS_IN's message ``seq`` as ingest's pull consumer delivers it."""
    sub = await js.pull_subscribe(
        IN_ALL, stream=IN_STREAM,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=seq,
                              ack_policy=AckPolicy.NONE, inactive_threshold=5.0),
    )  # fmt: skip
    try:
        return (await sub.fetch(1, timeout=5))[0]
    finally:
        await sub.unsubscribe()


async def test_a_rollup_into_the_bucket_is_refused_and_purges_nothing(secured: Secured) -> None:
    data = os.urandom(300_000)
    placed = await _put(secured, B, data)
    before = await _bucket_messages(secured)
    nc = await _as(secured, A, [])
    try:
        js = nc.jetstream()
        for subject in (f"$O.{BUCKET}.C.mo.640001.roll", meta_subject("mo.640001/roll")):
            for rollup in ("all", "sub"):
                with pytest.raises(APIError) as refused:
                    await js.publish(subject, b"x", headers={"Nats-Rollup": rollup}, timeout=5)
                assert refused.value.err_code == 10111  # rollup not permitted
    finally:
        await nc.close()
    assert await _bucket_messages(secured) == before
    hub = await _hub(secured)
    try:
        buf = io.BytesIO()
        await read_object(hub, placed.name, buf, owner="mo.640002")
        assert buf.getvalue() == data
        config = (await hub.jetstream().stream_info(OBJ_STREAM)).config
        assert (config.allow_rollup_hdrs, config.deny_purge) == (False, False)
    finally:
        await hub.close()


async def test_provisioning_makes_a_bucket_made_by_nats_py_refuse_rollups_in_place(
    tmp_path: Path,
) -> None:
    with embedded.nats_server(free_port(), tmp_path / "nats") as server:
        settings = Settings(data_dir=tmp_path, nats_url=server.url)
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            store = await js.create_object_store(BUCKET)
            await store.put("kept", b"kept bytes")
            assert (await js.stream_info(OBJ_STREAM)).config.allow_rollup_hdrs
            await provision(js, settings)
            info = await js.stream_info(OBJ_STREAM)
            assert not info.config.allow_rollup_hdrs
            assert info.config.max_age == settings.out_retention_days * 24 * 3600  # as OMS_OUT
            assert (await store.get("kept")).data == b"kept bytes"
            with pytest.raises(APIError, match="rollup not permitted"):
                await store.put("new", b"nats-py's put rolls up its meta")
        finally:
            await nc.close()
