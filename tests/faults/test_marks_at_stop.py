"""The marks of published answers wait a moment to be written with others
(``OMSX_PUBLISH_MARK_LINGER_MS``); a worker stopped (SIGTERM, as a deploy does) writes
those still waiting before its processes end, so nothing is published twice after it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.builders import register
from tests.faults.conftest import own_hub

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(180)]

PENDING = "SELECT count(*) FROM outbox WHERE kind = 'protocol' AND published_at IS NULL"


async def test_a_stopped_worker_writes_the_marks_still_waiting(tmp_path: Path) -> None:
    name, data = register("HM640001S64004_25111", n=3)
    with own_hub(tmp_path, publish_mark_linger_ms="60000") as hub:  # a minute
        await hub.insure((name, data))  # its erz answered too: its mark waits as well
        gw = await hub.gateway("mo.640001")
        sent = await gw.publish(data, name)
        answer = await gw.wait_protocol(sent, timeout=60)
        await gw.close()
        assert answer.protocol.result == "A"
        assert hub.sql(PENDING) == [(2,)]  # on OMS_OUT, the marks not yet written
        hub.kill("worker", signal.SIGTERM)
        assert hub.sql(PENDING) == [(0,)]
        published = hub.sql(
            "SELECT count(*) FROM packageevent WHERE stage = 'reply' AND outcome = 'published'"
            " AND detail LIKE 'protocol %'"
        )
        assert published == [(2,)]
        assert "outbox.marks_lost_at_exit" not in hub.log("worker")
