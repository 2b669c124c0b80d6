"""structlog, configured once per process.

JSON lines when stderr is not a terminal, a readable console otherwise. Log calls
use a constant event name and put values in keys; they carry ids, codes and file
names, never personal data (names, ENP, SNILS, birth dates, documents).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from omsx.settings import Settings, get_settings

_configured = False


def configure_logging(settings: Settings | None = None) -> None:
    """Configure structlog and the stdlib root logger; safe to call more than once."""
    global _configured  # noqa: PLW0603 - configure-once flag for the process
    if _configured:
        return
    settings = settings or get_settings()
    level = logging.getLevelName(settings.log_level.upper())
    json_out = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_out
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # third-party libraries log through the stdlib: route them to the same stream
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.INFO) if isinstance(level, int) else logging.INFO)
    _configured = True


def get_logger(name: str) -> Any:
    """A structlog logger bound to a component name."""
    return structlog.get_logger(name)
