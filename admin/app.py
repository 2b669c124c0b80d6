"""The Litestar admin app. This first version shows the overview with live queue
counts; the admin issue builds out packages, dead letters, persons and claims.

Every asset is served by the app itself (closed network, no CDN).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from sqlalchemy import text

from admin.overview import overview
from omsx.logs import configure_logging
from omsx.settings import get_settings
from storage.daily import daily_report
from storage.db import get_engine, session_scope

TEMPLATES = Path(__file__).parent / "templates"


@get("/", sync_to_thread=True)
def index() -> Template:
    return Template("index.html", context={"data": overview(get_settings())})


@get("/api/overview", sync_to_thread=True)
def api_overview() -> dict[str, Any]:
    return overview(get_settings())


@get("/api/daily/{day:str}", sync_to_thread=True)
def api_daily(day: FromPath[str]) -> dict[str, Any]:
    """A stored daily report: the run, the region's figures and the conservation check."""
    try:
        chosen = date.fromisoformat(day)
    except ValueError as exc:
        raise ValidationException(f"{day!r} is not a date YYYY-MM-DD") from exc
    with session_scope() as session:
        found = daily_report(session, chosen)
    if found is None:
        raise NotFoundException(f"no daily report for {day}; run omsx consolidate --date {day}")
    return found


@get("/health", sync_to_thread=True)
def health() -> dict[str, str]:
    status = {"database": "ok"}
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - health reports any failure as a status
        status["database"] = f"error: {type(exc).__name__}"
    return status


def create_app() -> Litestar:
    configure_logging()
    return Litestar(
        route_handlers=[index, api_overview, api_daily, health],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
    )
