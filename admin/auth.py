"""Logins, sessions, roles and CSRF of the admin (issue "Admin" → Access).

- Passwords are hashed with Argon2id (argon2-cffi); a login for an unknown or disabled
  user still spends one verification, so timing does not tell which names exist.
- Sessions live in Redis (the admin stays stateless: any number of instances behind a
  proxy), end after ``OMSX_ADMIN_SESSION_S`` without a request, and are dropped on
  logout. The cookie is HttpOnly, SameSite=Lax, and Secure when
  ``OMSX_ADMIN_COOKIE_SECURE``.
- Every unsafe request (POST …) carries the CSRF token of its session's cookie
  (the forms' hidden field, or the ``x-csrftoken`` header of the page's scripts).
- A request without a session is sent to ``/login`` (``/api/…``: 401), except
  ``/login``, ``/health``, ``/metrics`` and ``/static``.
- Roles: viewer < operator (replays) < admin (purge, users, unmasked personal data);
  :func:`requires` guards a route.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection, Request
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.security.session_auth import SessionAuth
from litestar.stores.redis import RedisStore
from litestar.types import Empty, Guard, Message, ScopeSession
from sqlmodel import Session

from omsx.settings import Settings
from storage.db import session_scope
from storage.models import utcnow
from storage.users import AdminUser, Role, user_by_name

PUBLIC = ["^/login", "^/health", "^/metrics", "^/static/"]
SESSION_STORE = "sessions"

_hasher = PasswordHasher()  # Argon2id, the library's current parameters
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Operator:
    """The user of a request, as handlers and templates see it."""

    id: int
    username: str
    role: Role

    def may(self, role: Role) -> bool:
        return self.role >= role


def _operator(user: AdminUser) -> Operator:
    assert user.id is not None
    return Operator(user.id, user.username, Role[user.role])


def authenticate(session: Session, username: str, password: str) -> Operator | None:
    """The operator these credentials name, or None (wrong, unknown or disabled alike)."""
    user = user_by_name(session, username)
    if user is None or not user.active:
        check_password(_DUMMY_HASH, password)
        return None
    if not check_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    return _operator(user)


def _load(user_id: object) -> Operator | None:
    if not isinstance(user_id, int):
        return None
    with session_scope() as session:
        user = session.get(AdminUser, user_id)
        return _operator(user) if user is not None and user.active else None


async def retrieve_user(
    session_data: dict[str, Any], _connection: ASGIConnection[Any, Any, Any, Any]
) -> Operator | None:
    """The session's operator, re-read each request: a disabled user is out at once."""
    return await anyio.to_thread.run_sync(_load, session_data.get("user_id"))


def requires(role: Role) -> Guard:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        user = connection.user
        if not isinstance(user, Operator) or not user.may(role):
            raise PermissionDeniedException(f"this needs the {role.name} role")

    return guard


def admin_secret(settings: Settings) -> str:
    """``OMSX_ADMIN_SECRET``, else one generated into the data dir on first use."""
    if settings.admin_secret:
        return settings.admin_secret
    path: Path = settings.data_dir / "admin.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="ascii")
    return path.read_text(encoding="ascii").strip()


ROTATE, NEW_ID = "omsx_rotate_session", "omsx_new_session_id"


def rotate_session(request: Request[Any, Any, Any]) -> None:
    """Give the session a new id when this response is sent (at login: an id planted
    in the browser before the login must not become a logged-in session)."""
    request.scope["state"][ROTATE] = True


class RotatingSessionBackend(ServerSideSessionBackend):
    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        state = connection.scope["state"]
        old = connection.cookies.get(self.config.key)
        if (scope_session is Empty or not scope_session) and (not old or old == "null"):
            # no session before and none now (Litestar would store an empty one per
            # anonymous request, for OMSX_ADMIN_SESSION_S): nothing to store or delete
            return
        if scope_session is not Empty and state.get(ROTATE):
            if old:
                await self.delete(
                    old, store=self.config.get_store_from_app(connection.scope["app"])
                )
            state[NEW_ID] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return connection.scope["state"].get(NEW_ID) or super().get_session_id(connection)


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def session_auth(settings: Settings) -> SessionAuth[Operator, Any]:
    config = RotatingSessionConfig(
        max_age=settings.admin_session_s,
        renew_on_access=True,
        secure=settings.admin_cookie_secure,
        httponly=True,
        samesite="lax",
        store=SESSION_STORE,
        exclude=["^/health", "^/metrics", "^/static/"],  # answer without Redis
    )
    return SessionAuth(session_backend_config=config, retrieve_user_handler=retrieve_user,
                       exclude=PUBLIC)  # fmt: skip


def session_store(settings: Settings) -> RedisStore:
    return RedisStore.with_client(settings.redis_url, namespace="omsx-admin")


def csrf(settings: Settings) -> CSRFConfig:
    return CSRFConfig(secret=admin_secret(settings), cookie_secure=settings.admin_cookie_secure,
                      cookie_samesite="lax", exclude=["^/health", "^/metrics"])  # fmt: skip


class LoginThrottle:
    """Failed logins counted in Redis (shared by every admin instance), per user name
    and per client address: past ``OMSX_ADMIN_LOGIN_ATTEMPTS`` failures for a name (or
    four times that from one address, which may be a shared proxy) in
    ``OMSX_ADMIN_LOGIN_WINDOW_S``, logins are refused until the window passes — even
    with the right password, so guessing gains nothing. A success clears the name's
    count. Names are hashed in the keys."""

    def __init__(self, settings: Settings) -> None:
        self.client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
        self.attempts = settings.admin_login_attempts
        self.window = settings.admin_login_window_s

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        name = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
        return [(f"omsx-admin:login-failed:user:{name}", self.attempts),
                (f"omsx-admin:login-failed:addr:{address}", self.attempts * 4)]  # fmt: skip

    def wait_s(self, username: str, address: str) -> int:
        """Seconds until a login may be tried again; 0 when it may be now."""
        waits = [
            max(int(self.client.ttl(key)), 1)
            for key, limit in self._keys(username, address)
            if int(self.client.get(key) or 0) >= limit
        ]
        return max(waits, default=0)

    def failed(self, username: str, address: str) -> None:
        with self.client.pipeline() as pipe:
            for key, _limit in self._keys(username, address):
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
            pipe.execute()

    def succeeded(self, username: str, address: str) -> None:
        self.client.delete(self._keys(username, address)[0][0])

    def close(self) -> None:
        self.client.close()
