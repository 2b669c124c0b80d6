"""A crash of ingest between storing a package and acking it loses and doubles nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js.api import DeliverPolicy

from messages.streams import OUT_STREAM
from tests.builders import register
from tests.e2e.conftest import Hub, start_hub

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(180)]


@pytest.fixture
def crash_hub(tmp_path: Path) -> Iterator[Hub]:
    hub, servers = start_hub(tmp_path)
    try:
        yield hub
    finally:
        hub.stop_all()
        for server in servers:
            server.stop()


async def protocols_for(hub: Hub, token: str, sha: str) -> list[str]:
    gw = await hub.gateway(token)
    async with gw:
        sub = await gw.js.subscribe(
            f"oms.out.{token}.protocol",
            stream=OUT_STREAM,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        info = await gw.js.stream_info(OUT_STREAM)
        seen: list[str] = []
        for _ in range(info.state.messages):
            try:
                msg = await sub.next_msg(timeout=2)
            except TimeoutError:
                break
            if (msg.headers or {}).get("Oms-Sha256") == sha:
                seen.append(msg.headers["Nats-Msg-Id"])
        await sub.unsubscribe()
    return seen


async def test_ingest_killed_between_storing_and_acking_processes_the_package_once(
    crash_hub: Hub,
) -> None:
    hub = crash_hub
    name, data = register("HM640001S64004_25111", n=2)
    await hub.insure((name, data))
    hub.kill("ingest")
    hub.start_ingest(OMSX_FAULT_PAUSE_BEFORE_ACK_S="60")
    gw = await hub.gateway("mo.640001")
    async with gw:
        sent = await gw.publish(data, name)
        stored = hub.wait_for("SELECT id FROM package WHERE sha256 = :s", s=sent.sha256)
        assert stored, hub.log("ingest")
        hub.wait_log("ingest", "ingest.paused_before_ack")
        hub.kill("ingest")  # SIGKILL while the message is stored but not acked
        hub.start_ingest()  # the unacked message is redelivered to the restarted consumer
        got = await gw.wait_protocol(sent, timeout=90)
    assert got.protocol.result == "A"
    # the redelivered message was recognised: one package, one receipt, one protocol
    receipts = (
        "SELECT count(*) FROM receipt JOIN package ON package.id = receipt.package_id"
        " WHERE package.sha256 = :s"
    )
    hub.wait_for(receipts, lambda r: r == [(1,)], timeout=5, s=sent.sha256)
    assert hub.sql("SELECT count(*) FROM package WHERE sha256 = :s", s=sent.sha256) == [(1,)]
    assert hub.sql(receipts, s=sent.sha256) == [(1,)]
    # and its data landed once: two cases, one invoice
    cases = "SELECT count(*) FROM carecase JOIN package ON package.id = carecase.package_id"
    assert hub.sql(cases + " WHERE package.sha256 = :s", s=sent.sha256) == [(2,)]
    assert await protocols_for(hub, "mo.640001", sent.sha256) == [f"protocol-{sent.sha256}"]
    print(f"crash test: packages=1 receipts=1 protocols=1 seq={sent.seq}")
