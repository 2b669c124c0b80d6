"""The admin behind its login: sessions in real Redis, users in SQLite and PostgreSQL,
Litestar's test client (issue "Admin" → Access)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlmodel import Session, select

from omsx.settings import Settings
from storage.db import dispose_engines, get_engine
from storage.migrate import upgrade
from storage.users import AuditEntry
from tests.integration.adminweb import PASSWORD, api_post, csrf_of, log_in

pytestmark = pytest.mark.integration


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
def client(admin_env: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    from admin.app import create_app

    with TestClient(app=create_app()) as c:
        yield c


def test_without_a_session_pages_go_to_the_login_and_the_api_answers_401(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    page = client.get("/?x=1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F%3Fx%3D1"
    assert client.get("/api/overview").status_code == 401
    assert client.get("/health").status_code == 200  # public


def test_a_login_opens_the_pages_and_a_logout_closes_them(client: TestClient) -> None:  # type: ignore[type-arg]
    done = log_in(client, "vera", next_="/api/overview")
    assert done.status_code == 303 and done.headers["location"] == "/api/overview"
    assert client.get("/api/overview").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "vera (viewer)" in page.text
    out = client.post("/logout", data={"_csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/api/overview").status_code == 401


def test_wrong_passwords_and_unknown_users_are_refused_alike_and_audited(
    client: TestClient,
    admin_env: Settings,  # type: ignore[type-arg]
) -> None:
    for user, password in (("vera", "wrong password"), ("nobody", PASSWORD)):
        refused = log_in(client, user, password)
        assert refused.status_code == 401 and "Неверное имя или пароль" in refused.text
    assert client.get("/api/overview").status_code == 401
    with Session(get_engine(admin_env.database_url)) as s:
        actions = [(a.username, a.action) for a in s.exec(select(AuditEntry)).all()]
    assert ("vera", "login-failed") in actions and ("nobody", "login-failed") in actions


def test_a_post_without_the_csrf_token_is_refused(client: TestClient) -> None:  # type: ignore[type-arg]
    client.get("/login")
    posted = client.post("/login", data={"username": "vera", "password": PASSWORD})
    assert posted.status_code == 403
    assert client.get("/api/overview").status_code == 401


def test_the_next_parameter_never_leaves_the_app(client: TestClient) -> None:  # type: ignore[type-arg]
    for target in ("//evil.example/", "https://evil.example/", "/\\evil"):
        assert log_in(client, "vera", next_=target).headers["location"] == "/"


def test_a_disabled_user_is_out_at_the_next_request(
    client: TestClient,
    admin_env: Settings,  # type: ignore[type-arg]
) -> None:
    from admin.cli import main

    log_in(client, "oleg")
    assert client.get("/api/overview").status_code == 200
    assert CliRunner().invoke(main, ["users", "disable", "oleg"]).exit_code == 0
    assert client.get("/api/overview").status_code == 401
    assert log_in(client, "oleg").status_code == 401


def test_users_add_refuses_a_repeat_and_a_short_password(admin_env: Settings) -> None:
    from admin.cli import main

    again = CliRunner().invoke(main, ["users", "add", "vera", "--password-stdin"],
                               input=PASSWORD + "\n")  # fmt: skip
    assert again.exit_code == 1 and "exists" in again.output
    short = CliRunner().invoke(main, ["users", "add", "ivan", "--password-stdin"], input="abc\n")
    assert short.exit_code == 2 and "at least 10" in short.output
    listed = CliRunner().invoke(main, ["users", "list"])
    assert all(name in listed.output for name in ("vera", "oleg", "anna"))


def test_a_package_is_found_read_and_its_bytes_are_for_admins_only(
    pipeline_env: Settings, database_url: str
) -> None:
    from admin.app import create_app
    from admin.cli import main
    from tests.builders import erz_for, register
    from tests.integration.pipeline import through

    for name, role in (("vera", "viewer"), ("anna", "admin")):
        CliRunner().invoke(main, ["users", "add", name, "--role", role, "--password-stdin"],
                           input=PASSWORD + "\n")  # fmt: skip
    name, data = register("HM640001S64004_25111", n=3)
    erz_name, erz = erz_for((name, data))
    through(pipeline_env, erz_name, erz, 1)
    pid = through(pipeline_env, name, data, 2)
    with TestClient(app=create_app()) as client:
        log_in(client, "vera")
        found = client.get("/api/packages", params={"participant": "640001"}).json()
        assert [p["id"] for p in found["packages"]] == [pid] and found["next_before"] is None
        assert client.get("/api/packages", params={"file_name": "HM6400"}).json()["packages"]
        assert not client.get("/api/packages", params={"file_name": "HM6400%"}).json()["packages"]
        first = client.get("/api/packages", params={"limit": 1}).json()
        assert first["next_before"] == pid  # newest first; the erz is on the next page
        rest = client.get("/api/packages", params={"limit": 1, "before": pid}).json()
        assert [p["file_name"] for p in rest["packages"]] == [erz_name]
        assert client.get("/api/packages", params={"state": "nonsense"}).status_code == 400
        assert client.get("/api/packages", params={"since": "yesterday"}).status_code == 400
        listing = client.get("/packages", params={"kind": "registry"})
        assert listing.status_code == 200 and name in listing.text
        detail = client.get(f"/api/packages/{pid}").json()
        assert detail["package"]["state"] == "applied" and detail["protocol"]["result"] == "A"
        assert [e["stage"] for e in detail["timeline"]][:1] == ["ingest"]
        assert detail["invoice"]["cases"] == 3
        page = client.get(f"/packages/{pid}")
        assert "Ход обработки" in page.text and "RESULT A" in page.text
        assert "Скачать" not in page.text  # a viewer is not offered the bytes
        raw = client.get(f"/packages/{pid}/protocol.xml")
        assert raw.status_code == 200 and b"<FLK_P>" in raw.content
        assert client.get(f"/packages/{pid}/download").status_code == 403
        assert client.get("/api/packages/999999").status_code == 404
        log_in(client, "anna")
        got = client.get(f"/packages/{pid}/download")
        assert got.status_code == 200 and got.content == data
    with Session(get_engine(pipeline_env.database_url)) as s:
        audits = s.exec(select(AuditEntry).where(AuditEntry.action == "download")).all()
    assert [(a.username, a.target) for a in audits] == [("anna", name)]


def test_dead_letters_by_role_dry_run_first_and_audited(
    admin_env: Settings, dead: tuple[object, object, list[int]], fresh_redis: object
) -> None:
    import workers.actors  # noqa: F401 - the app's broker knows the pipeline's queues
    from admin.app import create_app
    from workers.broker import broker

    with TestClient(app=create_app()) as client:
        log_in(client, "vera")
        listed = client.get("/api/dead").json()["dead"]
        assert [(d["actor"], d["package_id"], d["error_class"]) for d in listed] == [
            ("apply", 7, "Flaky")
        ]
        assert "Flaky" in client.get("/dead").text
        assert api_post(client, "/api/dead/replay", {"queue": "apply"}).status_code == 403
        assert api_post(client, "/api/dead/purge", {}).status_code == 403

        log_in(client, "oleg")
        assert api_post(client, "/api/dead/purge", {}).status_code == 403
        assert api_post(client, "/api/dead/replay", {"queue": "nope"}).status_code == 400
        dry = api_post(client, "/api/dead/replay", {"error_class": "Flaky"}).json()
        assert (dry["dry_run"], dry["matched"], dry["done"]) == (True, 1, 0)
        assert len(client.get("/api/dead").json()["dead"]) == 1  # a dry run changes nothing
        queued = broker.queues["apply"].qsize()  # type: ignore[attr-defined]
        done = api_post(client, "/api/dead/replay", {"error_class": "Flaky", "confirm": "1"})
        assert done.json()["done"] == 1
        assert client.get("/api/dead").json()["dead"] == []
        assert broker.queues["apply"].qsize() == queued + 1  # type: ignore[attr-defined]
        broker.flush("apply")  # type: ignore[attr-defined]

        log_in(client, "anna")
        purged = api_post(client, "/api/dead/purge", {"confirm": "1"}).json()
        assert (purged["matched"], purged["done"]) == (0, 0)
    with Session(get_engine(admin_env.database_url)) as s:
        actions = [(a.username, a.action, a.count) for a in s.exec(select(AuditEntry)).all()
                   if a.action in {"replay", "purge"}]  # fmt: skip
    assert actions == [("oleg", "replay", 1), ("anna", "purge", 0)]
