"""Who may do what on NATS: the server config ``omsx nats-config`` writes (docs/nats.md).

One NKey user per active participant of the registry, allowed only its own subjects,
and one for the hub, allowed everything::

    keys = KeyStore(auth_dir(settings))
    written = write_config(keys, participants, config_path(settings))

The files under ``<data dir>/nats-auth`` (a 0700 directory): ``hub.nk`` and
``<role>.<code>.nk`` are NKey seeds generated here once (0600), which an operator hands
to the gateways; ``<role>.<code>.pub`` is the public key of a participant that keeps its
own seed; ``nats-server.conf`` holds public keys only. NKeys rather than passwords: the
seed never crosses the wire (the client signs the server's nonce), the config holds
nothing secret, and a participant may bring its own key so that the hub never holds a
secret that could publish as it.

The names below are the conventions the permissions rely on; the gateway client
(:mod:`messages.gateway`) uses them.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys

from contracts.filenames import Party
from contracts.participants import Participant
from messages import subjects
from messages.streams import BUCKET, OBJ_STREAM, OUT_STREAM
from omsx.errors import ConfigError
from omsx.settings import Settings

AUTH_DIR = "nats-auth"
CONFIG_NAME = "nats-server.conf"
HUB = "hub"
RESPONSE_WINDOW = "1h"  # a delivered message may be acknowledged this long after it came


def inbox_prefix(party: Party) -> str:
    """``_INBOX_<role>_<code>``: the only inbox a participant may subscribe to."""
    return f"_INBOX_{party.role}_{party.code}"


def consumer_name(party: Party, label: str) -> str:
    """``gw-<role>-<code>-<label>``: a participant's consumer on OMS_OUT."""
    return f"gw-{party.role}-{party.code}-{label}"


def object_name(party: Party, sha256: str) -> str:
    """``<role>.<code>/<sha256>``: a package a participant puts into the bucket, or one
    the hub puts there for it."""
    return f"{party.token}/{sha256}"


def chunk_namespace(party: Party) -> str:
    """``<role>.<code>``: its objects' chunks are ``$O.OMS_PACKAGES.C.<role>.<code>.<nuid>``."""
    return party.token


def permissions(party: Party) -> dict[str, Any]:
    """What a participant's user may do, and nothing else (docs/nats.md "Permissions")."""
    return {
        "publish": {
            "allow": [
                f"{subjects.IN_PREFIX}.{party.token}.>",
                # push consumers whose filter, checked by the server, is its own subjects
                f"$JS.API.CONSUMER.CREATE.{OUT_STREAM}.*.{subjects.outbound_all(party)}",
                # the object store: write its packages' chunks in its own namespace, and
                # their metas (base64 names: not to be narrowed); read only its own chunks,
                # through a push consumer filtered to that namespace. No meta is read:
                # the hub says where a delivery's chunks lie (docs/nats.md)
                f"$O.{BUCKET}.C.{chunk_namespace(party)}.>",
                f"$O.{BUCKET}.M.*",
                f"$JS.API.CONSUMER.CREATE.{OBJ_STREAM}.*.$O.{BUCKET}.C.{chunk_namespace(party)}.>",
            ]
        },
        "subscribe": {"allow": [f"{inbox_prefix(party)}.>"]},
        # acks of what is pushed to its inbox, and nothing it was not sent
        "allow_responses": {"max": 1, "expires": RESPONSE_WINDOW},
    }


def auth_dir(settings: Settings) -> Path:
    return settings.data_dir / AUTH_DIR


def config_path(settings: Settings) -> Path:
    return auth_dir(settings) / CONFIG_NAME


def hub_seed_path(settings: Settings) -> Path:
    return auth_dir(settings) / f"{HUB}.nk"


