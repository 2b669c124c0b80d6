"""Who may reach what in the admin: every route of the app without a session, and the
role matrix (each role × each action → allowed or refused); the login's throttle and
session rotation; the users page (issue "Admin" → Access, issue "faults" → who may do
what). Real Redis sessions, SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import Session, select

from omsx.settings import Settings
from storage.db import dispose_engines, get_engine
from storage.migrate import upgrade
from storage.users import AuditEntry
from tests.integration.adminweb import PASSWORD, api_post, csrf_of, log_in

pytestmark = pytest.mark.integration

PUBLIC = {"/login", "/health", "/metrics"}
SAMPLE = {"package_id": "1", "invoice_id": "1", "day": "2025-11-01", "username": "vera",
          "message_id": "x", "path": "x"}  # fmt: skip
# the actions above viewer; every other route is for every role
NEEDS = {
    ("POST", "/api/dead/replay"): "operator",
    ("POST", "/dead/replay"): "operator",
    ("POST", "/api/dead/purge"): "admin",
    ("POST", "/dead/purge"): "admin",
    ("GET", "/packages/{package_id}/download"): "admin",
    ("GET", "/api/users"): "admin",
    ("POST", "/api/users"): "admin",
    ("POST", "/api/users/{username}"): "admin",
    ("GET", "/users"): "admin",
    ("POST", "/users"): "admin",
    ("POST", "/users/{username}"): "admin",
    ("GET", "/api/audit"): "admin",
    ("GET", "/audit"): "admin",
}
RANK = {"viewer": 1, "operator": 2, "admin": 3}


@pytest.fixture
def admin_env(omsx_env: Settings, database_url: str) -> Iterator[Settings]:
    from admin.cli import main

    upgrade(omsx_env.database_url)
    for name, role in (("vera", "viewer"), ("oleg", "operator"), ("anna", "admin")):
        added = CliRunner().invoke(main, ["users", "add", name, "--role", role,
                                          "--password-stdin"], input=PASSWORD + "\n")  # fmt: skip
        assert added.exit_code == 0, added.output
    yield omsx_env
    dispose_engines()


@pytest.fixture
def app(admin_env: Settings) -> Litestar:
    import workers.actors  # noqa: F401 - the dead-letter routes know the pipeline's queues
    from admin.app import create_app

    return create_app()


def _routes(app: Litestar) -> list[tuple[str, str, str]]:
    """(method, route path, a concrete path) for every handler of the app."""
    out = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            concrete = re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "1"), path)
            out.append((method, path, concrete))
    return sorted(set(out))


def _call(client: TestClient, method: str, path: str) -> int:  # type: ignore[type-arg]
    if method == "GET":
        return client.get(path, follow_redirects=False).status_code
    token = client.cookies.get("csrftoken", "")
    return client.request(method, path, json={}, headers={"x-csrftoken": token},
                          follow_redirects=False).status_code  # fmt: skip


def test_every_route_but_the_public_ones_needs_a_session(app: Litestar) -> None:
    from litestar.routes import HTTPRoute
    from litestar.utils.helpers import unwrap_partial

    routes = _routes(app)
    assert len(routes) > 30
    for route in app.routes:  # each of ours is described (its OpenAPI summary)
        for handler in route.route_handlers if isinstance(route, HTTPRoute) else []:
            fn = unwrap_partial(handler.fn)
            if fn.__module__.startswith("admin."):
                assert fn.__doc__, f"{fn.__module__}.{fn.__name__} has no docstring"
    with TestClient(app=app) as client:
        client.get("/login")  # the CSRF cookie, so a POST is judged on its session
        for method, path, concrete in routes:
            if path in PUBLIC or path.startswith("/static"):
                continue
            status = _call(client, method, concrete)
            expected = 401 if concrete.startswith("/api/") else 303
            assert status == expected, (method, path, status)


@pytest.mark.parametrize("role_user", ["vera", "oleg", "anna"])
def test_the_role_matrix(app: Litestar, role_user: str) -> None:
    role = {"vera": "viewer", "oleg": "operator", "anna": "admin"}[role_user]
    checked = refused = 0
    with TestClient(app=app) as client:
        log_in(client, role_user)
        for method, path, concrete in _routes(app):
            if path in PUBLIC or (method, path) == ("POST", "/logout"):
                continue
            needed = NEEDS.get((method, path), "viewer")
            status = _call(client, method, concrete)
            assert status not in {401, 500}, (method, path, status)
            if RANK[role] >= RANK[needed]:
                assert status != 403, (method, path, role)
            else:
                assert status == 403, (method, path, role, status)
                refused += 1
            checked += 1
    expected_refused = sum(RANK[role] < RANK[n] for n in NEEDS.values())
    print(f"{role}: {checked} routes checked, {refused} refused")
    assert refused == expected_refused


def test_failed_logins_are_throttled_per_name(
    admin_env: Settings, app: Litestar, fresh_redis: object
) -> None:
    with TestClient(app=app) as client:
        for _ in range(admin_env.admin_login_attempts):
            assert log_in(client, "vera", "wrong password").status_code == 401  # type: ignore[attr-defined]
        blocked = log_in(client, "vera")  # the right password, but too late
        assert blocked.status_code == 429 and "Слишком много" in blocked.text  # type: ignore[attr-defined]
        assert client.get("/api/overview").status_code == 401
        assert log_in(client, "oleg").status_code == 303  # type: ignore[attr-defined]
    with Session(get_engine(admin_env.database_url)) as s:
        actions = [a.action for a in s.exec(select(AuditEntry)).all() if a.username == "vera"]
    assert actions.count("login-failed") == admin_env.admin_login_attempts
    assert actions[-1] == "login-throttled"


def _session_cookie(response: object) -> str:
    for header in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        if header.startswith("session="):
            return str(header.split(";")[0].removeprefix("session="))
    raise AssertionError("no session cookie set")


def test_a_login_gets_a_new_session_id_and_anonymous_requests_store_none(
    admin_env: Settings, app: Litestar, fresh_redis: object
) -> None:
    import redis

    store = redis.Redis.from_url(admin_env.redis_url)
    with TestClient(app=app) as client:
        for _ in range(3):
            client.get("/login")
            client.get("/api/overview")
    assert store.keys("omsx-admin*") == []  # no empty session per anonymous request
    store.close()
    planted = "f" * 64
    with TestClient(app=app) as client:
        client.cookies.set("session", planted)  # planted in the browser before the login
        new = _session_cookie(log_in(client, "vera"))
    assert new not in ("", "null", planted)
    for cookie, status in ((planted, 401), (new, 200)):
        with TestClient(app=app) as other:
            other.cookies.set("session", cookie)
            assert other.get("/api/overview").status_code == status


def test_admins_manage_users_from_the_page(admin_env: Settings, app: Litestar) -> None:
    with TestClient(app=app) as client:
        log_in(client, "anna")
        page = client.get("/users")
        assert page.status_code == 200 and "vera" in page.text
        token = csrf_of(page.text)
        short = client.post("/users", data={"username": "ivan", "role": "viewer",
                                            "password": "short", "_csrf_token": token})  # fmt: skip
        assert short.status_code == 400 and "at least 10" in short.text
        added = client.post("/users", data={"username": "ivan", "role": "operator",
                                            "password": PASSWORD, "_csrf_token": token},
                            follow_redirects=False)  # fmt: skip
        assert added.status_code == 303
        again = api_post(client, "/api/users", {"username": "ivan", "password": PASSWORD})
        assert again.status_code == 400 and "exists" in again.text  # type: ignore[attr-defined]
        assert api_post(client, "/api/users/anna", {"active": False}).status_code == 400  # type: ignore[attr-defined]
        assert api_post(client, "/api/users/nobody", {"role": "admin"}).status_code == 404  # type: ignore[attr-defined]
        off = client.post("/users/vera", data={"action": "disable", "_csrf_token": token},
                          follow_redirects=False)  # fmt: skip
        assert off.status_code == 303
        users = {u["username"]: u for u in client.get("/api/users").json()["users"]}
        assert users["ivan"]["role"] == "operator" and not users["vera"]["active"]
        audit = client.get("/api/audit").json()["entries"]
        assert [(e["action"], e["target"]) for e in audit[:2]] == [
            ("user-disable", "vera"), ("user-add", "ivan")]  # fmt: skip
        assert "user-disable" in client.get("/audit").text
    with TestClient(app=app) as other:
        assert log_in(other, "vera").status_code == 401  # type: ignore[attr-defined]
        assert log_in(other, "ivan").status_code == 303  # type: ignore[attr-defined]


def test_a_redis_outage_is_a_clear_503_not_a_crash(
    admin_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from admin.app import create_app
    from omsx.embedded import free_port
    from omsx.settings import get_settings

    monkeypatch.setenv("OMSX_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    with TestClient(app=create_app()) as client:
        assert client.get("/login").status_code == 200  # the form needs no Redis
        tried = log_in(client, "vera")
        assert tried.status_code == 503 and "session store (Redis)" in tried.text  # type: ignore[attr-defined]
        assert client.get("/api/overview").status_code == 401  # no session: no Redis asked
        assert client.get("/health").status_code == 503  # public, and names what is down
        client.cookies.set("session", "a" * 64)  # a session that cannot be read now
        assert client.get("/api/overview").status_code == 503
