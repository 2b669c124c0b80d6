"""What the overview shows, shared by the admin page, its API and ``omsx status``."""

from __future__ import annotations

from typing import Any

import redis

from omsx.settings import Settings
from storage.daily import daily_status
from storage.db import session_scope
from storage.packages import count_by_state
from workers.broker import QUEUES


def queue_counts(settings: Settings) -> dict[str, dict[str, int]]:
    """Per Dramatiq queue: ready, delayed and dead-lettered message counts."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
    try:
        out: dict[str, dict[str, int]] = {}
        for q in QUEUES:
            out[q] = {
                "ready": int(client.llen(f"dramatiq:{q}")),
                "delayed": int(client.llen(f"dramatiq:{q}.DQ")),
                "dead": int(client.zcard(f"dramatiq:{q}.XQ")),
            }
        return out
    finally:
        client.close()


def overview(settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = {"queues": {}, "packages": {}, "errors": []}
    try:
        data["queues"] = queue_counts(settings)
    except redis.RedisError as exc:
        data["errors"].append(f"redis: {type(exc).__name__}")
    with session_scope() as session:
        data["packages"] = count_by_state(session)
        data["daily"] = daily_status(session)
    return data
