"""The error tree of omsx.

::

    OmsxError
    ├── ConfigError                  settings that cannot work
    ├── ContractError                a participant's package breaks the contract (permanent;
    │   ├── PackageRejected          answered with a protocol, never retried)
    │   └── FileNameError
    ├── TransientError               infrastructure is down or slow (retried with backoff)
    │   ├── StorageUnavailable       database or blob store
    │   ├── BrokerUnavailable        Redis
    │   ├── TransportUnavailable     NATS
    │   └── Busy                     another package of the same scope is being applied
    └── NotFound                     an id that does not exist

Messages never carry personal data: ids, codes and file names only.
"""

from __future__ import annotations


class OmsxError(Exception):
    """Root of every error raised by omsx."""


class ConfigError(OmsxError):
    """The settings cannot work (a bad URL, an unknown region)."""


class ContractError(OmsxError):
    """A package or file breaks the exchange contract; answered, never retried."""


class FileNameError(ContractError):
    """A package or file name does not follow exchange.md §3."""


class PackageRejected(ContractError):
    """A package-level check failed; ``problem`` is the protocol line."""

    def __init__(self, problem: object) -> None:
        super().__init__(str(getattr(problem, "comment", problem)))
        self.problem = problem


class TransientError(OmsxError):
    """A dependency is unavailable; the operation is retried with backoff."""


class StorageUnavailable(TransientError):
    """The database or the blob store cannot be reached."""


class BrokerUnavailable(TransientError):
    """Redis (the Dramatiq broker) cannot be reached."""


class TransportUnavailable(TransientError):
    """NATS cannot be reached or did not acknowledge in time."""


class Busy(TransientError):
    """Another package holds the apply lease of the same scope (an МО's registers, the
    erz, the attach); the message is retried after it finishes."""


class NotFound(OmsxError):
    """An id (package, person, dead letter) that does not exist."""
