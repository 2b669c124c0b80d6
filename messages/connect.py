"""Connecting to NATS with the hub's settings, translating failures at the edge."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import NoServersError

from messages.natsconfig import hub_seed_path
from omsx.errors import ConfigError, TransportUnavailable
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


def hub_credentials(settings: Settings) -> dict[str, Any]:
    """How the hub authenticates: ``OMSX_NATS_USER``/``PASSWORD``; else the NKey seed
    ``OMSX_NATS_NKEY_SEED``; else the hub's seed that ``omsx nats-config`` wrote under
    the data dir, when there is one; else nothing (a server without authentication)."""
    if settings.nats_user:
        return {"user": settings.nats_user, "password": settings.nats_password or ""}
    if settings.nats_nkey_seed is not None:
        if not settings.nats_nkey_seed.is_file():
            raise ConfigError(f"OMSX_NATS_NKEY_SEED: {settings.nats_nkey_seed} is not a file")
        return {"nkeys_seed": str(settings.nats_nkey_seed)}
    generated = hub_seed_path(settings)
    return {"nkeys_seed": str(generated)} if generated.is_file() else {}


async def connect(settings: Settings, *, name: str, wait_s: float = 60.0, **options: Any) -> Client:
    """The hub's own connection, with its credentials (:func:`hub_credentials`)."""
    servers = [s.strip() for s in settings.nats_url.split(",") if s.strip()]
    auth = hub_credentials(settings)
    return await open_connection(servers, name=name, wait_s=wait_s, **auth, **options)
