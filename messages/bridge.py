"""A synchronous face on nats-py for Dramatiq's threaded actors.

One asyncio loop runs in a daemon thread per process, holding one NATS connection;
actors submit coroutines to it and wait for the result with a timeout. The bridge is
rebuilt after a fork (the pid is checked).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import PubAck

from messages.connect import connect
from messages.objects import Placed, put_object
from omsx.errors import TransportUnavailable
from omsx.logs import get_logger
from omsx.settings import Settings, get_settings

T = TypeVar("T")
log = get_logger("messages.bridge")


class NatsBridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="nats-bridge", daemon=True
        )
        self._thread.start()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except FutureTimeout as exc:
            future.cancel()
            raise TransportUnavailable("NATS did not answer in time") from exc

    def jetstream(self) -> JetStreamContext:
        with self._lock:
            if self._js is None or self._nc is None or self._nc.is_closed:
                self._nc = self.run(connect(self.settings, name=f"omsx-worker-{self.pid}"))
                self._js = self._nc.jetstream(timeout=10)
            return self._js

    def publish(self, subject: str, body: bytes, headers: dict[str, str]) -> PubAck:
        """Publish to JetStream and wait for the stream's acknowledgement."""
        js = self.jetstream()
        try:
            return self.run(js.publish(subject, body, headers=headers, timeout=10))
        except (NatsError, OSError, TimeoutError) as exc:
            raise TransportUnavailable(
                f"publish to {subject} failed: {type(exc).__name__}"
            ) from exc

    def put_object(
        self, name: str, path: Path, *, namespace: str, timeout: float = 300.0
    ) -> Placed:
        """Put a file into the ``OMS_PACKAGES`` object store as ``name``, its chunks under
        ``namespace`` (the recipient's, which is all it may read), without ``Nats-Rollup``
        (the bucket refuses it): :func:`messages.objects.put_object`."""
        js = self.jetstream()

        async def put() -> Placed:
            with path.open("rb") as fh:
                return await put_object(js, name, fh, namespace=namespace)

        try:
            return self.run(put(), timeout=timeout)
        except (NatsError, OSError, TimeoutError) as exc:
            raise TransportUnavailable(f"object store put failed: {type(exc).__name__}") from exc

    def max_payload(self) -> int:
        self.jetstream()
        assert self._nc is not None
        return int(self._nc.max_payload)

    def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            # drain what is in flight; while NATS is away there is nothing to drain
            # (and nats-py refuses to: ConnectionReconnectingError)
            ending = self._nc.drain() if self._nc.is_connected else self._nc.close()
            try:
                self.run(ending, timeout=10)
            except (NatsError, OSError, TransportUnavailable) as exc:  # closing anyway
                log.warning("nats.close_failed", error=type(exc).__name__)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


_bridge: NatsBridge | None = None
_bridge_lock = threading.Lock()


def get_bridge() -> NatsBridge:
    """The process's bridge (created on first use, recreated after a fork)."""
    global _bridge  # noqa: PLW0603 - one connection per process by design
    with _bridge_lock:
        if _bridge is None or _bridge.pid != os.getpid():
            _bridge = NatsBridge(get_settings())
        return _bridge


def reset_bridge() -> None:
    """Close the process's bridge (tests switching servers; shutdown hooks)."""
    global _bridge  # noqa: PLW0603 - see get_bridge
    with _bridge_lock:
        if _bridge is not None and _bridge.pid == os.getpid():
            _bridge.close()
        _bridge = None
