"""Storage on SQLite and PostgreSQL: migrations, receipts, guards, claims, outbox."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import inspect
from sqlmodel import Session, func, select

from storage.db import dispose_engines, get_engine, one_transaction, session_scope
from storage.migrate import upgrade
from storage.models import (
    NameClaim,
    Outbox,
    Package,
    PackageEvent,
    Receipt,
    State,
    detached,
)
from storage.packages import (
    Arriving,
    add_outbox,
    claim_name,
    mark_published,
    pending_outbox,
    record_receipt,
    record_receipts,
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


def _arriving(sha: str, seq: int) -> Arriving:
    return Arriving(sha256=sha, stream_seq=seq, subject="oms.in.mo.640001.hosp",
                    file_name=f"I01_{seq}.zip", size=seq, sender_role="mo",
                    sender_code="640001", kind="hosp")  # fmt: skip


def test_a_pull_of_receipts_is_stored_in_order_as_one_message_at_a_time_would_be(
    db: str,
) -> None:
    with session_scope(db) as s:
        earlier = _receive(s, "1" * 64, 1).package
    pull = [
        _arriving("2" * 64, 2),  # new
        _arriving("2" * 64, 3),  # the same bytes again, in the same pull
        _arriving("1" * 64, 1),  # a message received before, delivered again
        _arriving("1" * 64, 4),  # bytes received before, in a new message
        _arriving("3" * 64, 5),  # new
        _arriving("3" * 64, 5),  # the same message twice in one pull
    ]
    with session_scope(db) as s:
        got = record_receipts(s, pull)
    flags = [(o.created, o.duplicate, o.redelivery) for o in got]
    assert flags == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
        (False, True, False),
        (True, False, False),
        (False, False, True),
    ]
    new, new2 = got[0].package, got[4].package
    assert [o.package.id for o in got] == [new.id, new.id, earlier.id, earlier.id, new2.id,
                                           new2.id]  # fmt: skip
    assert new.state == State.RECEIVED and new.file_name == "I01_2.zip" and new.size == 2
    assert _count(db, Package) == 3
    with Session(get_engine(db)) as s:
        receipts = s.exec(select(Receipt).order_by(Receipt.stream_seq)).all()
        stored = s.get(Package, new.id)
        events = s.exec(select(PackageEvent.package_id, PackageEvent.detail)).all()
    assert [(r.stream_seq, r.package_id, r.duplicate) for r in receipts] == [
        (1, earlier.id, False),
        (2, new.id, False),
        (3, new.id, True),
        (4, earlier.id, True),
        (5, new2.id, False),
    ]
    # what the caller holds is what was written (SQLite gives the times back naive)
    assert stored is not None
    naive = {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v
             for k, v in new.model_dump().items()}  # fmt: skip
    assert {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v
            for k, v in stored.model_dump().items()} == naive  # fmt: skip
    assert sorted(events) == sorted([(earlier.id, "seq=1"), (new.id, "seq=2"), (new2.id, "seq=5")])
    with session_scope(db) as s:  # the whole pull again: every message a redelivery
        again = record_receipts(s, pull)
    assert all(o.redelivery for o in again)
    assert [o.package.id for o in again] == [o.package.id for o in got]
    assert _count(db, Receipt) == 5


def test_a_detached_instance_reads_as_the_orm_loads_it_and_belongs_to_no_session(
    db: str,
) -> None:
    with session_scope(db) as s:
        pid = _receive(s, "4" * 64, 4).package.id
    table = Package.__table__  # type: ignore[attr-defined]
    with Session(get_engine(db)) as s:
        row = s.execute(table.select().where(table.c.id == pid)).one()
        loaded = s.get(Package, pid)
    built = detached(Package, row._mapping)
    assert loaded is not None and built.model_dump() == loaded.model_dump()
    assert built.id == pid and built.state == State.RECEIVED and built.kind == "registry"
    assert inspect(built).transient  # nothing to flush: not in a session, no identity
    built.state = State.VALIDATING  # changed in memory only
    with Session(get_engine(db)) as s:
        again = s.get(Package, pid)
        assert again is not None and again.state == State.RECEIVED


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


def test_a_receipt_whose_transaction_fails_leaves_no_package_behind(db: str) -> None:
    # record_receipt guards the package's insert with a savepoint; on SQLite a SAVEPOINT
    # before any write began a transaction of its own, and its RELEASE committed it
    with pytest.raises(RuntimeError), session_scope(db) as s:
        assert _receive(s, "9" * 64, 9).created
        raise RuntimeError("after the receipt, before the commit")
    assert _count(db, Package) == 0
    assert _count(db, Receipt) == 0


def test_one_transaction_commits_every_scope_inside_together_or_none(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omsx.settings import get_settings

    monkeypatch.setenv("OMSX_DATABASE_URL", db)
    get_settings.cache_clear()
    with one_transaction():
        with session_scope() as s:
            pid = _receive(s, "1" * 64, 1).package.id
        with session_scope() as s:
            transition(s, pid, source=[State.RECEIVED], target=State.VALIDATING, stage="t")
        assert _count(db, Package) == 0  # nothing is committed before the block ends
    with Session(get_engine(db)) as s:
        assert s.get(Package, pid).state == State.VALIDATING
    with pytest.raises(RuntimeError, match="the block fails"), one_transaction():
        with session_scope() as s:
            _receive(s, "2" * 64, 2)
        raise RuntimeError("the block fails")
    # a step that fails fails the block, even when its caller carries on
    with pytest.raises(RuntimeError, match="nothing was committed"), one_transaction():
        with session_scope() as s:
            _receive(s, "3" * 64, 3)
        with pytest.raises(KeyError), session_scope() as s:
            claim_name(s, s.get(Package, pid), "HM640001S64004_25111")
            raise KeyError("this step fails")
    assert _count(db, Package) == 1 and _count(db, NameClaim) == 0
    with pytest.raises(RuntimeError, match="does not nest"), one_transaction(), one_transaction():
        pass
    get_settings.cache_clear()


def test_bulk_insert_fills_defaults_keeps_types_and_skips_rows_already_there(db: str) -> None:
    from datetime import date

    from storage.bulk import insert_rows, update_rows
    from storage.care import CareSl, Person

    with session_scope(db) as s:
        package_id = _receive(s, "b" * 64, 1).package.id
    rows = [
        {
            "package_id": package_id,
            "pos": 1,
            "n": n,
            "sl_id": f"sl{n}",
            "date_1": date(2025, 11, n),
            "sum_m_kop": 10**12 + n,
        }
        for n in (1, 2)
    ]
    for _ in range(2):  # the second run meets its own rows
        with session_scope(db) as s:
            insert_rows(s, CareSl, rows)
            insert_rows(s, Person, [{"enp": "1" * 16, "digest": "d", "package_id": package_id}])
    with Session(get_engine(db)) as s:
        stored = s.exec(select(CareSl).order_by(CareSl.n)).all()
        person = s.exec(select(Person)).one()
    assert [(r.n, r.date_1, r.sum_m_kop, r.profil, r.ds1) for r in stored] == [
        (1, date(2025, 11, 1), 10**12 + 1, "", ""),
        (2, date(2025, 11, 2), 10**12 + 2, "", ""),
    ]
    assert person.updated_at is not None  # a callable default, called per row
    with session_scope(db) as s:
        update_rows(s, CareSl, [{"id": stored[0].id, "profil": "97"}], ["profil"])
    with Session(get_engine(db)) as s:
        assert s.exec(select(CareSl.profil).where(CareSl.n == 1)).one() == "97"
    with session_scope(db) as s, pytest.raises(KeyError, match="no column"):
        insert_rows(s, CareSl, [{"package_id": package_id, "nonsense": 1}])


def test_bulk_rows_of_one_batch_may_name_other_columns_than_the_first(db: str) -> None:
    """The statement is the first row's; a later row's values for the columns it takes
    are the row's own, and a column the row leaves out takes its default."""
    from storage.bulk import insert_rows
    from storage.care import CareSl

    with session_scope(db) as s:
        package_id = _receive(s, "e" * 64, 1).package.id
    base = {"package_id": package_id, "pos": 1, "sl_id": "sl"}
    with session_scope(db) as s:
        insert_rows(s, CareSl, [
            {**base, "n": 1, "ds1": "A00"},
            {**base, "n": 2, "ds1": "B00", "profil": "97"},  # profil: a default in the plan
            {**base, "n": 3},  # no ds1: its default
        ])  # fmt: skip
    with Session(get_engine(db)) as s:
        stored = s.exec(select(CareSl.n, CareSl.ds1, CareSl.profil).order_by(CareSl.n)).all()
    assert [tuple(r) for r in stored] == [(1, "A00", ""), (2, "B00", "97"), (3, "", "")]


