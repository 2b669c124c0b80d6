"""Entry point for ``dramatiq workers.actors``: every actor on the configured broker."""

from __future__ import annotations

from omsx.logs import configure_logging

configure_logging()

from workers.apply import apply  # noqa: E402
from workers.broker import broker  # noqa: E402
from workers.daily import consolidate_day  # noqa: E402
from workers.replies import publish_protocols  # noqa: E402
from workers.sweeper import sweep  # noqa: E402
from workers.validation import validate  # noqa: E402

__all__ = ["apply", "broker", "consolidate_day", "publish_protocols", "sweep", "validate"]
