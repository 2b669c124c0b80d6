"""The person card: look up an ENP, see the person's insurance, attachment, care and
events (issue "Admin" → Persons).

Names, birth date, SNILS and documents are masked for everyone by default. An admin
may unmask one card; each unmasked view is an audit line. The ENP is
the key the operator typed, so it is shown, but it never enters a URL (the look-up is a
POST, so access logs and browser history do not keep it), a log line or an error
message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.params import Body, JSONBody
from litestar.response import Template

from admin.auth import Operator
from storage.browse import PersonCard, person_card
from storage.db import session_scope
from storage.users import Role, audit

ENP = re.compile(r"\d{16}")
MASKED = ("fam", "im", "ot", "dr", "snils", "doctype", "docser", "docnum")


def _mask(field: str, value: object) -> object:
    if value is None or value == "":
        return value
    if field in ("fam", "im", "ot"):
        return str(value)[0] + "***"
    return "***"


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _card(user: Operator, enp: str, unmask: bool) -> dict[str, Any]:
    if not ENP.fullmatch(enp):
        raise ValidationException("an ENP is 16 digits")
    if unmask and not user.may(Role.admin):
        raise PermissionDeniedException("unmasked personal data needs the admin role")
    with session_scope() as session:
        card: PersonCard = person_card(session, enp)
        if not card.known:
            raise NotFoundException("the registry holds nothing on this ENP")
        if unmask:
            audit(session, user.username, "unmask", target=f"person {enp}", count=1)
    # shallow: the row dicts are built afresh by person_card (asdict deep-copies every
    # value, twice the query's time on a person with hundreds of cases)
    out = {f.name: getattr(card, f.name) for f in fields(card)}
    details = out["details"]
    if details is not None:
        out["details"] = {
            k: _plain(v if unmask or k not in MASKED else _mask(k, v)) for k, v in details.items()
        }
    for part in ("versions", "insurance", "attachment", "cases", "events"):
        out[part] = _rows(out[part])
    out["masked"] = not unmask
    return out


@dataclass
class Lookup:
    enp: str = ""
    unmask: bool = False


@post("/api/persons", sync_to_thread=True, status_code=200)
def api_person(request: Request[Operator, Any, Any], data: JSONBody[Lookup]) -> dict[str, Any]:
    """The person card of ``{"enp": …}``; ``"unmask": true`` (admin only, audited) shows
    the personal data. A POST, so the ENP stays out of URLs and access logs."""
    return _card(request.user, data.enp.strip(), data.unmask)


@get("/persons", sync_to_thread=False)
def persons_page(request: Request[Operator, Any, Any]) -> Template:
    """The look-up form."""
    return Template("person.html", context={"user": request.user, "card": None, "enp": ""})


@post("/persons", sync_to_thread=True, status_code=200)
def person_page(
    request: Request[Operator, Any, Any],
    data: Annotated[Lookup, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template:
    """Person card page (form: enp)."""
    enp = data.enp.strip()
    card = _card(request.user, enp, data.unmask)
    return Template("person.html", context={"user": request.user, "card": card, "enp": enp})


ROUTES = [api_person, persons_page, person_page]