class KeyStore:
    """The NKeys of the hub and the participants, one file per holder (``hub``, or a
    participant's ``role.code``) in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def seed_path(self, holder: str) -> Path:
        return self.directory / f"{holder}.nk"

    def own_key_path(self, holder: str) -> Path:
        return self.directory / f"{holder}.pub"

    def public_key(self, holder: str) -> tuple[str, bool]:
        """The holder's public key, and whether its seed was generated just now: a key
        of its own first, else the one of our seed, made on first use."""
        own = self.own_key_path(holder)
        if own.is_file():
            key = own.read_text().strip()
            if not is_user_key(key):
                raise ConfigError(f"{own}: not an NKey user public key (U…)")
            return key, False
        seed = self.seed_path(holder)
        created = not seed.is_file()
        if created:
            self._ensure_dir()
            raw = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
            _write_private(seed, raw + b"\n", exclusive=True)
        return _public_of(seed), created

    def register(self, holder: str, public_key: str) -> None:
        """Use a participant's own public key; the seed we held for it is deleted."""
        if not is_user_key(public_key):
            raise ConfigError(f"{holder}: {public_key!r} is not an NKey user public key (U…)")
        self._ensure_dir()
        _write_private(self.own_key_path(holder), f"{public_key}\n".encode())
        self.seed_path(holder).unlink(missing_ok=True)

    def rotate(self, holder: str) -> None:
        """Forget the holder's seed; :meth:`public_key` makes a new one."""
        if self.own_key_path(holder).is_file():
            raise ConfigError(f"{holder} keeps its own seed: register its new public key")
        self.seed_path(holder).unlink(missing_ok=True)

    def holders(self) -> set[str]:
        """Everyone with a key file here."""
        if not self.directory.is_dir():
            return set()
        return {p.stem for p in self.directory.iterdir() if p.suffix in {".nk", ".pub"}}

    def _ensure_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)


@dataclass(frozen=True)
class Written:
    """What :func:`write_config` did."""

    path: Path
    participants: list[str]  # role.code of every participant user
    generated: list[str]  # holders whose seed was generated by this run
    own_keys: list[str]  # participants that keep their own seed
    dropped: list[str]  # holders with a key here but no user (inactive or unknown)


def write_config(keys: KeyStore, participants: Iterable[Participant], path: Path) -> Written:
    """Write the server config for the active ``participants``: existing keys are kept,
    new participants get a seed, inactive and unknown ones get no user."""
    hub_key, created = keys.public_key(HUB)
    users: list[tuple[str, str, dict[str, Any]]] = [("the hub: everything", hub_key, {})]
    tokens: list[str] = []
    generated = [HUB] if created else []
    for p in sorted((p for p in participants if p.active), key=lambda p: p.party.token):
        token = p.party.token
        key, created = keys.public_key(token)
        users.append((f"{token} {p.name}", key, permissions(p.party)))
        tokens.append(token)
        if created:
            generated.append(token)
    _write_private(path, render(users).encode())
    own = [t for t in tokens if not keys.seed_path(t).is_file()]
    dropped = sorted(keys.holders() - {HUB, *tokens})
    return Written(path, tokens, generated, own, dropped)


def render(users: Iterable[tuple[str, str, dict[str, Any]]]) -> str:
    """The config text: an ``authorization`` block, one user per (comment, key, permissions)."""
    lines = [
        "# nats-server authorization, written by `omsx nats-config` (docs/nats.md).",
        "# Do not edit: the next run rewrites it. Public keys only; seeds stay with their holders.",
        "authorization {",
        "  users = [",
    ]
    for comment, key, perms in users:
        user: dict[str, Any] = {"nkey": key, **({"permissions": perms} if perms else {})}
        body = json.dumps(user, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        lines += [f"    # {comment}", f"    {body}"]
    return "\n".join([*lines, "  ]", "}", ""])


_USER_KEY = re.compile(r"U[A-Z2-7]{55}")


def is_user_key(text: str) -> bool:
    """An NKey user public key: ``U`` + base32 of the key and its CRC-16."""
    if not _USER_KEY.fullmatch(text):
        return False
    raw = base64.b32decode(text + "=" * (-len(text) % 8))
    body, crc = raw[:-2], raw[-2:]
    return body[0] == nkeys.PREFIX_BYTE_USER and bytes(nkeys.crc16_checksum(body)) == crc


def _public_of(seed: Path) -> str:
    try:
        return str(nkeys.from_seed(bytearray(seed.read_bytes().strip())).public_key.decode())
    except nkeys.NkeysError as exc:
        raise ConfigError(f"{seed}: not an NKey seed ({exc})") from exc


def _write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``path`` readable by its owner only; atomically unless ``exclusive``
    (then it must not exist yet)."""
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)
