"""The admin in a real headless Chromium: the system ``chromium`` driven by Playwright.

Without Chromium or Playwright the browser tests skip, except on CI (``CI=true``) where
they fail: ``.ci/run`` installs Debian's ``chromium``; Playwright comes with the dev
extra (its wheel carries the driver; no browser is downloaded, the system one is used).

``admin_hub`` is the hub of ``make run`` as processes on free ports — nats-server,
Valkey, SQLite, ``omsx ingest``, ``omsx worker``, ``omsx admin`` — with an operator
login and one dead letter waiting in the ``maintenance`` queue.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from omsx import embedded
from omsx.embedded import free_port
from tests.e2e.conftest import OMSX, Hub

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
USER, PASSWORD = "olga", "browser test password"
DEAD_QUEUE, DEAD_ACTOR, DEAD_DAY = "maintenance", "consolidate_day", "2025-01-15"
DEAD_REASON = "tests.browser.InjectedFault: dead-lettered on purpose by the browser test"


def _missing(what: str, fix: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser test cannot run on CI (CI=true): {what}; {fix}", pytrace=False)
    pytest.skip(f"{what}; {fix}")


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The system Chromium; the test skips without it (or Playwright), fails on CI."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Playwright for Python is not installed", "pip install -e '.[dev]'")
    found = shutil.which("chromium")
    if found is None:
        _missing("no `chromium` on PATH", "apt-get install chromium (.ci/run does)")
    return found


@dataclass(frozen=True)
class AdminHub:
    hub: Hub
    url: str  # the admin's base URL
    dead_message_id: str  # the Redis id of the dead letter in DEAD_QUEUE


def _put_dead_letter(redis_url: str) -> str:
    """Dead-letter a ``consolidate_day`` message as a failing worker does: enqueue it,
    fetch it as a consumer, nack it (Dramatiq's script moves it to ``….XQ``), and keep
    the reason as the hub's middleware does. Called while no worker runs, so nothing
    else fetches it; replayed, it consolidates DEAD_DAY (a past day: harmless)."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    from workers.middleware import DeadLetterReason

    broker = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    try:
        broker.declare_queue(DEAD_QUEUE)
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=DEAD_QUEUE, actor_name=DEAD_ACTOR, args=(DEAD_DAY,), kwargs={}, options={}
        )
        broker.enqueue(message)
        consumer = broker.consume(DEAD_QUEUE, prefetch=1, timeout=100)
        deadline = time.monotonic() + 10
        fetched = None
        while fetched is None:
            assert time.monotonic() < deadline, "the message to dead-letter was not fetched"
            fetched = next(consumer)
        fetched.options["traceback"] = f"Traceback (most recent call last):\n{DEAD_REASON}\n"
        consumer.nack(fetched)
        DeadLetterReason().after_nack(broker, fetched)
        consumer.close()
        redis_id = str(fetched.options["redis_message_id"])
        assert broker.client.zscore(f"dramatiq:{DEAD_QUEUE}.XQ", redis_id) is not None
        return redis_id
    finally:
        broker.close()


def _wait_http(url: str, hub: Hub, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            proc = hub.procs.get("admin")
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"omsx admin exited:\n{hub.log('admin')}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer:\n{hub.log('admin')}") from None
        time.sleep(0.2)


@pytest.fixture
def admin_hub(chromium_executable: str, tmp_path: Path) -> Iterator[AdminHub]:
    """``make run`` on free ports, an operator login and one dead letter; stopped after."""
    with contextlib.ExitStack() as stack:
        nats = embedded.nats_server(free_port(), tmp_path / "nats")
        redis = embedded.valkey_server(free_port(), tmp_path / "valkey")
        for server in (nats, redis):
            server.start()
            stack.callback(server.stop)
        for server in (nats, redis):
            server.wait_ready()
        port = free_port()
        hub = Hub(tmp_path, nats, redis, admin_host="127.0.0.1", admin_port=str(port))
        stack.callback(hub.stop_all)
        for args in (("db", "upgrade"), ("refs", "load", "--seed")):
            done = hub.omsx(*args)
            assert done.returncode == 0, done.stderr
        added = subprocess.run(
            [OMSX, "users", "add", USER, "--role", "operator", "--password-stdin"],
            input=PASSWORD + "\n",
            env=hub.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert added.returncode == 0, added.stdout + added.stderr
        dead_id = _put_dead_letter(redis.url)  # before any worker consumes the queue
        hub.start_ingest()
        hub.start("worker", "worker")
        hub.start("admin", "admin")
        hub.wait_log("worker", "Worker process is ready for action")
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/health", hub)
        yield AdminHub(hub, url, dead_id)


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture
def browser_context(
    request: pytest.FixtureRequest, chromium_executable: str, admin_hub: AdminHub
) -> Iterator[BrowserContext]:
    """A fresh headless Chromium context on the admin; a failed test leaves a screenshot
    of every open page in ``tests/artifacts/failed-*.png``."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_executable, headless=True)
        context = browser.new_context(
            base_url=admin_hub.url, viewport={"width": 1280, "height": 900}, locale="ru-RU"
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            if request.node.stash.get(FAILED, False):
                for n, page in enumerate(context.pages):
                    with contextlib.suppress(Exception):
                        page.screenshot(path=ARTIFACTS / f"failed-{n}.png", full_page=True)
            context.close()
            browser.close()
