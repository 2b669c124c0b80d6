"""Each pipeline actor run twice for a package: the second run changes nothing.

Real database (SQLite and PostgreSQL), real NATS; Dramatiq's StubBroker carries the
hand-overs, which the test runs by hand.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

import nats
import pytest
from sqlmodel import Session, func, select

from contracts.participants import load_participants_csv, seed_path
from messages.bridge import reset_bridge
from messages.streams import OUT_STREAM, provision
from omsx.settings import Settings
from storage.blobs import BlobStore
from storage.db import dispose_engines, get_engine, session_scope
from storage.migrate import upgrade
from storage.models import Outbox, Package, PackageEvent
from storage.packages import record_receipt
from storage.refs import participants, upsert_participants
from tests.builders import register

pytestmark = pytest.mark.integration


@pytest.fixture
def env(omsx_env: Settings, database_url: str) -> Iterator[Settings]:
    upgrade(omsx_env.database_url)
    with session_scope() as s:
        upsert_participants(s, load_participants_csv(seed_path("64")))
    participants.clear()
    asyncio.run(_provision(omsx_env))
    yield omsx_env
    reset_bridge()
    participants.clear()
    dispose_engines()


async def _provision(settings: Settings) -> None:
    nc = await nats.connect(settings.nats_url)
    try:
        await provision(nc.jetstream(), settings)
    finally:
        await nc.drain()


async def _out_messages(settings: Settings, msg_id_prefix: str) -> int:
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe("oms.out.>", stream=OUT_STREAM, ordered_consumer=True)
        n = 0
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except TimeoutError:
                return n
            n += (msg.headers or {}).get("Nats-Msg-Id", "").startswith(msg_id_prefix)
    finally:
        await nc.drain()


def _store(settings: Settings, name: str, data: bytes, seq: int) -> int:
    sha = hashlib.sha256(data).hexdigest()
    BlobStore(settings.blobs).put(sha, data)
    with session_scope() as s:
        out = record_receipt(
            s,
            sha256=sha,
            stream_seq=seq,
            subject="oms.in.mo.640001.registry",
            file_name=name,
            size=len(data),
            sender_role="mo",
            sender_code="640001",
            kind="registry",
        )
        return int(out.package.id)


def _snapshot(url: str, package_id: int) -> tuple:
    with Session(get_engine(url)) as s:
        pkg = s.get(Package, package_id)
        events = s.exec(
            select(func.count())
            .select_from(PackageEvent)
            .where(PackageEvent.package_id == package_id)
        ).one()
        outbox = s.exec(
            select(Outbox.msg_id, Outbox.published_at.is_not(None)).where(
                Outbox.package_id == package_id
            )
        ).all()
        return pkg.state, pkg.result, pkg.n_acc, events, sorted(outbox)


def test_each_actor_run_twice_changes_nothing_the_second_time(env: Settings) -> None:
    from workers.apply import apply
    from workers.replies import publish_protocols
    from workers.validation import validate

    name, data = register("HM640001S64004_25111", n=3)
    pid = _store(env, name, data, seq=1)
    steps = [validate, apply, publish_protocols]
    for actor in steps:
        actor(pid)
        after_first = _snapshot(env.database_url, pid)
        actor(pid)
        assert _snapshot(env.database_url, pid) == after_first, actor.actor_name
    state, result, n_acc, _, outbox = _snapshot(env.database_url, pid)
    assert (state, result, n_acc) == ("applied", "A", 3)
    assert [published for _, published in outbox] == [True]
    sha = hashlib.sha256(data).hexdigest()
    assert asyncio.run(_out_messages(env, f"protocol-{sha}")) == 1


def test_a_package_failing_the_package_checks_is_concluded_once_with_its_code(
    env: Settings,
) -> None:
    from workers.validation import validate

    pid = _store(env, "HM640001S64004_25112.zip", b"not a zip", seq=2)
    validate(pid)
    validate(pid)
    state, result, _, _, outbox = _snapshot(env.database_url, pid)
    assert (state, result, len(outbox)) == ("rejected", "R", 1)
    with Session(get_engine(env.database_url)) as s:
        body = s.exec(select(Outbox.body).where(Outbox.package_id == pid)).one()
    assert b"<OSHIB>801</OSHIB>" in body
