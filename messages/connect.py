"""Connecting to NATS with the hub's settings, translating failures at the edge."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import NoServersError

from omsx.errors import TransportUnavailable
from omsx.logs import get_logger
from omsx.settings import Settings

log = get_logger("messages.connect")


async def connect(settings: Settings, *, name: str, wait_s: float = 30.0, **options: Any) -> Client:
    """Connect, retrying the first connection for up to ``wait_s`` (servers may start later)."""
    servers = [s.strip() for s in settings.nats_url.split(",") if s.strip()]
    auth: dict[str, Any] = {}
    if settings.nats_user:
        auth = {"user": settings.nats_user, "password": settings.nats_password or ""}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            return await nats.connect(
                servers=servers,
                name=name,
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                **auth,
                **options,
            )
        except (NoServersError, OSError, TimeoutError) as exc:
            if loop.time() >= deadline:
                raise TransportUnavailable(f"NATS unreachable at {settings.nats_url}") from exc
            log.info("nats.waiting", url=settings.nats_url)
            await asyncio.sleep(0.5)
