"""Concluding a package: its protocol goes into the outbox in the same transaction
that moves the package to its final state, so a protocol is never lost nor doubled.
"""

from __future__ import annotations

import json
from pathlib import PurePath

from sqlmodel import Session

from contracts.filenames import Party
from contracts.protocol import Code, Problem, Protocol, protocol_file_name, render_protocol
from messages import headers as H
from messages.subjects import protocol as protocol_subject
from messages.subjects import protocol_msg_id
from omsx.errors import FileNameError
from omsx.settings import get_settings
from storage.models import Package, Receipt, State
from storage.packages import add_outbox, first_receipt_seq, transition


def package_base(package: Package) -> str:
    """FNAME_I: the package's base name, or a stand-in when it came without a name."""
    stem = PurePath(package.file_name).name
    for ext in (".zip", ".ZIP", ".Zip"):
        stem = stem.removesuffix(ext)
    return stem or f"NONAME_{package.sha256[:16]}"


def reply_party(package: Package) -> Party | None:
    """Who gets the protocol: the participant of the subject the package came on."""
    try:
        return Party.from_token(f"{package.sender_role}.{package.sender_code}")
    except FileNameError:  # a subject that names no valid participant: nowhere to answer
        return None


def queue_protocol(
    session: Session,
    package: Package,
    protocol: Protocol,
    *,
    receipt_seq: int | None,
    repeat: bool = False,
) -> bool:
    """Put the rendered protocol into the outbox (idempotent by its Nats-Msg-Id)."""
    party = reply_party(package)
    if party is None:
        return False
    msg_id = protocol_msg_id(package.sha256, receipt_seq if repeat else None)
    headers = {H.SHA256: package.sha256, H.RESULT: protocol.result}
    if receipt_seq is not None:
        headers[H.RECEIPT] = str(receipt_seq)
    return add_outbox(
        session,
        package_id=package.id,
        subject=protocol_subject(party),
        msg_id=msg_id,
        file_name=protocol_file_name(package_base(package)),
        body=render_protocol(protocol, encoding=get_settings().protocol_encoding),
        receipt_seq=receipt_seq,
        headers=json.dumps(headers),
    )


def conclude(
    session: Session,
    package: Package,
    protocol: Protocol,
    *,
    source: tuple[State, ...],
    target: State,
    stage: str,
    attempt: int = 0,
    duration_ms: int | None = None,
    receipt_seq: int | None = None,
) -> bool:
    """Final transition + protocol in one transaction; False when another run got there first.
    ``receipt_seq``: the package's first receipt, when the caller read it before the
    transaction's first write (on SQLite, a read after it holds the write lock)."""
    assert package.id is not None
    moved = transition(
        session,
        package.id,
        source=source,
        target=target,
        stage=stage,
        outcome=f"{target.value}:{protocol.result}",
        attempt=attempt,
        duration_ms=duration_ms,
        detail=_codes(protocol),
        result=protocol.result,
        n_acc=protocol.n_acc,
        n_rej=protocol.n_rej,
    )
    if moved:
        if receipt_seq is None:
            receipt_seq = first_receipt_seq(session, package.id)
        queue_protocol(session, package, protocol, receipt_seq=receipt_seq)
    return moved


def duplicate_of(
    package: Package, first: Package, receipt: Receipt | None, *, same_bytes: bool
) -> Protocol:
    """The 805 protocol naming the first receipt (no personal data: names, dates, ids)."""
    when = (receipt.received_at if receipt else first.received_at).strftime("%d.%m.%Y %H:%M:%S")
    what = "с тем же содержимым" if same_bytes else "с тем же именем"
    comment = (
        f"Пакет {what} уже получен {when} UTC: {first.file_name or '—'}, "
        f"пакет № {first.id}; данные не применялись повторно"
    )
    return Protocol.rejected(
        package_base(package),
        Problem(
            oshib=str(int(Code.DUPLICATE)),
            im_pol="Oms-File-Name",
            zn_pol=first.file_name or None,
            comment=comment,
        ),
    )


def _codes(protocol: Protocol) -> str:
    codes = sorted({p.oshib for p in protocol.problems})
    return ",".join(codes)[:500]
