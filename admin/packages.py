"""The admin's package pages and their API: search (keyset paging) and one package's
detail — timeline, protocol (rendered and raw), what it sent and touched, and its
original bytes (admin only, audited: they hold personal data)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from admin.auth import Operator, requires
from contracts.protocol import parse_protocol
from omsx.errors import OmsxError
from omsx.settings import get_settings
from storage.blobs import BlobStore
from storage.browse import PAGE, PackageFilter, first_protocol, package_detail, search_packages
from storage.db import session_scope
from storage.models import Package, State
from storage.users import Role, audit

STATES = [s.value for s in State]


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationException(f"{name}: {value!r} is not a date YYYY-MM-DD") from exc


def provide_filter(
    *,
    participant: FromQuery[str | None] = None,
    kind: FromQuery[str | None] = None,
    period: FromQuery[str | None] = None,
    status: Annotated[str | None, QueryParameter(name="state")] = None,  # `state` is reserved
    file_name: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> PackageFilter:
    """The search filter of the package page and its API, from the query string."""
    if status and status not in STATES:
        raise ValidationException(f"state: {status!r} is none of {', '.join(STATES)}")
    return PackageFilter(
        participant or None,
        kind or None,
        period or None,
        status or None,
        file_name or None,
        _date(since, "since"),
        _date(until, "until"),
        get_settings().zone,
    )


FILTER = {"where": Provide(provide_filter, sync_to_thread=False)}


def _search(where: PackageFilter, before: int | None, limit: int) -> dict[str, Any]:
    with session_scope() as session:
        page = search_packages(session, where, before=before, limit=limit)
    rows = [
        {**r, "received_at": r["received_at"].isoformat(timespec="seconds"),
         "updated_at": r["updated_at"].isoformat(timespec="seconds")}
        for r in page.rows
    ]  # fmt: skip
    return {"packages": rows, "next_before": page.next_before,
            "filter": {k: (v.isoformat() if isinstance(v, date) else v)
                       for k, v in asdict(where).items() if k != "zone"}}  # fmt: skip


@get("/api/packages", sync_to_thread=True, dependencies=FILTER)
def api_packages(
    where: NamedDependency[PackageFilter],
    before: FromQuery[int | None] = None,
    limit: FromQuery[int] = PAGE,
) -> dict[str, Any]:
    """Packages newest first; ``next_before`` pages on."""
    return _search(where, before, limit)


@get("/packages", sync_to_thread=True, dependencies=FILTER)
def packages_page(
    request: Request[Operator, Any, Any],
    where: NamedDependency[PackageFilter],
    before: FromQuery[int | None] = None,
) -> Template:
    """Package search page."""
    found = _search(where, before, PAGE)
    query = {k: v for k, v in found["filter"].items() if v}
    context = {"user": request.user, "found": found, "query": query, "states": STATES}
    return Template("packages.html", context=context)


def _detail(package_id: int) -> dict[str, Any]:
    with session_scope() as session:
        found = package_detail(session, package_id)
    if found is None:
        raise NotFoundException(f"no package {package_id}")
    p = found.package
    protocol = None
    if found.protocol is not None:
        try:
            parsed = parse_protocol(found.protocol.body)
            protocol = {"file_name": found.protocol.file_name, "result": parsed.result,
                        "n_acc": parsed.n_acc, "n_rej": parsed.n_rej,
                        "problems": [asdict(x) for x in parsed.problems]}  # fmt: skip
        except OmsxError as exc:
            protocol = {"file_name": found.protocol.file_name, "error": str(exc)}
    return {
        "package": {
            "id": p.id, "file_name": p.file_name, "subject": p.subject,
            "sender": f"{p.sender_role}.{p.sender_code}", "kind": p.kind,
            "file_type": p.file_type, "period": p.period, "size": p.size, "sha256": p.sha256,
            "state": p.state, "result": p.result, "records": p.records, "n_acc": p.n_acc,
            "n_rej": p.n_rej, "attempts": p.attempts, "error_class": p.error_class,
            "received_at": p.received_at.isoformat(timespec="seconds"),
            "updated_at": p.updated_at.isoformat(timespec="seconds"),
        },
        "timeline": [
            {"at": e.at.isoformat(timespec="milliseconds"), "stage": e.stage,
             "outcome": e.outcome, "worker": e.worker, "attempt": e.attempt,
             "duration_ms": e.duration_ms, "detail": e.detail}
            for e in found.timeline
        ],
        "receipts": [
            {"stream_seq": r.stream_seq, "duplicate": r.duplicate,
             "received_at": r.received_at.isoformat(timespec="seconds")}
            for r in found.receipts
        ],
        "protocol": protocol,
        "outbox": [
            {**o, "created_at": o["created_at"].isoformat(timespec="seconds"),
             "published_at": o["published_at"].isoformat(timespec="seconds")
             if o["published_at"] else None}
            for o in found.outbox
        ],
        "invoice": None if found.invoice is None else {
            "id": found.invoice.id, "code_mo": found.invoice.code_mo,
            "payer": found.invoice.payer,
            "period": f"{found.invoice.year}-{found.invoice.month:02d}",
            "cases": found.invoice.cases, "accepted": found.invoice.accepted,
            "refused": found.invoice.refused,
        },
    }  # fmt: skip


@get("/api/packages/{package_id:int}", sync_to_thread=True)
def api_package(package_id: FromPath[int]) -> dict[str, Any]:
    """One package: timeline, protocol, outbox, receipts, invoice."""
    return _detail(package_id)


@get("/packages/{package_id:int}", sync_to_thread=True)
def package_page(request: Request[Operator, Any, Any], package_id: FromPath[int]) -> Template:
    """Package page: timeline, protocol, outbox, receipts, invoice."""
    return Template("package.html", context={"user": request.user, "d": _detail(package_id)})


@get("/packages/{package_id:int}/protocol.xml", sync_to_thread=True)
def package_protocol(package_id: FromPath[int]) -> Response[bytes]:
    """The protocol as the participant received it (it holds no personal data)."""
    with session_scope() as session:
        protocol = first_protocol(session, package_id)
    if protocol is None:
        raise NotFoundException(f"no protocol for package {package_id}")
    return Response(protocol.body, media_type="application/xml",
                    headers={"Content-Disposition":
                             f'inline; filename="{protocol.file_name}"'})  # fmt: skip


@get("/packages/{package_id:int}/download", sync_to_thread=True, guards=[requires(Role.admin)])
def package_download(
    request: Request[Operator, Any, Any], package_id: FromPath[int]
) -> Response[bytes]:
    """The package's original bytes: personal data, so admins only, and audited."""
    with session_scope() as session:
        package = session.get(Package, package_id)
        if package is None:
            raise NotFoundException(f"no package {package_id}")
        path = BlobStore(get_settings().blobs).path(package.sha256)
        if not path.exists():
            raise NotFoundException(f"the bytes of package {package_id} are no longer stored")
        audit(session, request.user.username, "download", target=package.file_name, count=1)
    name = package.file_name or f"package-{package_id}.zip"
    return Response(path.read_bytes(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


ROUTES = [api_packages, packages_page, api_package, package_page, package_protocol,
          package_download]  # fmt: skip
