"""Each pipeline actor run twice for a package: the second run changes nothing.

Real database (SQLite and PostgreSQL), real NATS; Dramatiq's StubBroker carries the
hand-overs, which the test runs by hand.
"""

from __future__ import annotations

import asyncio
import hashlib

import nats
import pytest
from sqlmodel import Session, func, select

from messages.streams import OUT_STREAM
from omsx.settings import Settings
from storage.db import get_engine
from storage.models import Outbox, Package, PackageEvent
from tests.builders import erz_for, register
from tests.conftest import EmbeddedServer
from tests.integration.pipeline import people_in, registry_totals, store, through

pytestmark = pytest.mark.integration


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


def _snapshot(url: str, package_id: int) -> tuple:
    from workers.replies import MARKS

    MARKS.flush()  # what the actor published is marked a moment later: now
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


def _timeline(url: str, package_id: int) -> list[tuple[str, str, int]]:
    from workers.replies import MARKS

    MARKS.flush()
    with Session(get_engine(url)) as s:
        rows = s.exec(
            select(PackageEvent.stage, PackageEvent.outcome, PackageEvent.attempt)
            .where(PackageEvent.package_id == package_id)
            .order_by(PackageEvent.id)
        ).all()
        return [(stage, outcome, attempt) for stage, outcome, attempt in rows]


def test_each_actor_run_twice_changes_nothing_the_second_time(pipeline_env: Settings) -> None:
    env = pipeline_env
    from workers.apply import apply
    from workers.replies import publish_protocols
    from workers.validation import validate

    name, data = register("HM640001S64004_25111", n=30)
    erz_name, erz_data = erz_for((name, data))
    people = people_in(erz_data)
    erz = through(env, erz_name, erz_data, seq=1)
    assert _snapshot(env.database_url, erz)[:3] == ("applied", "A", people)
    pid = store(env, name, data, seq=2)
    steps = [validate, apply, publish_protocols]
    for actor in steps:
        actor(pid)
        after_first = _snapshot(env.database_url, pid), registry_totals(env.database_url)
        actor(pid)
        again = _snapshot(env.database_url, pid), registry_totals(env.database_url)
        assert again == after_first, actor.actor_name
    state, result, n_acc, _, outbox = _snapshot(env.database_url, pid)
    assert (state, result, n_acc) == ("applied", "A", 30)
    sha = hashlib.sha256(data).hexdigest()
    assert outbox == [(f"protocol-{sha}", True), (f"registry-{sha}", True)]
    assert asyncio.run(_out_messages(env, f"protocol-{sha}")) == 1
    assert asyncio.run(_out_messages(env, f"registry-{sha}")) == 1
    (cases, sls, usls, persons, versions, insured, invoices), money = registry_totals(
        env.database_url
    )
    assert (cases, invoices, persons, insured) == (30, 1, people, people)
    assert sls >= cases and usls >= 0 and versions == people
    presented, accepted, refused, payable = money
    assert presented == accepted + refused and refused == 0 and payable == accepted


def test_a_package_failing_the_package_checks_is_concluded_once_with_its_code(
    pipeline_env: Settings,
) -> None:
    env = pipeline_env
    from workers.validation import validate

    pid = store(env, "HM640001S64004_25112.zip", b"not a zip", seq=2)
    validate(pid)
    validate(pid)
    state, result, _, _, outbox = _snapshot(env.database_url, pid)
    assert (state, result, len(outbox)) == ("rejected", "R", 1)
    with Session(get_engine(env.database_url)) as s:
        body = s.exec(select(Outbox.body).where(Outbox.package_id == pid)).one()
    assert b"<OSHIB>801</OSHIB>" in body


