"""Storage on SQLite and PostgreSQL: migrations, receipts, guards, claims, outbox."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from storage.db import dispose_engines, get_engine, session_scope
from storage.migrate import upgrade
from storage.models import NameClaim, Outbox, Package, PackageEvent, Receipt, State
from storage.packages import (
    add_outbox,
    claim_name,
    mark_published,
    pending_outbox,
    record_receipt,
    transition,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def db(database_url: str):
    upgrade(database_url)
    yield database_url
    dispose_engines()


def _receive(session: Session, sha: str, seq: int):
    return record_receipt(
        session,
        sha256=sha,
        stream_seq=seq,
        subject="oms.in.mo.640001.registry",
        file_name="HM640001S64004_25111.zip",
        size=10,
        sender_role="mo",
        sender_code="640001",
        kind="registry",
    )


def _count(url: str, model) -> int:
    with Session(get_engine(url)) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_migrations_apply_twice_without_change(db: str) -> None:
    upgrade(db)
    assert _count(db, Package) == 0


def test_a_redelivered_message_creates_no_second_package_or_receipt(db: str) -> None:
    with session_scope(db) as s:
        first = _receive(s, "a" * 64, 1)
    with session_scope(db) as s:
        again = _receive(s, "a" * 64, 1)
    assert first.created and not first.duplicate
    assert again.redelivery and not again.created
    assert _count(db, Package) == 1
    assert _count(db, Receipt) == 1


def test_the_same_bytes_in_a_new_message_are_a_duplicate_receipt(db: str) -> None:
    with session_scope(db) as s:
        _receive(s, "b" * 64, 1)
    with session_scope(db) as s:
        dup = _receive(s, "b" * 64, 2)
    assert dup.duplicate and not dup.created
    assert _count(db, Package) == 1
    assert _count(db, Receipt) == 2


def test_a_transition_guard_lets_exactly_one_run_through(db: str) -> None:
    with session_scope(db) as s:
        pid = _receive(s, "c" * 64, 1).package.id
    with session_scope(db) as s:
        assert transition(s, pid, source=[State.RECEIVED], target=State.VALIDATING, stage="t")
    with session_scope(db) as s:
        assert not transition(s, pid, source=[State.RECEIVED], target=State.VALIDATING, stage="t")
    with Session(get_engine(db)) as s:
        stages = s.exec(select(PackageEvent.outcome).where(PackageEvent.package_id == pid)).all()
    assert stages == ["received", "validating"]


def test_a_file_name_is_claimed_once_per_sender(db: str) -> None:
    with session_scope(db) as s:
        p1 = _receive(s, "d" * 64, 1).package
        p2 = _receive(s, "e" * 64, 2).package
    with session_scope(db) as s:
        assert claim_name(s, p1, "HM640001S64004_25111") is None
    with session_scope(db) as s:
        assert claim_name(s, p2, "hm640001s64004_25111") == p1.id
    assert _count(db, NameClaim) == 1


def test_the_outbox_is_idempotent_by_message_id_and_tracks_publishing(db: str) -> None:
    with session_scope(db) as s:
        pid = _receive(s, "f" * 64, 1).package.id
    for _ in range(2):
        with session_scope(db) as s:
            add_outbox(
                s,
                package_id=pid,
                subject="oms.out.mo.640001.protocol",
                msg_id="protocol-" + "f" * 64,
                file_name="V.xml",
                body=b"<x/>",
            )
    assert _count(db, Outbox) == 1
    with session_scope(db) as s:
        rows = pending_outbox(s, pid)
        assert len(rows) == 1
        mark_published(s, rows[0].id)
    with session_scope(db) as s:
        assert pending_outbox(s, pid) == []
