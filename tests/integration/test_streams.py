"""The streams as provisioned on a real nats-server: a large delivery in OMS_OUT names
an object in OMS_PACKAGES, so the bucket keeps objects as long as OMS_OUT keeps
messages — also on a server provisioned before (when it kept them 30 days)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import nats
import pytest

from messages.streams import OBJ_STREAM, OUT_STREAM, provision, stream_configs
from omsx.embedded import EmbeddedServer
from omsx.settings import Settings

pytestmark = pytest.mark.integration
DAY = 24 * 3600


def test_the_bucket_keeps_objects_as_long_as_oms_out_keeps_deliveries(
    omsx_env: Settings, fresh_nats: EmbeddedServer
) -> None:
    async def scenario() -> tuple[float, float]:
        nc = await nats.connect(fresh_nats.url)
        try:
            js = nc.jetstream()
            old = next(c for c in stream_configs(omsx_env) if c.name == OBJ_STREAM)
            await js.add_stream(replace(old, max_age=float(30 * DAY)))  # as provisioned before
            await provision(js, omsx_env)
            bucket = (await js.stream_info(OBJ_STREAM)).config.max_age
            out = (await js.stream_info(OUT_STREAM)).config.max_age
            assert bucket is not None and out is not None
            return bucket, out
        finally:
            await nc.close()

    bucket, out = asyncio.run(scenario())
    assert out == omsx_env.out_retention_days * DAY
    assert bucket == out


def test_ingest_brings_its_existing_consumer_to_the_settings(
    omsx_env: Settings, fresh_nats: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # binding to a durable keeps its config: a changed ack wait took no effect
    from messages.ingest import Ingest
    from messages.streams import IN_STREAM
    from omsx.settings import get_settings

    async def ack_waits() -> list[float | None]:
        nc = await nats.connect(fresh_nats.url)
        waits = []
        try:
            for seconds in ("60", "20"):
                monkeypatch.setenv("OMSX_INGEST_ACK_WAIT_S", seconds)
                get_settings.cache_clear()
                sub = await Ingest(get_settings(), nc).subscribe()
                info = await nc.jetstream().consumer_info(IN_STREAM, omsx_env.ingest_durable)
                waits.append(info.config.ack_wait)
                await sub.unsubscribe()
        finally:
            await nc.close()
            get_settings.cache_clear()
        return waits

    assert asyncio.run(ack_waits()) == [60.0, 20.0]
