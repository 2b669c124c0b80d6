"""Users and the audit log in the admin, for admins only (issue "Admin" → Access):
list logins, add one, enable or disable it, change its role or password — the same
checks and audit lines as ``omsx users …`` (:mod:`admin.accounts`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Body, FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template

from admin.accounts import (
    AccountError,
    accounts,
    add_user,
    audit_log,
    set_active,
    set_password,
    set_role,
)
from admin.auth import Operator, requires
from omsx.errors import NotFound
from storage.db import session_scope
from storage.users import Role

AUDIT_PAGE = 100


@dataclass
class NewUser:
    username: str = ""
    role: str = "viewer"
    password: str = ""


@dataclass
class Change:
    """What to change; the fields left out stay as they are."""

    active: bool | None = None
    role: str | None = None
    password: str | None = None


def _change(actor: str, username: str, change: Change) -> None:
    try:
        with session_scope() as session:
            if change.active is not None:
                set_active(session, actor, username, change.active)
            if change.role:
                set_role(session, actor, username, change.role)
            if change.password:
                set_password(session, actor, username, change.password)
    except NotFound as exc:
        raise NotFoundException(str(exc)) from exc
    except AccountError as exc:
        raise ValidationException(str(exc)) from exc


def _add(actor: str, new: NewUser) -> None:
    try:
        with session_scope() as session:
            add_user(session, actor, new.username.strip(), new.password, new.role)
    except AccountError as exc:
        raise ValidationException(str(exc)) from exc


def _listing() -> list[dict[str, Any]]:
    with session_scope() as session:
        return [
            {**asdict(a), "created_at": a.created_at.isoformat(timespec="seconds"),
             "last_login_at": a.last_login_at.isoformat(timespec="seconds")
             if a.last_login_at else None}
            for a in accounts(session)
        ]  # fmt: skip


@get("/api/users", sync_to_thread=True)
def api_users() -> dict[str, Any]:
    """Every login: role, whether active, when it last logged in."""
    return {"users": _listing()}


@post("/api/users", sync_to_thread=True, status_code=201)
def api_add_user(request: Request[Operator, Any, Any], data: JSONBody[NewUser]) -> dict[str, Any]:
    """Add a login (audited)."""
    _add(request.user.username, data)
    return {"added": data.username.strip(), "role": data.role}


@post("/api/users/{username:str}", sync_to_thread=True, status_code=200)
def api_change_user(
    request: Request[Operator, Any, Any], username: FromPath[str], data: JSONBody[Change]
) -> dict[str, Any]:
    """Enable/disable a login, change its role or password (each audited)."""
    _change(request.user.username, username, data)
    return {"changed": username}


def _page(user: Operator, error: str | None = None, status_code: int = 200) -> Template:
    return Template("users.html", status_code=status_code,
                    context={"user": user, "users": _listing(), "roles": list(Role.__members__),
                             "error": error})  # fmt: skip


@get("/users", sync_to_thread=True)
def users_page(request: Request[Operator, Any, Any]) -> Template:
    """Logins page."""
    return _page(request.user)


Form = Body(media_type=RequestEncodingType.URL_ENCODED)


@post("/users", sync_to_thread=True, status_code=303)
def add_user_form(
    request: Request[Operator, Any, Any], data: Annotated[NewUser, Form]
) -> Redirect | Template:
    """Add a login (form)."""
    try:
        _add(request.user.username, data)
    except ValidationException as exc:
        return _page(request.user, str(exc.detail), 400)
    return Redirect("/users", status_code=303)


@dataclass
class ChangeForm:
    action: str = ""  # enable | disable | role | password
    role: str = ""
    password: str = ""


@post("/users/{username:str}", sync_to_thread=True, status_code=303)
def change_user_form(
    request: Request[Operator, Any, Any], username: FromPath[str],
    data: Annotated[ChangeForm, Form],
) -> Redirect | Template:  # fmt: skip
    """Change a login (form)."""
    change = {
        "enable": Change(active=True),
        "disable": Change(active=False),
        "role": Change(role=data.role),
        "password": Change(password=data.password or " "),  # empty: refused as too short
    }.get(data.action)
    if change is None:
        return _page(request.user, f"unknown action {data.action!r}", 400)
    try:
        _change(request.user.username, username, change)
    except (ValidationException, NotFoundException) as exc:
        return _page(request.user, str(exc.detail), exc.status_code)
    return Redirect("/users", status_code=303)


def _audit(before: int | None) -> dict[str, Any]:
    with session_scope() as session:
        rows = audit_log(session, before=before, limit=AUDIT_PAGE + 1)
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    return {
        "entries": [
            {"id": e.id, "at": e.at.isoformat(timespec="seconds"), "username": e.username,
             "action": e.action, "target": e.target, "count": e.count, "detail": e.detail}
            for e in rows
        ],
        "next_before": rows[-1].id if more else None,
    }  # fmt: skip


@get("/api/audit", sync_to_thread=True)
def api_audit(before: FromQuery[int | None] = None) -> dict[str, Any]:
    """The audit log newest first: logins, replays, purges, downloads, unmasked views,
    user changes; ``next_before`` pages on."""
    return _audit(before)


@get("/audit", sync_to_thread=True)
def audit_page(
    request: Request[Operator, Any, Any], before: FromQuery[int | None] = None
) -> Template:
    """Audit log page."""
    return Template("audit.html", context={"user": request.user, "found": _audit(before)})


ROUTER = Router(
    "/",
    route_handlers=[api_users, api_add_user, api_change_user, users_page, add_user_form,
                    change_user_form, api_audit, audit_page],
    guards=[requires(Role.admin)],
)  # fmt: skip
