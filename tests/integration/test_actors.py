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

from contracts.filenames import parse_name
from contracts.participants import load_participants_csv, seed_path
from messages.bridge import reset_bridge
from messages.streams import OUT_STREAM, provision
from omsx.errors import ContractError
from omsx.settings import Settings
from storage.blobs import BlobStore
from storage.care import CareCase, CareSl, CareUsl, Insurance, Invoice, Person, PersonVersion
from storage.db import dispose_engines, get_engine, session_scope
from storage.migrate import upgrade
from storage.models import Outbox, Package, PackageEvent
from storage.packages import record_receipt
from storage.refs import participants, upsert_participants
from tests.builders import erz_for, register

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
    """A received package, as ingest stores it (sender and kind from its name)."""
    try:
        parsed = parse_name(name)
        role, code, kind = parsed.sender.role, parsed.sender.code, parsed.kind
    except ContractError:
        role, code, kind = "mo", "640001", "registry"
    sha = hashlib.sha256(data).hexdigest()
    BlobStore(settings.blobs).put(sha, data)
    with session_scope() as s:
        out = record_receipt(
            s,
            sha256=sha,
            stream_seq=seq,
            subject=f"oms.in.{role}.{code}.{kind}",
            file_name=name,
            size=len(data),
            sender_role=role,
            sender_code=code,
            kind=kind,
        )
        return int(out.package.id)


def _through(settings: Settings, name: str, data: bytes, seq: int) -> int:
    from workers.apply import apply
    from workers.replies import publish_protocols
    from workers.validation import validate

    pid = _store(settings, name, data, seq)
    for actor in (validate, apply, publish_protocols):
        actor(pid)
    return pid


def _people(erz_zip: bytes) -> int:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(erz_zip)) as zf:
        return zf.read(zf.namelist()[0]).count(b"<PERS>")


def _registry(url: str) -> tuple:
    """Everything the appliers write, counted and summed."""
    with Session(get_engine(url)) as s:
        counts = tuple(
            s.exec(select(func.count()).select_from(model)).one()
            for model in (CareCase, CareSl, CareUsl, Person, PersonVersion, Insurance, Invoice)
        )
        money = s.exec(
            select(
                func.sum(Invoice.presented_kop),
                func.sum(Invoice.accepted_kop),
                func.sum(Invoice.refused_kop),
                func.sum(Invoice.payable_kop),
            )
        ).one()
        return counts, tuple(money)


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

    name, data = register("HM640001S64004_25111", n=30)
    erz_name, erz_data = erz_for((name, data))
    people = _people(erz_data)
    erz = _through(env, erz_name, erz_data, seq=1)
    assert _snapshot(env.database_url, erz)[:3] == ("applied", "A", people)
    pid = _store(env, name, data, seq=2)
    steps = [validate, apply, publish_protocols]
    for actor in steps:
        actor(pid)
        after_first = _snapshot(env.database_url, pid), _registry(env.database_url)
        actor(pid)
        again = _snapshot(env.database_url, pid), _registry(env.database_url)
        assert again == after_first, actor.actor_name
    state, result, n_acc, _, outbox = _snapshot(env.database_url, pid)
    assert (state, result, n_acc) == ("applied", "A", 30)
    sha = hashlib.sha256(data).hexdigest()
    assert outbox == [(f"protocol-{sha}", True), (f"registry-{sha}", True)]
    assert asyncio.run(_out_messages(env, f"protocol-{sha}")) == 1
    assert asyncio.run(_out_messages(env, f"registry-{sha}")) == 1
    (cases, sls, usls, persons, versions, insured, invoices), money = _registry(env.database_url)
    assert (cases, invoices, persons, insured) == (30, 1, people, people)
    assert sls >= cases and usls >= 0 and versions == people
    presented, accepted, refused, payable = money
    assert presented == accepted + refused and refused == 0 and payable == accepted


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
