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


async def on_error(exc: Exception) -> None:
    """One log line per connection problem, instead of nats-py's printed traceback."""
    log.warning("nats.error", error=type(exc).__name__, detail=str(exc)[:200])


async def on_disconnected() -> None:
    # also fires on a deliberate close; an outage shows as errors and reconnects
    log.info("nats.disconnected")


async def on_reconnected() -> None:
    log.info("nats.reconnected")


CALLBACKS: dict[str, Any] = {
    "error_cb": on_error,
    "disconnected_cb": on_disconnected,
    "reconnected_cb": on_reconnected,
}


async def open_connection(
    servers: list[str], *, name: str, wait_s: float = 30.0, **options: Any
) -> Client:
    """Connect, retrying until ``wait_s`` (servers may start after us); reconnect forever after.

    nats-py keeps retrying a first connection as long as reconnects are allowed, so the
    bound is applied here, and its failure becomes :class:`TransportUnavailable`.
    """
    try:
        return await asyncio.wait_for(
            nats.connect(
                servers=servers,
                name=name,
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                **CALLBACKS,
                **options,
            ),
            timeout=wait_s,
        )
    except (NoServersError, OSError, TimeoutError) as exc:
        where = ", ".join(servers)
        raise TransportUnavailable(f"NATS unreachable at {where} for {wait_s:.0f} s") from exc


async def connect(settings: Settings, *, name: str, wait_s: float = 60.0, **options: Any) -> Client:
    """The hub's own connection, with its credentials from the settings."""
    servers = [s.strip() for s in settings.nats_url.split(",") if s.strip()]
    auth: dict[str, Any] = {}
    if settings.nats_user:
        auth = {"user": settings.nats_user, "password": settings.nats_password or ""}
    return await open_connection(servers, name=name, wait_s=wait_s, **auth, **options)
