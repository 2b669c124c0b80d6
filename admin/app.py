"""The Litestar admin app: the overview with live queue counts and the daily reports,
behind a login (:mod:`admin.auth`); the admin issue builds out packages, dead letters,
persons and claims.

Every asset is served by the app itself (closed network, no CDN).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Litestar, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from sqlalchemy import text

from admin.auth import Operator, authenticate, csrf, session_auth, session_store
from admin.deadletters import ROUTES as DEAD_ROUTES
from admin.overview import overview
from admin.packages import ROUTES as PACKAGE_ROUTES
from omsx.logs import configure_logging, get_logger
from omsx.settings import get_settings
from storage.daily import daily_report
from storage.db import get_engine, session_scope
from storage.users import audit

TEMPLATES = Path(__file__).parent / "templates"
log = get_logger("admin")


@dataclass
class LoginForm:
    username: str = ""
    password: str = ""
    next: str = "/"


def _safe_next(target: str) -> str:
    """Only a path of this app: never another host (``//evil``, ``https://…``)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@get("/login", sync_to_thread=False)
def login_page(next: FromQuery[str] = "/") -> Template:
    return Template("login.html", context={"next": _safe_next(next), "error": None})


@post("/login", sync_to_thread=True, status_code=303)
def login(
    request: Request[Any, Any, Any],
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect | Template:
    with session_scope() as session:
        operator = authenticate(session, data.username, data.password)
        audit(session, data.username[:64], "login" if operator else "login-failed")
    if operator is None:
        log.info("admin.login_failed")
        return Template("login.html", status_code=401,
                        context={"next": _safe_next(data.next),
                                 "error": "Неверное имя или пароль"})  # fmt: skip
    request.clear_session()
    request.set_session({"user_id": operator.id})
    log.info("admin.login", user_id=operator.id)
    return Redirect(_safe_next(data.next), status_code=303)


@post("/logout", sync_to_thread=False, status_code=303)
def logout(request: Request[Operator, Any, Any]) -> Redirect:
    request.clear_session()
    return Redirect("/login", status_code=303)


@get("/", sync_to_thread=True)
def index(request: Request[Operator, Any, Any]) -> Template:
    return Template("index.html", context={"data": overview(get_settings()), "user": request.user})


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


def _unauthenticated(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """No session: a page goes to the login, the API answers 401."""
    if request.url.path.startswith("/api/"):
        return Response({"status_code": 401, "detail": "log in first"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)


def _forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    if request.url.path.startswith("/api/"):
        return Response({"status_code": 403, "detail": exc.detail}, status_code=403)
    return Template("forbidden.html", status_code=403, context={"detail": exc.detail})


def create_app() -> Litestar:
    configure_logging()
    settings = get_settings()
    auth = session_auth(settings)
    return Litestar(
        route_handlers=[
            login_page,
            login,
            logout,
            index,
            api_overview,
            api_daily,
            health,
            *PACKAGE_ROUTES,
            *DEAD_ROUTES,
        ],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        on_app_init=[auth.on_app_init],
        stores={"sessions": session_store(settings)},
        csrf_config=csrf(settings),
        exception_handlers={
            NotAuthorizedException: _unauthenticated,
            PermissionDeniedException: _forbidden,
        },
    )
