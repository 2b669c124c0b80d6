"""Ingest outlives JetStream failing its pulls, and takes in what comes after.

While nats-server restarts, a pull can be answered 503 (JetStream not up yet): the
pull raised out of ingest's loop and ended the process, so whatever it had pulled and
not acked waited out the ack wait, and with every ingest gone nothing was taken in.
Here the server comes back without JetStream for a while (every pull fails, as in
that window), and the durable consumer is deleted under a running ingest.
Real nats-server, real database; Dramatiq's StubBroker takes the hand-overs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from nats.js.errors import NotFoundError
from sqlmodel import func, select
from structlog.testing import capture_logs

from messages import headers as H
from messages import ingest as ingest_module
from messages.connect import connect
from messages.ingest import Ingest
from messages.streams import IN_STREAM
from omsx.embedded import EmbeddedServer
from omsx.settings import Settings
from storage.db import session_scope
from storage.models import Receipt
from tests.builders import register

pytestmark = pytest.mark.integration

SUBJECT = "oms.in.mo.640001.registry"


def _receipts() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(Receipt)).one()


async def _until(what: str, check: Callable[[], bool | Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if not isinstance(answer, bool):
            answer = await answer
        if answer:
            return
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


def _without_jetstream(server: EmbeddedServer, where: Path) -> EmbeddedServer:
    """The same server, port and store, started without ``-js``."""
    argv = [arg for arg in server.argv if arg != "-js"]
    return EmbeddedServer("nats-no-js", argv, host=server.host, port=server.port,
                          data_dir=where, url=server.url)  # fmt: skip


def test_ingest_outlives_pulls_failing_while_jetstream_is_away(
    pipeline_env: Settings, fresh_nats: EmbeddedServer, tmp_path: Path
) -> None:
    async def scenario() -> list[MutableMapping[str, Any]]:
        nc = await connect(pipeline_env, name="test-ingest")
        publisher = await connect(pipeline_env, name="test-gateway")
        js = publisher.jetstream()
        stop = asyncio.Event()
        with capture_logs() as logs:
            task = asyncio.create_task(Ingest(pipeline_env, nc).run(stop))
            try:
                for k in range(2):  # before the outage
                    name, data = register(f"HM640001S64004_2511{k + 1}", n=1, seed=k)
                    await js.publish(SUBJECT, data, headers={H.FILE_NAME: f"{name}.zip"})
                await _until("2 receipts", lambda: _receipts() == 2, 20)

                await asyncio.to_thread(fresh_nats.stop)
                no_js = _without_jetstream(fresh_nats, tmp_path / "no-js")
                no_js.start()
                await asyncio.to_thread(no_js.wait_ready)
                await _until("pulls failing", lambda: sum(
                    e["event"] == "ingest.pull_failed" for e in logs) >= 3, 30)  # fmt: skip
                assert not task.done()
                await asyncio.to_thread(no_js.stop)
                fresh_nats.start()
                await asyncio.to_thread(fresh_nats.wait_ready)

                await _until("publisher back", lambda: publisher.is_connected, 20)
                name, data = register("HM640001S64004_25113", n=1, seed=3)
                await js.publish(SUBJECT, data, headers={H.FILE_NAME: f"{name}.zip"})
                await _until("a receipt after the outage", lambda: _receipts() == 3, 30)

                # a consumer deleted by mistake is created again
                await js.delete_consumer(IN_STREAM, pipeline_env.ingest_durable)
                await _until("resubscribed", lambda: any(
                    e["event"] == "ingest.resubscribed" for e in logs), 30)  # fmt: skip
                name, data = register("HM640001S64004_25114", n=1, seed=4)
                await js.publish(SUBJECT, data, headers={H.FILE_NAME: f"{name}.zip"})
                await _until("a receipt after the deletion", lambda: _receipts() == 4, 30)
                assert not task.done()
            finally:
                stop.set()
                await asyncio.wait_for(task, 10)
                await publisher.close()
                await nc.close()
        return list(logs)

    logs = asyncio.run(scenario())
    failed = [e for e in logs if e["event"] == "ingest.pull_failed"]
    assert {e["error"] for e in failed} <= {
        "ServiceUnavailableError", "NoRespondersError", "NotFoundError", "TimeoutError",
        "ConnectionClosedError", "UnexpectedEOF", "StaleConnectionError",
    }, failed  # fmt: skip
    assert any(e["error"] == "ServiceUnavailableError" for e in failed)  # the 503
    assert [e["event"] for e in logs].count("ingest.resubscribed") == 1
    assert [e["event"] for e in logs].count("ingest.stopped") == 1


@pytest.mark.parametrize("beats", [True, False], ids=["beats", "control-without-beats"])
def test_a_pull_in_hand_longer_than_the_ack_wait_is_not_delivered_again(
    pipeline_env: Settings,
    fresh_nats: EmbeddedServer,
    monkeypatch: pytest.MonkeyPatch,
    beats: bool,
) -> None:
    """Handling outlasts a 5 s ack wait (paused 8 s before the ack) while a second
    ingest pulls on the same consumer: with the progress beats JetStream keeps the
    message with the first; without them (the control) it hands it to the second."""
    if not beats:
        monkeypatch.setattr(ingest_module, "_keep_alive", _no_beats)
    slow = pipeline_env.model_copy(update={"ingest_ack_wait_s": 5, "fault_pause_before_ack_s": 8})

    async def scenario() -> tuple[int | None, int, int]:
        nc = await connect(slow, name="test-ingest")
        publisher = await connect(slow, name="test-gateway")
        stop = asyncio.Event()
        tasks = [asyncio.create_task(Ingest(slow, nc).run(stop)) for _ in range(2)]
        try:
            name, data = register("HM640001S64004_25115", n=1, seed=5)
            published = await publisher.jetstream().publish(
                SUBJECT, data, headers={H.FILE_NAME: f"{name}.zip"}
            )
            js = nc.jetstream()

            async def answered() -> bool:
                try:
                    info = await js.consumer_info(IN_STREAM, slow.ingest_durable)
                except NotFoundError:  # the ingests are still making it
                    return False
                seq = info.delivered.stream_seq or 0
                return info.num_ack_pending == 0 and seq >= published.seq

            await _until("acked", answered, 40)
            info = await js.consumer_info(IN_STREAM, slow.ingest_durable)
            deliveries = info.delivered.consumer_seq  # every delivery takes a consumer seq
            return deliveries, _receipts(), sum(not t.done() for t in tasks)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 20)
            await publisher.close()
            await nc.close()

    deliveries, receipts, running = asyncio.run(scenario())
    assert (receipts, running) == (1, 2)  # a second delivery is known by its stream seq
    assert deliveries == 1 if beats else deliveries >= 2


async def _no_beats(msgs: list[Any], every: float) -> None:
    await asyncio.Event().wait()  # the control: never beats