def test_put_row_inserts_then_replaces_the_columns_it_names_and_keeps_the_rest(
    db: str,
) -> None:
    from storage.bulk import insert_row, put_row
    from storage.models import FlkOutcome

    with session_scope(db) as s:
        package_id = _receive(s, "c" * 64, 1).package.id
        other = _receive(s, "d" * 64, 2).package.id
    first = {"package_id": package_id, "protocol": b"<first/>", "refused": '{"3": "904"}'}
    with session_scope(db) as s:
        put_row(s, FlkOutcome, first, key=("package_id",))
    with Session(get_engine(db)) as s:
        stored = s.exec(select(FlkOutcome)).one()
    assert (stored.protocol, stored.refused, stored.format_version) == (
        b"<first/>",
        '{"3": "904"}',
        "",
    )
    created = stored.created_at
    with session_scope(db) as s:  # insert_row's RETURNING: the value, None when it is there
        assert insert_row(s, FlkOutcome, first, returning="package_id") is None
        assert insert_row(
            s, FlkOutcome, {**first, "package_id": other}, returning="package_id"
        ) == (other)
    with session_scope(db) as s:  # a re-driven run's outcome replaces it
        put_row(s, FlkOutcome, {**first, "protocol": b"<second/>", "refused": "{}"},
                key=("package_id",))  # fmt: skip
    with Session(get_engine(db)) as s:
        again = s.exec(select(FlkOutcome).order_by(FlkOutcome.package_id)).all()
    assert [(r.protocol, r.refused, r.created_at) for r in again] == [
        (b"<second/>", "{}", created),
        (b"<first/>", '{"3": "904"}', again[1].created_at),
    ]


def test_the_migrations_build_exactly_the_models_schema(db: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import storage.care
    import storage.daily
    import storage.deadletters
    import storage.events
    import storage.models
    import storage.users  # noqa: F401 - every table is declared on import

    with get_engine(db).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_validation_checks_dates_against_the_regions_today(
    omsx_env: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from omsx.settings import get_settings
    from storage.refs import participants
    from workers.validation import environment

    upgrade(get_settings().database_url)
    for name in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        monkeypatch.setenv("OMSX_TIMEZONE", name)
        get_settings.cache_clear()
        before = datetime.now(ZoneInfo(name)).date()
        today = environment(get_settings()).today
        assert today in (before, datetime.now(ZoneInfo(name)).date()), name
    participants.clear()
    dispose_engines()
    get_settings.cache_clear()
