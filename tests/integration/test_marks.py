"""The marks of published answers: written a moment later, many in one transaction,
never lost on a failed write (workers.replies.Marks), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from nats.js.api import PubAck
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from omsx.errors import StorageUnavailable
from omsx.settings import Settings, get_settings
from storage.db import get_engine, session_scope
from storage.models import Outbox, PackageEvent, utcnow
from storage.packages import add_outbox, pending_outbox
from tests.integration.pipeline import pipeline_env, store  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def _queued(settings: Settings, count: int) -> list[Outbox]:
    """``count`` packages with a protocol each in the outbox, pending."""
    rows = []
    for n in range(1, count + 1):
        pid = store(settings, f"I01_{n}.zip", f"package {n}".encode(), seq=n)
        with session_scope() as s:
            add_outbox(s, package_id=pid, subject="oms.out.mo.640001.protocol",
                       msg_id=f"protocol-{n}", file_name=f"V{n}.xml", body=b"<x/>")  # fmt: skip
            rows.extend(pending_outbox(s, pid))
    return rows


def _state(url: str) -> tuple[list[tuple[str, bool]], list[tuple[int, str, str]]]:
    with Session(get_engine(url)) as s:
        marked = s.exec(select(Outbox.msg_id, Outbox.published_at.is_not(None))).all()
        lines = s.exec(
            select(PackageEvent.package_id, PackageEvent.outcome, PackageEvent.detail).where(
                PackageEvent.stage == "reply"
            )
        ).all()
    return sorted((m, bool(p)) for m, p in marked), sorted(lines)


def test_marks_wait_for_the_linger_then_many_are_written_in_one_transaction(
    pipeline_env: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers.replies import Marks

    monkeypatch.setenv("OMSX_PUBLISH_MARK_LINGER_MS", "300")
    get_settings.cache_clear()
    rows = _queued(pipeline_env, 3)
    at = utcnow() - timedelta(seconds=5)  # when NATS took them: the lines' time
    commits: list[int] = []
    event.listen(get_engine(), "commit", lambda _conn: commits.append(1))
    marks = Marks()
    started = time.monotonic()
    for i, row in enumerate(rows, start=1):
        marks.add([(row, PubAck(stream="OMS_OUT", seq=i, duplicate=i == 3), at)])
    assert marks.pending() == 3
    assert all(not done for _m, done in _state(pipeline_env.database_url)[0])  # not yet
    while marks.pending() and time.monotonic() - started < 10:
        time.sleep(0.02)
    waited = time.monotonic() - started
    assert marks.pending() == 0 and waited >= 0.3
    for _ in range(100):  # the thread's transaction commits just after it takes the queue
        if all(done for _m, done in _state(pipeline_env.database_url)[0]):
            break
        time.sleep(0.02)
    marked, lines = _state(pipeline_env.database_url)
    assert marked == [("protocol-1", True), ("protocol-2", True), ("protocol-3", True)]
    assert [(outcome, detail) for _p, outcome, detail in lines] == [
        ("published", "protocol seq=1"),
        ("published", "protocol seq=2"),
        ("duplicate-dropped", "protocol seq=3"),
    ]
    assert len(commits) == 1  # all three marks and their lines together
    with Session(get_engine()) as s:
        times = s.exec(select(PackageEvent.at).where(PackageEvent.stage == "reply")).all()
    assert {t.replace(tzinfo=None) for t in times} == {at.replace(tzinfo=None)}


def test_marks_wait_out_an_unavailable_database_in_order(
    pipeline_env: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from workers.replies import Marks

    monkeypatch.setenv("OMSX_PUBLISH_MARK_LINGER_MS", "10000")  # flushed by hand only
    get_settings.cache_clear()
    rows = _queued(pipeline_env, 3)
    marks = Marks()
    for i, row in enumerate(rows, start=1):
        marks.add([(row, PubAck(stream="OMS_OUT", seq=i), utcnow())])
    (tmp_path / "gone").mkdir()  # a database that cannot be opened: a directory
    monkeypatch.setenv("OMSX_DATABASE_URL", f"sqlite:///{tmp_path / 'gone'}")
    get_settings.cache_clear()
    with pytest.raises(StorageUnavailable):
        marks.flush()
    with marks._wake:
        assert [row.msg_id for row, _a, _t in marks._queue] == [r.msg_id for r in rows]
    monkeypatch.setenv("OMSX_DATABASE_URL", pipeline_env.database_url)
    get_settings.cache_clear()
    marks.flush()  # the next try writes them all
    assert marks.pending() == 0
    marked, lines = _state(pipeline_env.database_url)
    assert marked == [("protocol-1", True), ("protocol-2", True), ("protocol-3", True)]
    assert [detail for _p, _o, detail in lines] == [f"protocol seq={i}" for i in (1, 2, 3)]


def test_a_write_that_fails_otherwise_drops_the_marks_and_leaves_the_rows_pending(
    pipeline_env: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers.replies import Marks

    monkeypatch.setenv("OMSX_PUBLISH_MARK_LINGER_MS", "10000")
    get_settings.cache_clear()
    good = _queued(pipeline_env, 1)[0]
    orphan = Outbox(id=good.id, package_id=999_999, kind="protocol")  # no such package
    marks = Marks()
    marks.add([(good, PubAck(stream="OMS_OUT", seq=1), utcnow())])
    marks.add([(orphan, PubAck(stream="OMS_OUT", seq=1), utcnow())])
    with pytest.raises(IntegrityError):  # its timeline line names a package not there
        marks.flush()
    assert marks.pending() == 0  # not retried for ever
    with session_scope() as s:  # nothing of the batch was written: the sweeper's to send
        assert [r.msg_id for r in pending_outbox(s)] == ["protocol-1"]


def test_the_reply_stage_writes_this_processs_waiting_marks_before_it_reads(
    pipeline_env: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers.replies import MARKS, publish_protocols

    monkeypatch.setenv("OMSX_PUBLISH_MARK_LINGER_MS", "10000")
    get_settings.cache_clear()
    rows = _queued(pipeline_env, 1)
    MARKS.add([(rows[0], PubAck(stream="OMS_OUT", seq=7), utcnow())])
    publish_protocols(rows[0].package_id)  # finds nothing pending: not published twice
    marked, lines = _state(pipeline_env.database_url)
    assert marked == [("protocol-1", True)]
    assert [(outcome, detail) for _p, outcome, detail in lines] == [("published", "protocol seq=7")]


def test_the_exit_flush_waits_for_a_publish_under_way(
    pipeline_env: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second SIGTERM cuts the worker's stop short: a thread may be between its
    publishes when the exit's flush runs. The flush waits for its marks."""
    from workers import replies

    monkeypatch.setenv("OMSX_PUBLISH_MARK_LINGER_MS", "60000")
    get_settings.cache_clear()
    marks = replies.Marks()
    monkeypatch.setattr(replies, "MARKS", marks)
    rows = _queued(pipeline_env, 2)
    started = threading.Event()

    def publishing() -> None:
        with marks.publishing():
            started.set()
            marks.add([(rows[0], PubAck(stream="OMS_OUT", seq=1), utcnow())])
            time.sleep(0.5)  # the next row's publish, NATS slow to take it
            marks.add([(rows[1], PubAck(stream="OMS_OUT", seq=2), utcnow())])

    thread = threading.Thread(target=publishing)
    thread.start()
    started.wait(5)
    replies.flush_marks()
    thread.join()
    assert marks.pending() == 0
    marked, lines = _state(pipeline_env.database_url)
    assert marked == [("protocol-1", True), ("protocol-2", True)]
    assert len(lines) == 2


def test_the_exit_flush_waits_only_so_long(
    pipeline_env: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers import replies

    monkeypatch.setattr(replies, "MARKS", replies.Marks())
    monkeypatch.setattr(replies, "EXIT_SETTLE_S", 0.2)
    release = threading.Event()

    def stuck() -> None:
        with replies.MARKS.publishing():
            release.wait(10)

    thread = threading.Thread(target=stuck)
    thread.start()
    try:
        t0 = time.monotonic()
        replies.flush_marks()  # returns, the stuck publish logged as unsettled
        assert time.monotonic() - t0 < 5
        assert replies.MARKS.settle(0) == 1
    finally:
        release.set()
        thread.join()
    assert replies.MARKS.settle(0) == 0
