"""The embedded servers and the fixtures every integration and e2e test stands on."""

from __future__ import annotations

import uuid
from pathlib import Path

import nats
import pytest
import redis
from nats.js.api import StreamConfig
from sqlalchemy import create_engine, text

from omsx import embedded
from omsx.embedded import EmbeddedServer, free_port
from omsx.errors import ConfigError
from omsx.settings import Settings

pytestmark = pytest.mark.integration


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"T_{suffix}", f"t.{suffix}"


async def _publish(url: str, stream: str, subject: str, payloads: list[bytes]) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{subject}.>"]))
        for number, payload in enumerate(payloads):
            await js.publish(f"{subject}.{number}", payload)
    finally:
        await nc.close()


async def _fetch_and_ack(url: str, stream: str, subject: str, count: int) -> list[bytes]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        consumer = await js.pull_subscribe(f"{subject}.>", durable="reader", stream=stream)
        messages = await consumer.fetch(count, timeout=5)
        for message in messages:
            await message.ack_sync()
        info = await js.consumer_info(stream, "reader")
        assert info.num_ack_pending == 0
        return [message.data for message in messages]
    finally:
        await nc.close()


async def test_a_published_message_is_fetched_and_acked_through_jetstream(
    nats_server: EmbeddedServer,
) -> None:
    stream, subject = _names()
    await _publish(nats_server.url, stream, subject, [b"hello"])
    assert await _fetch_and_ack(nats_server.url, stream, subject, 1) == [b"hello"]


@pytest.mark.faults
async def test_jetstream_streams_and_messages_survive_a_nats_restart(
    fresh_nats: EmbeddedServer,
) -> None:
    stream, subject = _names()
    await _publish(fresh_nats.url, stream, subject, [b"one", b"two", b"three"])
    old_pid = fresh_nats.pid
    fresh_nats.restart()
    assert fresh_nats.pid != old_pid
    fetched = await _fetch_and_ack(fresh_nats.url, stream, subject, 3)
    assert fetched == [b"one", b"two", b"three"]


def test_valkey_answers_set_and_get(redis_server: EmbeddedServer) -> None:
    key = f"t:{uuid.uuid4().hex}"
    with redis.Redis.from_url(redis_server.url) as client:
        client.set(key, b"value")
        assert client.get(key) == b"value"


@pytest.mark.faults
def test_valkey_data_survives_a_restart_through_its_append_only_file(
    fresh_redis: EmbeddedServer,
) -> None:
    with redis.Redis.from_url(fresh_redis.url) as client:
        client.rpush("queue", b"a", b"b")
    fresh_redis.restart()
    with redis.Redis.from_url(fresh_redis.url) as client:
        assert client.lrange("queue", 0, -1) == [b"a", b"b"]
    assert (fresh_redis.data_dir / "appendonlydir").is_dir()


@pytest.mark.faults
def test_a_killed_server_is_down_until_started_again(fresh_redis: EmbeddedServer) -> None:
    fresh_redis.kill()
    assert not fresh_redis.running
    assert fresh_redis.pid is None
    fresh_redis.start()
    fresh_redis.wait_ready()
    with redis.Redis.from_url(fresh_redis.url) as client:
        assert client.ping()


def test_a_server_that_dies_at_start_raises_config_error_with_its_log(tmp_path: Path) -> None:
    config = tmp_path / "broken.conf"
    config.write_text("this is { not a nats config\n")
    server = embedded.nats_server(free_port(), tmp_path / "nats", config_file=config)
    with pytest.raises(ConfigError, match="nats-server exited") as caught, server:
        pass
    assert "Parse error" in str(caught.value)  # the tail of the log
    assert not server.running


def test_select_1_works_on_each_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_omsx_env_points_settings_at_the_running_servers(
    omsx_env: Settings, nats_server: EmbeddedServer, redis_server: EmbeddedServer, tmp_path: Path
) -> None:
    assert omsx_env.nats_url == nats_server.url
    assert omsx_env.redis_url == redis_server.url
    assert omsx_env.data_dir == tmp_path / "var"
    assert omsx_env.database_url == f"sqlite:///{tmp_path / 'var' / 'omsx.db'}"
    assert omsx_env.log_format == "json"
