"""The admin's OpenAPI description at ``/schema``, with no asset from outside the app.

Litestar's own UIs (Scalar, Swagger, ReDoc …) load their scripts from a CDN, which the
closed network has not: ``/schema`` is a page rendered here — every path with its
methods, summaries and descriptions — and the description itself is
``/schema/openapi.json`` (and ``.yaml``) for any local tool. Behind the login like every
page (not in :data:`admin.auth.PUBLIC`).
"""

from __future__ import annotations

import html
import inspect
from importlib import metadata
from typing import Any

from litestar import Litestar, Request
from litestar.enums import MediaType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin
from litestar.routes import HTTPRoute
from litestar.utils.helpers import unwrap_partial

TITLE = "omsx admin"
METHODS = ("get", "post", "put", "patch", "delete")


def _first_line(doc: str | None) -> str | None:
    if not doc:
        return None
    lines = inspect.cleandoc(doc).strip().splitlines()
    return lines[0].rstrip(".") if lines else None


def summarize(app: Litestar) -> None:
    """Give every route handler of ``app`` without a summary one: its docstring's first
    line, else Litestar's default (its function name). Call it
    before the first request (the description is built at the first)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.summary:
                handler.summary = _first_line(unwrap_partial(handler.fn).__doc__)


class IndexRenderPlugin(OpenAPIRenderPlugin):
    """``/schema``: the paths and operations as a plain page, no script, no external asset."""

    def __init__(self) -> None:
        super().__init__(path="/", media_type=MediaType.HTML)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        info = openapi_schema.get("info", {})
        rows = []
        for path, item in sorted(openapi_schema.get("paths", {}).items()):
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                params = ", ".join(
                    f"{p.get('name')} ({p.get('in')})" for p in op.get("parameters", [])
                )
                rows.append(
                    f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                    f"</code></td><td>{html.escape(op.get('summary') or '')}"
                    f"<div class=d>{html.escape(op.get('description') or '')}</div></td>"
                    f"<td>{html.escape(params)}</td></tr>"
                )
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(info.get("title", TITLE))} — API</title>
<style>
  body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }}
  table {{ border-collapse: collapse; }}
  th, td {{ border: 1px solid #ccc; padding: .3rem .7rem; text-align: left; vertical-align: top; }}
  .d {{ color: #555; white-space: pre-line; font-size: 90%; }}
</style></head><body>
<p><a href="/">← обзор</a></p>
<h1>{html.escape(info.get("title", TITLE))} {html.escape(str(info.get("version", "")))}</h1>
<p>OpenAPI {html.escape(str(openapi_schema.get("openapi", "")))}:
<a href="/schema/openapi.json">openapi.json</a> ·
<a href="/schema/openapi.yaml">openapi.yaml</a></p>
<table id="operations"><thead><tr><th>method</th><th>path</th><th>summary</th><th>parameters</th>
</tr></thead><tbody>
{"".join(rows)}
</tbody></table></body></html>
"""
        return page.encode("utf-8")


def _version() -> str:
    try:
        return metadata.version("omsx")
    except metadata.PackageNotFoundError:
        return "0"


def openapi_config() -> OpenAPIConfig:
    """``/schema`` (the page), ``/schema/openapi.json`` and ``/schema/openapi.yaml``."""
    return OpenAPIConfig(
        title=TITLE,
        version=_version(),
        description="The admin of the omsx exchange hub: pages and their JSON API "
        "(a session cookie from /login; an unsafe request carries the x-csrftoken header).",
        path="/schema",
        use_handler_docstrings=True,
        render_plugins=[IndexRenderPlugin(), JsonRenderPlugin(), YamlRenderPlugin()],
    )
