"""``omsx nats-config``: the NATS users of the participants and the hub (docs/nats.md).

Also what the other commands need of it: ``omsx up`` rewrites the config from the
registry (:func:`prepare_embedded`), ``omsx serve nats`` writes one when there is none
(:func:`ensure_config`), and ``omsx publish --as`` finds a participant's seed here
(:func:`gateway_credentials`).
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from omsx.errors import ConfigError, OmsxError
from omsx.settings import Settings, get_settings

if TYPE_CHECKING:  # imported when used: every omsx command loads this module
    from contracts.filenames import Party
    from contracts.participants import ParticipantDirectory
    from messages.natsconfig import KeyStore, Written


def registry(settings: Settings, csv: Path | None = None) -> ParticipantDirectory:
    """The participants: ``csv``, else the hub's database, else the shipped seed."""
    from contracts.participants import ParticipantDirectory, seed_path

    if csv is not None:
        return ParticipantDirectory.from_csv(csv)
    stored = _stored_registry(settings)
    if stored is not None and len(stored):
        return stored
    seed = seed_path(settings.region)
    if seed is None:
        raise ConfigError("no participant registry: omsx refs load, or --participants CSV")
    return ParticipantDirectory.from_csv(seed)


def _stored_registry(settings: Settings) -> ParticipantDirectory | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    if settings.is_sqlite and not Path(make_url(settings.database_url).database or "").is_file():
        return None  # not created yet; do not create it here
    from storage.db import session_scope
    from storage.refs import directory

    try:
        with session_scope() as session:
            return directory(session)
    except (OmsxError, SQLAlchemyError):  # no schema yet, or no database server
        return None


def generate(settings: Settings, csv: Path | None = None) -> Written:
    """Write the config for the registry's active participants (keys kept, new ones made)."""
    from messages.natsconfig import KeyStore, auth_dir, config_path, write_config

    keys = KeyStore(auth_dir(settings))
    return write_config(keys, registry(settings, csv), config_path(settings))


def ensure_config(settings: Settings) -> Path:
    """The config of the embedded server; written first when there is none."""
    from messages.natsconfig import config_path

    path = config_path(settings)
    return path if path.is_file() else generate(settings).path


def prepare_embedded(settings: Settings) -> None:
    """For ``omsx up``: rewrite the config from the registry, say where the seeds are."""
    if not settings.nats_auth:
        click.echo("nats: no authentication (OMSX_NATS_AUTH=false)")
        return
    written = generate(settings)
    click.echo(
        f"nats: {len(written.participants)} participant users in {written.path} "
        f"(gateways' seeds beside it; omsx nats-config --export DIR to hand them out)"
    )


def gateway_credentials(
    settings: Settings,
    party: Party,
    *,
    user: str | None = None,
    password: str | None = None,
    nkey: Path | None = None,
) -> dict[str, Any]:
    """How a gateway run here connects: ``nkey`` (a seed file), ``user``/``password``, or
    the participant's seed under the data dir when the hub holds one; else nothing."""
    from messages.natsconfig import KeyStore, auth_dir

    if nkey is not None:
        return {"nkeys_seed": str(nkey)}
    if user:
        return {"user": user, "password": password or ""}
    local = KeyStore(auth_dir(settings)).seed_path(party.token)
    return {"nkeys_seed": str(local)} if local.is_file() else {}


def reload_server(settings: Settings) -> int | None:
    """SIGHUP the embedded nats-server (it rereads its config); its pid, or None when none runs."""
    from omsx.embedded import nats_pid_file

    try:
        pid = int(nats_pid_file(settings).read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if b"nats-server" not in command:  # a stale pid file: the number is someone else's now
        return None
    os.kill(pid, signal.SIGHUP)
    return pid


def _holder(value: str) -> str:
    from contracts.filenames import Party
    from messages.natsconfig import HUB

    if value == HUB:
        return value
    try:
        return Party.from_token(value).token
    except OmsxError as exc:
        raise click.BadParameter(str(exc)) from exc


def _some(holders: list[str], shown: int = 8) -> str:
    more = f" and {len(holders) - shown} more" if len(holders) > shown else ""
    return ", ".join(holders[:shown]) + more


def _export(keys: KeyStore, tokens: list[str], folder: Path) -> int:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    n = 0
    for token in tokens:
        seed = keys.seed_path(token)
        if seed.is_file():
            target = folder / seed.name
            target.unlink(missing_ok=True)
            shutil.copyfile(seed, target)
            target.chmod(0o600)
            n += 1
    return n


@click.command("nats-config")
@click.option(
    "--participants",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="registry CSV (default: the hub's database, else the shipped seed)",
)
@click.option(
    "--public-key",
    "own_keys",
    multiple=True,
    metavar="ROLE.CODE=KEY",
    help="a participant's own NKey public key (it keeps its seed; the one held here is deleted)",
)
@click.option("--rotate", multiple=True, metavar="ROLE.CODE|hub", help="replace this seed")
@click.option(
    "--export",
    "export_to",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="copy the seeds held here for active participants into this folder (0600)",
)
@click.option("--reload/--no-reload", default=True, show_default=True,
              help="tell a running embedded nats-server to reread the config")  # fmt: skip
def nats_config(
    participants: Path | None,
    own_keys: tuple[str, ...],
    rotate: tuple[str, ...],
    export_to: Path | None,
    reload: bool,
) -> None:
    """Write the NATS server config: one NKey user per active participant, allowed only
    its own subjects, and the hub's user. Keys are kept from run to run; new participants
    get one, inactive ones lose their user. Seeds (<data dir>/nats-auth/ROLE.CODE.nk) go
    to the gateways through an operator; the config holds public keys only."""
    from messages.natsconfig import HUB, KeyStore, auth_dir

    settings = get_settings()
    keys = KeyStore(auth_dir(settings))
    try:
        for pair in own_keys:
            holder, _, key = pair.partition("=")
            keys.register(_holder(holder), key.strip())
        for holder in rotate:
            keys.rotate(_holder(holder))
        written = generate(settings, participants)
    except OmsxError as exc:
        raise click.ClickException(str(exc)) from exc
    own = f", {len(written.own_keys)} with their own key" if written.own_keys else ""
    click.echo(f"{written.path}: the hub and {len(written.participants)} participants{own}")
    if written.generated:
        click.echo(f"new seeds: {_some(written.generated)}")
    if HUB in rotate:
        click.echo("the hub's processes keep the old key until they are restarted: restart them")
    if written.dropped:
        click.echo(f"no user (inactive or unknown): {_some(written.dropped)}")
    if export_to is not None:
        n = _export(keys, written.participants, export_to)
        click.echo(f"{n} seeds copied to {export_to}: hand each to its participant only")
    pid = reload_server(settings) if reload else None
    if pid is not None:
        click.echo(f"the running nats-server (pid {pid}) rereads the config")
