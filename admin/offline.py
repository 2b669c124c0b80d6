"""The offline checker behind ``omsx check``: the hub's FLK without any server.

Funds hand their checking software to МО so files are checked before they are sent.
A ZIP package is checked as the hub would; a bare XML file is packed first (with its
L-file when one lies beside it, under either spelling), so the same code runs. Checks
that need the hub's stored state are listed as skipped.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from contracts.filenames import Party, parse_name, personal_file_names, strip_extension
from contracts.flk import Environment, FlkResult, check_flk
from contracts.package import Subject
from contracts.participants import ParticipantDirectory, load_participants_csv, seed_path
from contracts.rules import load_catalogue
from omsx.errors import ConfigError, ContractError
from omsx.settings import get_settings


@dataclass
class OfflineResult:
    flk: FlkResult
    skipped: list[str]  # rule ids that need the hub's stored state


def package_bytes(path: Path) -> tuple[str, bytes]:
    """(package file name, ZIP bytes) for a ZIP or a bare XML file."""
    if path.suffix.lower() == ".zip":
        return path.name, path.read_bytes()
    base = strip_extension(path.name)
    members = {path.name: path.read_bytes()}
    try:
        name = parse_name(path.name)
    except ContractError:
        name = None
    if name is not None and name.kind == "registry":
        for candidate in personal_file_names(name):
            for found in path.parent.glob("*"):
                if strip_extension(found.name).upper() == candidate.upper():
                    members[found.name] = found.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return f"{base}.zip", buf.getvalue()


def environment(
    region: str,
    *,
    structure_only: bool,
    participants_csv: Path | None = None,
    today: date | None = None,
) -> Environment:
    from contracts.refs import Directories

    source = participants_csv or seed_path(region)
    if source is None:
        raise ConfigError(f"no participant registry for region {region}: pass --participants")
    return Environment(
        participants=ParticipantDirectory(load_participants_csv(source)),
        refs=Directories.seed(),
        region=region,
        today=today or get_settings().today(),
        structure_only=structure_only,
    )


def check_offline(path: Path, *, party: Party, kind: str | None, env: Environment) -> OfflineResult:
    file_name, data = package_bytes(path)
    if kind is None:
        try:
            kind = parse_name(file_name).kind
        except ContractError:
            kind = "registry"
    subject = Subject.parse(f"oms.in.{party.role}.{party.code}.{kind}")
    flk = check_flk(data, file_name=file_name, subject=subject, env=env)
    skipped = sorted(rule.id for rule in load_catalogue() if rule.stateful)
    return OfflineResult(flk, skipped)
