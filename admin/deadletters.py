"""The admin's dead letters and quarantined packages: the list (filter by queue, actor,
reason class, error class, package), replay — one, or every one matching the filter
after a dry-run count — for operators, purge for admins. :func:`workers.deadletters.act`
does the work, for ``omsx dlq`` too: a letter is replayed once however often the
button is pressed, and every action is audited (who, when, what filter, how many)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import redis
from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import Body, FromQuery, JSONBody
from litestar.response import Template

from admin.auth import Operator, requires
from omsx.settings import get_settings
from storage.deadletters import REASONS
from storage.users import Role
from workers.broker import QUEUES, broker
from workers.deadletters import DeadFilter, act, listing


@dataclass
class DeadForm:
    """A filter, and what to do with what it matches (forms and the JSON API alike)."""

    queue: str = ""
    actor: str = ""
    reason: str = ""
    error_class: str = ""
    package_id: str = ""
    message_id: str = ""  # one letter only
    confirm: str = ""  # empty: a dry run that only counts

    def where(self) -> DeadFilter:
        if self.queue and self.queue not in QUEUES:
            raise ValidationException(f"queue: {self.queue!r} is none of {', '.join(QUEUES)}")
        if self.reason and self.reason not in REASONS:
            raise ValidationException(f"reason: {self.reason!r} is none of {', '.join(REASONS)}")
        if self.package_id and not self.package_id.isdigit():
            raise ValidationException(f"package_id: {self.package_id!r} is not a number")
        return DeadFilter(self.queue or None, self.actor or None, self.reason or None,
                          self.error_class or None,
                          int(self.package_id) if self.package_id else None,
                          self.message_id or None)  # fmt: skip


def _client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=5)


def _act(request: Request[Operator, Any, Any], form: DeadForm, action: str) -> dict[str, Any]:
    client = _client()
    try:
        done = act(action, form.where(), who=request.user.username, confirm=bool(form.confirm),
                   client=client, broker=broker)  # fmt: skip
    finally:
        client.close()
    return done.as_dict()


def _listing(form: DeadForm) -> list[dict[str, Any]]:
    client = _client()
    try:
        return [letter.as_dict() for letter in listing(form.where(), client)]
    finally:
        client.close()


def provide_form(
    *,
    queue: FromQuery[str] = "",
    actor: FromQuery[str] = "",
    reason: FromQuery[str] = "",
    error_class: FromQuery[str] = "",
    package_id: FromQuery[str] = "",
) -> DeadForm:
    """The filter of the dead-letter page and its API, from the query string."""
    return DeadForm(queue, actor, reason, error_class, package_id)


QUERY = {"form": Provide(provide_form, sync_to_thread=False)}


def _page(request: Request[Operator, Any, Any], form: DeadForm,
          result: dict[str, Any] | None) -> Template:  # fmt: skip
    return Template("dead.html", context={"user": request.user, "form": form, "queues": QUEUES,
                                          "reasons": REASONS, "dead": _listing(form),
                                          "result": result})  # fmt: skip


@get("/api/dead", sync_to_thread=True, dependencies=QUERY)
def api_dead(form: NamedDependency[DeadForm]) -> dict[str, Any]:
    """Dead letters and quarantined packages matching the filter, oldest first."""
    return {"dead": _listing(form)}


@post("/api/dead/replay", sync_to_thread=True, guards=[requires(Role.operator)], status_code=200)
def api_dead_replay(
    request: Request[Operator, Any, Any], data: JSONBody[DeadForm]
) -> dict[str, Any]:
    """Without ``confirm``: how many would be replayed; with it: replay them."""
    return _act(request, data, "replay")


@post("/api/dead/purge", sync_to_thread=True, guards=[requires(Role.admin)], status_code=200)
def api_dead_purge(
    request: Request[Operator, Any, Any], data: JSONBody[DeadForm]
) -> dict[str, Any]:
    """Purge the matching dead letters (admin; without confirm: a count)."""
    return _act(request, data, "purge")


@get("/dead", sync_to_thread=True, dependencies=QUERY)
def dead_page(request: Request[Operator, Any, Any], form: NamedDependency[DeadForm]) -> Template:
    """Dead letters page."""
    return _page(request, form, None)


Form = Annotated[DeadForm, Body(media_type=RequestEncodingType.URL_ENCODED)]


@post("/dead/replay", sync_to_thread=True, guards=[requires(Role.operator)], status_code=200)
def dead_replay(request: Request[Operator, Any, Any], data: Form) -> Template:
    """Replay the matching dead letters (form)."""
    return _page(request, data, _act(request, data, "replay"))


@post("/dead/purge", sync_to_thread=True, guards=[requires(Role.admin)], status_code=200)
def dead_purge(request: Request[Operator, Any, Any], data: Form) -> Template:
    """Purge the matching dead letters (form)."""
    return _page(request, data, _act(request, data, "purge"))


ROUTES = [api_dead, api_dead_replay, api_dead_purge, dead_page, dead_replay, dead_purge]
