"""Dead letters and quarantine on a real Redis broker and database (issue "faults"):
a dead letter is recorded in SQL with its reason class and outlives Redis's copy; a
replay runs once however often it is asked for; a purged letter never runs; a letter
only Redis holds is mirrored; a package whose deliveries keep dying is quarantined;
``omsx dlq`` does what the admin's buttons do."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import redis
from click.testing import CliRunner
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import SkipMessage
from sqlalchemy import update
from sqlmodel import Session, col, select

from omsx.errors import ContractError, OmsxError, StorageUnavailable
from omsx.settings import Settings, get_settings
from storage.db import get_engine, session_scope
from storage.deadletters import DeadLetterRecord
from storage.models import Package, State, utcnow
from storage.users import AuditEntry
from workers.deadletters import DeadFilter, act, classify, dead_letters, listing, mirror_redis
from workers.heartbeat import alive_window

pytestmark = pytest.mark.integration

Dead = tuple[redis.Redis, RedisBroker, list[int]]

if TYPE_CHECKING:
    from workers.middleware import CrashGuard


def _wait_for(seen: list[int], value: int) -> None:
    deadline = time.monotonic() + 20
    while value not in seen:
        assert time.monotonic() < deadline, "the replayed message did not run"
        time.sleep(0.05)


def _rows(settings: Settings) -> list[DeadLetterRecord]:
    with Session(get_engine(settings.database_url)) as s:
        return list(s.exec(select(DeadLetterRecord).order_by(DeadLetterRecord.id)).all())


def test_reason_classes() -> None:
    assert classify(ActorNotFound("gone")) == "unknown_actor"
    assert classify(ContractError("bad")) == "schema"
    assert classify(StorageUnavailable("db down")) == "transient"
    assert classify(redis.ConnectionError("down")) == "transient"
    assert classify(OmsxError("no such thing")) == "business"
    assert classify(KeyError("x")) == "unexpected"
    assert classify(None) == "age_limit"


def test_a_dead_letter_is_in_sql_and_replayed_once_however_often_asked(
    dead: Dead, omsx_env: Settings
) -> None:
    client, broker, seen = dead
    [row] = _rows(omsx_env)
    assert (row.queue, row.actor, row.package_id, row.reason, row.error_class, row.state) == (
        "apply", "apply", 7, "unexpected", "Flaky", "dead")  # fmt: skip
    assert "the first run fails" in row.error and row.message
    [letter] = listing(DeadFilter(), client)
    assert listing(DeadFilter(error_class="OtherError"), client) == []
    assert listing(DeadFilter(package_id=7, reason="unexpected"), client) == [letter]
    dry = act("replay", DeadFilter(), who="oleg", confirm=False, client=client, broker=broker)
    assert (dry.dry_run, dry.matched, dry.done) == (True, 1, 0)
    first = act("replay", DeadFilter(), who="oleg", confirm=True, client=client, broker=broker)
    again = act("replay", DeadFilter(key=letter.key), who="oleg", confirm=True, client=client,
                broker=broker)  # fmt: skip
    assert (first.done, again.matched, again.done) == (1, 0, 0)
    _wait_for(seen, 7)
    time.sleep(0.3)
    assert seen == [-7, 7]  # ran once more, not twice
    assert not client.zcard("dramatiq:apply.XQ")
    [row] = _rows(omsx_env)
    assert (row.state, row.acted_by) == ("replayed", "oleg")
    print(f"replayed: first done={first.done}, second matched={again.matched}")


def test_a_purged_letter_never_runs_and_the_row_says_so(dead: Dead, omsx_env: Settings) -> None:
    client, broker, seen = dead
    done = act("purge", DeadFilter(), who="anna", confirm=True, client=client, broker=broker)
    assert done.done == 1 and listing(DeadFilter(), client) == []
    assert not client.hlen("dramatiq:apply.XQ.msgs") and not client.hlen(
        "dramatiq:apply.XQ.reasons"
    )
    time.sleep(0.5)
    assert seen == [-7] and [r.state for r in _rows(omsx_env)] == ["purged"]
    with Session(get_engine(omsx_env.database_url)) as s:
        audits = [(a.username, a.action, a.count) for a in s.exec(select(AuditEntry)).all()]
    assert audits == [("anna", "purge", 1)]


def test_a_letter_outlives_redis_and_replays_from_sql(dead: Dead, omsx_env: Settings) -> None:
    client, broker, seen = dead
    client.delete("dramatiq:apply.XQ", "dramatiq:apply.XQ.msgs")  # Redis expired it (7 days)
    [letter] = listing(DeadFilter(), client)
    assert letter.package_id == 7
    done = act("replay", DeadFilter(), who="oleg", confirm=True, client=client, broker=broker)
    assert done.done == 1
    _wait_for(seen, 7)


def test_a_letter_only_redis_holds_is_mirrored_and_an_undecodable_one_only_purged(
    dead: Dead, omsx_env: Settings
) -> None:
    client, broker, _seen = dead
    [key] = [k.decode() for k in client.zrange("dramatiq:apply.XQ", 0, -1)]
    with session_scope() as s:  # as if the worker's SQL write had failed
        for row in s.exec(select(DeadLetterRecord)).all():
            s.delete(row)
    with session_scope() as s:
        assert mirror_redis(s, client) == 1
    with session_scope() as s:
        assert mirror_redis(s, client) == 0  # once
        [mirrored] = dead_letters(s)
    assert (mirrored.key, mirrored.actor, mirrored.error_class) == (key, "apply", "Flaky")
    with session_scope() as s:
        for row in s.exec(select(DeadLetterRecord)).all():
            s.delete(row)
    client.hset("dramatiq:apply.XQ.msgs", key, b"\x00not a message")  # and its bytes broken
    [broken] = listing(DeadFilter(), client)
    assert (broken.error_class, broken.actor) == ("undecodable", "?")
    tried = act("replay", DeadFilter(), who="oleg", confirm=True, client=client, broker=broker)
    assert tried.done == 0 and "cannot be decoded" in tried.skipped[0]
    assert [r.state for r in _rows(omsx_env)] == ["dead"]  # the failed replay changed nothing
    purged = act("purge", DeadFilter(), who="anna", confirm=True, client=client, broker=broker)
    assert purged.done == 1 and listing(DeadFilter(), client) == []


def _package(state: State) -> int:
    with session_scope() as s:
        p = Package(sha256=f"{state.value:0<64}"[:64], subject="oms.in.mo.640001.registry",
                    file_name="HM640001S64004_25111.zip", sender_role="mo",
                    sender_code="640001", kind="registry", state=state)  # fmt: skip
        s.add(p)
        s.flush()
        assert p.id is not None
        return p.id


def _message(actor: str, package_id: int, redis_id: str, same_as: str = "") -> MessageProxy:
    message = Message(queue_name=actor, actor_name=actor, args=(package_id,), kwargs={},
                      options={"redis_message_id": redis_id})  # fmt: skip
    return MessageProxy(message.copy(message_id=same_as) if same_as else message)


def test_a_package_that_keeps_killing_workers_is_quarantined_then_replayed(
    dead: Dead, omsx_env: Settings
) -> None:
    from workers.broker import broker as hub_broker
    from workers.middleware import CrashGuard
    from workers.sweeper import stale_packages

    client, _broker, _seen = dead
    pid = _package(State.VALIDATING)
    for delivery in range(omsx_env.quarantine_after):  # each one killed mid-task
        guard = CrashGuard()  # a worker process
        guard.before_process_message(hub_broker, _message("validate", pid, f"r{delivery}"))
        # while it beats, another delivery of the package is skipped, not counted
        with pytest.raises(SkipMessage, match="another delivery"):
            CrashGuard().before_process_message(hub_broker, _message("validate", pid, "dup"))
        assert _attempts(pid) == (delivery + 1, True)
        _killed(guard, pid)
    with pytest.raises(SkipMessage, match="quarantined"):  # the next delivery is not processed
        CrashGuard().before_process_message(hub_broker, _message("validate", pid, "r-last"))
    with session_scope() as s:
        package = s.get(Package, pid)
        assert package is not None
        assert (package.state, package.error_class) == ("quarantined", "crash")
    assert stale_packages(0) == []  # the sweeper leaves it alone
    [letter] = [d for d in listing(DeadFilter(reason="crash"), client)]
    assert (letter.package_id, letter.actor, letter.key) == (pid, "validate", "r-last")
    done = act("replay", DeadFilter(reason="crash"), who="oleg", confirm=True, client=client,
               broker=hub_broker)  # fmt: skip
    assert done.done == 1
    with session_scope() as s:
        package = s.get(Package, pid)
        assert package is not None
        assert (package.state, package.attempts, package.error_class) == ("received", 0, None)
    assert hub_broker.queues["validate"].qsize() == 1  # type: ignore[attr-defined] (a StubBroker)
    hub_broker.flush("validate")  # type: ignore[attr-defined]
    # a delivery that finishes (failed or not) clears the count
    guard, ok = CrashGuard(), _message("validate", pid, "r-ok")
    guard.before_process_message(hub_broker, ok)
    assert guard.beater.held() == [pid]
    guard.after_process_message(hub_broker, ok, exception=RuntimeError("x"))
    assert _attempts(pid) == (0, False) and guard.beater.held() == []


def _attempts(package_id: int) -> tuple[int, bool]:
    with session_scope() as s:
        package = s.get(Package, package_id)
        assert package is not None
        return package.attempts, package.beat_at is not None


def _killed(guard: CrashGuard, package_id: int) -> None:
    """The worker process holding the delivery is killed: it beats no more, and its
    last beat ages past the window in which a delivery counts as alive."""
    guard.beater.release(package_id)
    old = utcnow() - alive_window(get_settings().stage_deadline_s) - timedelta(seconds=1)
    with session_scope() as s:
        s.execute(update(Package).where(col(Package.id) == package_id).values(beat_at=old))


def test_a_dead_package_message_leaves_the_package_failed_until_replayed(
    dead: Dead, omsx_env: Settings
) -> None:
    from workers.broker import broker as hub_broker
    from workers.middleware import DeadLetterReason
    from workers.sweeper import stale_packages

    client, _broker, _seen = dead
    pid = _package(State.APPLYING)
    proxy = _message("apply", pid, "r-dead")
    proxy.stuff_exception(StorageUnavailable("database down"))
    proxy.fail()
    DeadLetterReason().after_nack(hub_broker, proxy)
    with session_scope() as s:
        package = s.get(Package, pid)
        assert package is not None and package.state == "failed"
    assert pid not in [p for p, _ in stale_packages(0)]
    [letter] = listing(DeadFilter(package_id=pid), client)
    assert (letter.reason, letter.error_class) == ("transient", "StorageUnavailable")
    act("replay", DeadFilter(package_id=pid), who="oleg", confirm=True, client=client,
        broker=hub_broker)  # fmt: skip
    with session_scope() as s:
        package = s.get(Package, pid)
        assert package is not None and package.state == "checked"  # apply starts again
    hub_broker.flush("apply")  # type: ignore[attr-defined]


def test_omsx_dlq_lists_replays_and_purges_as_the_admin_does(
    dead: Dead, omsx_env: Settings
) -> None:
    from admin.cli import main

    listed = CliRunner().invoke(main, ["dlq", "list", "--reason", "unexpected"])
    assert listed.exit_code == 0 and "Flaky" in listed.output and "apply" in listed.output
    dry = CliRunner().invoke(main, ["dlq", "replay", "--package", "7", "--dry-run"])
    assert dry.exit_code == 0 and "1 letter(s) match" in dry.output
    bad = CliRunner().invoke(main, ["dlq", "list", "--reason", "nonsense"])
    assert bad.exit_code == 2
    done = CliRunner().invoke(main, ["dlq", "replay", "--package", "7"])
    assert done.exit_code == 0 and "replay: 1 of 1" in done.output
    again = CliRunner().invoke(main, ["dlq", "replay", "--package", "7"])
    assert "replay: 0 of 0" in again.output
    with Session(get_engine(omsx_env.database_url)) as s:
        audits = [(a.username, a.action, a.count) for a in s.exec(select(AuditEntry)).all()]
    assert audits == [("cli", "replay", 1), ("cli", "replay", 0)]
    assert CliRunner().invoke(main, ["dlq", "purge", "--yes"]).exit_code == 0


def test_a_beat_keeps_working_packages_fresh_and_leaves_finished_ones(dead: Dead) -> None:
    from workers.heartbeat import beat

    working, done = _package(State.APPLYING), _package(State.APPLIED)
    old = utcnow() - timedelta(hours=1)
    with session_scope() as s:
        s.execute(update(Package).values(updated_at=old))
    beat([working, done])
    with session_scope() as s:
        fresh = s.exec(select(Package.id).where(col(Package.updated_at) > old)).all()
        beaten = s.exec(select(Package.id).where(col(Package.beat_at).isnot(None))).all()
    assert (sorted(fresh), sorted(beaten)) == ([working], sorted([working, done]))


def test_the_next_stage_enqueued_before_a_delivery_returns_is_not_taken_for_a_duplicate(
    dead: Dead,
) -> None:
    from storage.packages import transition
    from workers.broker import broker as hub_broker
    from workers.middleware import CrashGuard

    pid = _package(State.VALIDATING)
    guard = CrashGuard()
    validating = _message("validate", pid, "r-v")
    guard.before_process_message(hub_broker, validating)
    with session_scope() as s:  # validate concludes and enqueues apply, then returns
        assert transition(s, pid, source=(State.VALIDATING,), target=State.CHECKED,
                          stage="validate")  # fmt: skip
    applying = _message("apply", pid, "r-a")
    guard.before_process_message(hub_broker, applying)  # counted: not skipped
    guard.after_process_message(hub_broker, validating)
    assert _attempts(pid) == (1, True)  # the validate delivery released nothing of apply's
    with pytest.raises(SkipMessage, match="another delivery"):
        guard.before_process_message(hub_broker, _message("apply", pid, "r-dup"))
    # the same message again (a retry whose release the database refused) is no duplicate
    retry = _message("apply", pid, "r-a", same_as=applying.message_id)
    retried = CrashGuard()  # another worker process
    retried.before_process_message(hub_broker, retry)
    assert _attempts(pid) == (2, True)
    guard.after_process_message(hub_broker, applying)
    assert _attempts(pid) == (0, False)
    retried.beater.release(pid)  # its beat thread outlives the test: stop it beating


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
def test_a_beat_that_fails_for_a_reason_other_than_an_outage_keeps_the_thread_beating(
    database_url: str, omsx_env: Settings
) -> None:
    """The beat thread outlives an error that is not an outage (here: no tables yet,
    which PostgreSQL reports as a programming error), and beats once it is gone."""
    from structlog.testing import capture_logs

    from storage.migrate import upgrade
    from workers.heartbeat import Beater

    beater = Beater(0.3)  # a beat every 0.1 s
    with capture_logs() as logs:
        beater.hold(1)
        try:
            deadline = time.monotonic() + 10
            while not any(e["event"] == "heartbeat.failed" for e in logs):
                assert time.monotonic() < deadline, "no failed beat was logged"
                time.sleep(0.05)
            upgrade(omsx_env.database_url)
            pid = _package(State.APPLYING)
            assert pid == 1
            while _attempts(pid) != (0, True):
                assert time.monotonic() < deadline, "the thread stopped beating"
                time.sleep(0.05)
        finally:
            beater.release(1)
    failed = [e for e in logs if e["event"] == "heartbeat.failed"]
    assert failed[0]["error"] == "ProgrammingError" and failed[0]["log_level"] == "error"
