"""Logging in to the admin through Litestar's test client (the tests of its pages)."""

from __future__ import annotations

import re

from litestar.testing import TestClient

PASSWORD = "correct horse battery"


def csrf_of(page: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(client: TestClient, user: str, password: str = PASSWORD, next_: str = "/") -> object:  # type: ignore[type-arg]
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": user, "password": password, "next": next_,
                                       "_csrf_token": token}, follow_redirects=False)  # fmt: skip


def api_post(client: TestClient, path: str, body: dict[str, object]) -> object:  # type: ignore[type-arg]
    """A JSON POST as the admin's scripts send it: with the CSRF cookie's token."""
    return client.post(
        path, json=body, headers={"x-csrftoken": client.cookies.get("csrftoken", "")}
    )