def test_a_small_package_is_applied_and_answered_in_validates_delivery(
    pipeline_env: Settings, fresh_nats: EmbeddedServer
) -> None:
    env = pipeline_env
    from workers.broker import broker
    from workers.replies import publish_protocols
    from workers.validation import validate

    name, data = register("HM640001S64004_25111", n=3)
    erz_name, erz_data = erz_for((name, data))
    erz = store(env, erz_name, erz_data, seq=1)
    validate(erz)  # no apply stage, no reply stage: the protocol is on OMS_OUT already
    sha = hashlib.sha256(erz_data).hexdigest()
    assert asyncio.run(_out_messages(env, f"protocol-{sha}")) == 1
    assert broker.queues["apply"].qsize() == 0  # type: ignore[attr-defined] (a StubBroker)
    assert broker.queues["reply"].qsize() == 0  # type: ignore[attr-defined]
    stages = [f"{stage}:{outcome}" for stage, outcome, _ in _timeline(env.database_url, erz)]
    assert stages == ["ingest:received", "validate:started", "validate:checked",
                      "apply:started", "apply:applied:A", "reply:published"]  # fmt: skip

    pid = store(env, name, data, seq=2)
    fresh_nats.stop()
    validate(pid)  # concluded; the publish fails, and the reply queue takes it
    state, result, _, _, outbox = _snapshot(env.database_url, pid)
    assert (state, result) == ("applied", "A")
    assert all(not published for _, published in outbox)
    assert broker.queues["reply"].qsize() == 1  # type: ignore[attr-defined]
    broker.flush("reply")  # type: ignore[attr-defined]
    fresh_nats.start()  # the reply queue's delivery, once NATS is back
    fresh_nats.wait_ready()
    publish_protocols(pid)
    assert all(published for _, published in _snapshot(env.database_url, pid)[4])
    assert asyncio.run(_out_messages(env, f"protocol-{hashlib.sha256(data).hexdigest()}")) == 1


def test_a_package_above_the_inline_size_goes_through_the_apply_queue(
    pipeline_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = pipeline_env
    from omsx.settings import get_settings
    from workers.apply import apply
    from workers.broker import broker
    from workers.validation import validate

    monkeypatch.setenv("OMSX_APPLY_INLINE_MAX_BYTES", "0")
    get_settings.cache_clear()
    name, data = register("HM640001S64004_25111", n=3)
    erz_name, erz_data = erz_for((name, data))
    erz = store(env, erz_name, erz_data, seq=1)
    validate(erz)
    assert _snapshot(env.database_url, erz)[0] == "checked"
    assert broker.queues["apply"].qsize() == 1  # type: ignore[attr-defined]
    broker.flush("apply")  # type: ignore[attr-defined]
    apply(erz)
    assert _snapshot(env.database_url, erz)[:2] == ("applied", "A")


def test_validate_delivered_again_goes_on_with_the_inline_apply(
    pipeline_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker died after FLK, in the inline apply: the same validate message,
    delivered again, finds the package checked and applies it."""
    env = pipeline_env
    from omsx.settings import get_settings
    from workers.broker import broker
    from workers.validation import validate

    name, data = register("HM640001S64004_25111", n=3)
    erz_name, erz_data = erz_for((name, data))
    erz = store(env, erz_name, erz_data, seq=1)
    monkeypatch.setenv("OMSX_APPLY_INLINE_MAX_BYTES", "0")
    get_settings.cache_clear()
    validate(erz)  # stands for a delivery that stopped at checked
    broker.flush("apply")  # type: ignore[attr-defined]
    monkeypatch.delenv("OMSX_APPLY_INLINE_MAX_BYTES")
    get_settings.cache_clear()
    validate(erz)
    assert _snapshot(env.database_url, erz)[:2] == ("applied", "A")
    assert [e[:2] for e in _timeline(env.database_url, erz)].count(("apply", "applied:A")) == 1
    assert broker.queues["apply"].qsize() == 0  # type: ignore[attr-defined]


def test_a_repeat_stored_while_its_package_waits_is_answered_by_the_reply_queue_too(
    pipeline_env: Settings,
) -> None:
    # the repeat's transaction may read the package as waiting and commit after the
    # package's own answer was published: its 805 must not wait for that answer
    from messages.ingest import Arrival, Ingest
    from storage.blobs import BlobStore

    env = pipeline_env
    name, data = register("HM640001S64004_25111", n=2)
    sha = hashlib.sha256(data).hexdigest()
    BlobStore(env.blobs).put(sha, data)
    subject = "oms.in.mo.640001.registry"

    async def stored() -> list[tuple[str, ...]]:
        nc = await nats.connect(env.nats_url)
        try:
            ingest = Ingest(env, nc)
            return [ingest.store(Arrival(subject, seq, name, sha, len(data)))[1] for seq in (1, 2)]
        finally:
            await nc.drain()

    assert asyncio.run(stored()) == [("validate",), ("validate", "reply")]


def test_the_sweeper_has_a_stage_for_every_working_state() -> None:
    # a working state without one would leave its stale packages where they are
    from storage.models import WORKING_STATES
    from workers.sweeper import REDRIVE

    assert set(REDRIVE) == set(WORKING_STATES)
