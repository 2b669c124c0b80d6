"""The Litestar admin app (docs/admin.md): the login and the overview here; packages,
dead letters, persons, claims, daily reports, users, metrics and OpenAPI in their own
modules, each a page and the JSON API behind it, all behind a login
(:mod:`admin.auth`).

Every asset is served by the app itself (closed network, no CDN).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import redis
from litestar import Litestar, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.params import Body, FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from admin.auth import (
    LoginThrottle,
    Operator,
    authenticate,
    csrf,
    rotate_session,
    session_auth,
    session_store,
)
from admin.claims import ROUTES as CLAIMS_ROUTES
from admin.daily import ROUTES as DAILY_ROUTES
from admin.deadletters import ROUTES as DEAD_ROUTES
from admin.overview import overview
from admin.packages import ROUTES as PACKAGE_ROUTES
from admin.persons import ROUTES as PERSON_ROUTES
from admin.users import ROUTER as USERS_ROUTER
from omsx.logs import configure_logging, get_logger
from omsx.settings import get_settings
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
    """Login page."""
    return Template("login.html", context={"next": _safe_next(next), "error": None})


@post("/login", sync_to_thread=True, status_code=303)
def login(
    request: Request[Any, Any, Any],
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect | Template:
    """Check the credentials (throttled per name and address), then start a session
    under a new id."""
    address = request.client.host if request.client else "unknown"
    throttle = LoginThrottle(get_settings())
    try:
        wait = throttle.wait_s(data.username, address)
        if wait:
            with session_scope() as session:
                audit(session, data.username[:64], "login-throttled")
            log.warning("admin.login_throttled", wait_s=wait)
            return _login_refused(data, f"Слишком много неудачных попыток входа; "
                                        f"повторите через {wait // 60 + 1} мин.", 429)  # fmt: skip
        with session_scope() as session:
            operator = authenticate(session, data.username, data.password)
            audit(session, data.username[:64], "login" if operator else "login-failed")
        if operator is None:
            throttle.failed(data.username, address)
            log.info("admin.login_failed")
            return _login_refused(data, "Неверное имя или пароль", 401)
        throttle.succeeded(data.username, address)
    finally:
        throttle.close()
    request.clear_session()
    request.set_session({"user_id": operator.id})
    rotate_session(request)
    log.info("admin.login", user_id=operator.id)
    return Redirect(_safe_next(data.next), status_code=303)


def _login_refused(data: LoginForm, error: str, status_code: int) -> Template:
    context = {"next": _safe_next(data.next), "error": error}
    return Template("login.html", status_code=status_code, context=context)


@post("/logout", sync_to_thread=False, status_code=303)
def logout(request: Request[Operator, Any, Any]) -> Redirect:
    """Log out."""
    request.clear_session()
    return Redirect("/login", status_code=303)


@get("/", sync_to_thread=True)
def index(request: Request[Operator, Any, Any]) -> Template:
    """Overview page: queues, JetStream, packages, throughput, daily reports."""
    return Template("index.html", context={"data": overview(get_settings()), "user": request.user})


@get("/api/overview", sync_to_thread=True)
def api_overview() -> dict[str, Any]:
    """Overview as JSON: queues, JetStream, packages per state and hour, throughput and
    error rate, daily reports."""
    return overview(get_settings())


@get("/health")
async def health() -> Response[dict[str, str]]:
    """Each dependency's status: database, redis, nats — "ok" or "error: <exception>".

    200 when all are ok, else 503 (``status`` is "ok" or "down"); every check has a
    2 s limit. Public: no session, no Redis needed to answer.
    """
    from admin.metrics import dependency_status

    def database() -> None:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))

    status = await dependency_status(get_settings(), database)
    return Response(status, status_code=200 if status["status"] == "ok" else 503)


def _unauthenticated(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """No session: a page goes to the login, the API answers 401."""
    if request.url.path.startswith("/api/"):
        return Response({"status_code": 401, "detail": "log in first"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)


def _forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    if request.url.path.startswith("/api/"):
        return Response({"status_code": 403, "detail": exc.detail}, status_code=403)
    return Template("error.html", status_code=403,
                    context={"title": "Нет доступа", "detail": exc.detail})  # fmt: skip


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Redis (sessions) or the database is down: say so (503), never a bare 500."""
    what = "the session store (Redis)" if isinstance(exc, redis.RedisError) else "the database"
    log.error("admin.unavailable", dependency=what, error=type(exc).__name__)
    detail = f"{what} is unavailable; try again shortly (see /health)"
    if request.url.path.startswith("/api/"):
        return Response({"status_code": 503, "detail": detail}, status_code=503)
    return Template("error.html", status_code=503,
                    context={"title": "Сервис временно недоступен", "detail": detail})  # fmt: skip


def create_app() -> Litestar:
    from admin.metrics import ROUTES as METRICS_ROUTES
    from admin.openapi import openapi_config, summarize

    configure_logging()
    settings = get_settings()
    auth = session_auth(settings)
    app = Litestar(
        route_handlers=[
            login_page,
            login,
            logout,
            index,
            api_overview,
            health,
            *PACKAGE_ROUTES,
            *DEAD_ROUTES,
            *PERSON_ROUTES,
            *CLAIMS_ROUTES,
            *DAILY_ROUTES,
            USERS_ROUTER,
            *METRICS_ROUTES,
        ],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        on_app_init=[auth.on_app_init],
        stores={"sessions": session_store(settings)},
        csrf_config=csrf(settings),
        exception_handlers={
            NotAuthorizedException: _unauthenticated,
            PermissionDeniedException: _forbidden,
            redis.RedisError: _unavailable,
            OperationalError: _unavailable,
        },
        openapi_config=openapi_config(),
    )
    summarize(app)
    return app
