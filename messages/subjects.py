"""Subject names of exchange.md §2."""

from __future__ import annotations

from contracts.filenames import Party

IN_PREFIX = "oms.in"
OUT_PREFIX = "oms.out"
IN_ALL = f"{IN_PREFIX}.>"
OUT_ALL = f"{OUT_PREFIX}.>"


def inbound(party: Party, kind: str) -> str:
    """``oms.in.<role>.<code>.<kind>``: where a participant publishes a package."""
    return f"{IN_PREFIX}.{party.role}.{party.code}.{kind}"


def protocol(party: Party) -> str:
    """``oms.out.<role>.<code>.protocol``: FLK protocols for a participant."""
    return f"{OUT_PREFIX}.{party.role}.{party.code}.protocol"


def outbound(party: Party, what: str) -> str:
    """``oms.out.<role>.<code>.<what>`` (protocol, registry, daily)."""
    return f"{OUT_PREFIX}.{party.role}.{party.code}.{what}"


def outbound_all(party: Party) -> str:
    """Everything the hub sends one participant."""
    return f"{OUT_PREFIX}.{party.role}.{party.code}.>"


def protocol_msg_id(sha256: str, receipt_seq: int | None = None) -> str:
    """``protocol-<sha>`` for a package's one protocol; a repeat receipt adds its sequence."""
    return f"protocol-{sha256}" if receipt_seq is None else f"protocol-{sha256}-{receipt_seq}"
