"""Running the pipeline's actors by hand on a real database and NATS (StubBroker).

``pipeline_env`` migrates the database, loads the participants and provisions the
streams; ``store`` records a package as ingest would, ``through`` runs every stage.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import sys
import zipfile
from collections.abc import Iterator

import nats
import pytest
from sqlmodel import Session, func, select

from contracts.filenames import parse_name
from contracts.participants import load_participants_csv, seed_path
from messages.bridge import reset_bridge
from messages.streams import provision
from omsx.errors import ContractError
from omsx.settings import Settings
from storage.blobs import BlobStore
from storage.care import CareCase, CareSl, CareUsl, Insurance, Invoice, Person, PersonVersion
from storage.db import dispose_engines, get_engine, session_scope
from storage.migrate import upgrade
from storage.packages import record_receipt
from storage.refs import participants, upsert_participants


@pytest.fixture
def pipeline_env(omsx_env: Settings, database_url: str) -> Iterator[Settings]:
    upgrade(omsx_env.database_url)
    with session_scope() as s:
        upsert_participants(s, load_participants_csv(seed_path("64")))
    participants.clear()
    asyncio.run(_provision(omsx_env))
    yield omsx_env
    replies = sys.modules.get("workers.replies")
    if replies is not None:  # the test's answers are marked in its own database
        replies.MARKS.flush()
    reset_bridge()
    participants.clear()
    dispose_engines()


async def _provision(settings: Settings) -> None:
    nc = await nats.connect(settings.nats_url)
    try:
        await provision(nc.jetstream(), settings)
    finally:
        await nc.drain()


def store(settings: Settings, name: str, data: bytes, seq: int) -> int:
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


def through(settings: Settings, name: str, data: bytes, seq: int) -> int:
    from workers.apply import apply
    from workers.replies import publish_protocols
    from workers.validation import validate

    pid = store(settings, name, data, seq)
    for actor in (validate, apply, publish_protocols):
        actor(pid)
    return pid


def people_in(erz_zip: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(erz_zip)) as zf:
        return zf.read(zf.namelist()[0]).count(b"<PERS>")


def registry_totals(url: str) -> tuple:
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
