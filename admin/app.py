"""The Litestar admin app. This first version shows the overview with live queue
counts; the admin issue builds out packages, dead letters, persons and claims.

Every asset is served by the app itself (closed network, no CDN).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from sqlalchemy import text

from admin.overview import overview
from omsx.logs import configure_logging
from omsx.settings import get_settings
from storage.db import get_engine

TEMPLATES = Path(__file__).parent / "templates"


@get("/", sync_to_thread=True)
def index() -> Template:
    return Template("index.html", context={"data": overview(get_settings())})


@get("/api/overview", sync_to_thread=True)
def api_overview() -> dict[str, Any]:
    return overview(get_settings())


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
        route_handlers=[index, api_overview, health],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
    )
