"""The ``omsx`` command line: operators' and scripts' tools, and the processes.

Each command is a thin shell over the same code the admin and the workers use.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from contracts.filenames import Party
    from contracts.protocol import Protocol
    from messages.gateway import Received

from omsx.errors import NotFound, OmsxError
from omsx.logs import configure_logging
from omsx.settings import get_settings

EXIT_BY_RESULT = {"A": 0, "P": 1, "R": 2}
EXIT_TRANSPORT = 3
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@click.group()
def main() -> None:
    """omsx — the regional ОМС exchange hub."""
    configure_logging()  # logs go to stderr; stdout carries the commands' output


# ---------------------------------------------------------------- processes


@main.command()
@click.option(
    "--procfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=PROJECT_ROOT / "Procfile",
    show_default=True,
)
def up(procfile: Path) -> None:
    """Prepare the database and start every Procfile process (honcho)."""
    from admin.natscli import prepare_embedded

    _prepare_database()
    _demo_login()
    prepare_embedded(get_settings())  # the NATS users of the registry's participants
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    honcho = shutil.which("honcho") or str(Path(bin_dir) / "honcho")
    sys.stdout.flush()  # the demo login must not stay in a buffer execv discards
    os.execv(honcho, [honcho, "start", "-f", str(procfile), "-d", str(Path.cwd())])  # noqa: S606


@main.command()
@click.argument("server", type=click.Choice(["nats", "redis"]))
def serve(server: str) -> None:
    """Run an embedded server from its wheel in the foreground (data under OMSX_DATA_DIR)."""
    from admin.natscli import ensure_config
    from omsx import embedded

    settings = get_settings()
    if server == "nats":
        config = ensure_config(settings) if settings.nats_auth else None
        proc = embedded.nats_from_settings(settings, config_file=config)
    else:
        proc = embedded.valkey_from_settings(settings)
    embedded.run_foreground(proc)


@main.command()
def ingest() -> None:
    """The durable pull consumer on OMS_IN."""
    configure_logging()
    from messages.ingest import main as run_ingest

    settings = get_settings()

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_ingest(settings, stop)

    asyncio.run(_run())


@main.command()
@click.option("--processes", "-p", type=int, default=None, help="default: OMSX_WORKER_PROCESSES")
@click.option("--threads", "-t", type=int, default=None, help="default: OMSX_WORKER_THREADS")
def worker(processes: int | None, threads: int | None) -> None:
    """Dramatiq worker processes for every actor."""
    settings = get_settings()
    dramatiq = shutil.which("dramatiq") or str(Path(sys.executable).parent / "dramatiq")
    argv = [
        dramatiq,
        "workers.actors",
        "--processes",
        str(processes or settings.worker_processes),
        "--threads",
        str(threads or settings.worker_threads),
    ]
    os.execv(dramatiq, argv)  # noqa: S606


@main.command()
def scheduler() -> None:
    """Periodic jobs (the sweeper), one active instance (Redis lock)."""
    from workers.scheduler import run

    run()


@main.command()
def admin() -> None:
    """The admin web app."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "admin.app:create_app",
        factory=True,
        host=settings.admin_host,
        port=settings.admin_port,
        log_config=None,
    )


# ---------------------------------------------------------------- gateway


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--as", "as_", required=True, metavar="ROLE.CODE", help="e.g. mo.640001")
@click.option("--kind", default=None, help="subject kind; default from the file name")
@click.option("--wait/--no-wait", default=False, help="wait for and print the protocols")
@click.option("--timeout", type=float, default=60.0, show_default=True)
@click.option("--raw", is_flag=True, help="print the protocol XML as received")
@click.option("--url", default=None, help="NATS URL; default OMSX_NATS_URL")
@click.option("--user", envvar="OMSX_GATEWAY_USER", default=None, help="the gateway's NATS user")
@click.option("--password", envvar="OMSX_GATEWAY_PASSWORD", default=None, hide_input=True)
@click.option(
    "--nkey",
    envvar="OMSX_GATEWAY_NKEY",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the gateway's NKey seed file (default: the one under the data dir, if the hub holds it)",
)
def publish(
    paths: tuple[Path, ...],
    as_: str,
    kind: str | None,
    wait: bool,
    timeout: float,
    raw: bool,
    url: str | None,
    user: str | None,
    password: str | None,
    nkey: Path | None,
) -> None:
    """Publish packages (files, or every .zip in a folder) as a participant's gateway."""
    from admin.natscli import gateway_credentials
    from contracts.filenames import Party

    try:
        party = Party.from_token(as_)
    except OmsxError as exc:
        raise click.BadParameter(str(exc), param_hint="--as") from exc
    files = _expand(paths)
    code = asyncio.run(
        _publish(
            files,
            party,
            kind=kind,
            wait=wait,
            timeout=timeout,
            raw=raw,
            url=url or get_settings().nats_url,
            auth=gateway_credentials(
                get_settings(), party, user=user, password=password, nkey=nkey
            ),
        )
    )
    sys.exit(code)


def _expand(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files.extend(
            sorted(q for q in p.iterdir() if q.suffix.lower() == ".zip") if p.is_dir() else [p]
        )
    return files


async def _publish(
    files: list[Path],
    party: Party,
    *,
    kind: str | None,
    wait: bool,
    timeout: float,
    raw: bool,
    url: str,
    auth: dict[str, Any],
) -> int:
    from messages.gateway import Gateway

    try:
        gw = await Gateway.connect(url, party, **auth)
    except OmsxError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_TRANSPORT
    async with gw:
        sent = []
        for f in files:
            try:
                p = await gw.publish_file(f, kind=kind)
            except OmsxError as exc:
                click.echo(f"error: {f.name}: {exc}", err=True)
                return EXIT_TRANSPORT
            note = " (JetStream: repeat inside the window)" if p.duplicate else ""
            click.echo(
                f"published {p.file_name} -> {p.subject} seq={p.seq}"
                f"{' via object store' if p.via_object else ''}{note}"
            )
            sent.append(p)
        if not wait:
            return 0
        try:
            got = await gw.wait_protocols(sent, timeout=timeout)
        except OmsxError as exc:
            click.echo(f"error: {exc}", err=True)
            return EXIT_TRANSPORT
    worst = 0
    for p in sent:
        item = got[p.seq]
        click.echo(item.raw.decode(_xml_encoding(item.raw)) if raw else format_protocol(item))
        worst = max(worst, EXIT_BY_RESULT.get(item.protocol.result, 2))
    return worst


def _xml_encoding(data: bytes) -> str:
    head = data[:100].lower()
    return "cp1251" if b"windows-1251" in head else "utf-8"


def format_protocol(item: Received) -> str:
    """A protocol for people: one summary line and one line per problem."""
    return format_protocol_lines(item.file_name, item.protocol)


def format_protocol_lines(file_name: str, protocol: Protocol) -> str:
    lines = [
        f"{file_name}  RESULT {protocol.result}  "
        f"принято {protocol.n_acc}  отказано {protocol.n_rej}  ошибок {len(protocol.problems)}"
    ]
    for pr in protocol.problems:
        where = " ".join(
            f"{k}={v}"
            for k, v in (
                ("N_ZAP", pr.n_zap),
                ("IDCASE", pr.idcase),
                ("SL_ID", pr.sl_id),
                ("IDSERV", pr.idserv),
                ("ID_PAC", pr.id_pac),
            )
            if v
        )
        field = "/".join(x for x in (pr.bas_el, pr.im_pol) if x)
        lines.append(f"  {pr.oshib:<13} {field:<24} {where}  {pr.comment}".rstrip())
    return "\n".join(lines)


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_", required=True, metavar="ROLE.CODE", help="the sender, e.g. mo.640001")
@click.option("--kind", default=None, help="package kind; default from the file name")
@click.option("--structure-only", is_flag=True, help="only the XSD structure, no rules")
@click.option(
    "--participants",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="participant registry CSV (default: the shipped seed)",
)
@click.option("--raw", is_flag=True, help="print the protocol XML")
def check(
    path: Path,
    as_: str,
    kind: str | None,
    structure_only: bool,
    participants: Path | None,
    raw: bool,
) -> None:
    """Check a package (ZIP) or a bare XML file offline, as the hub would; print the protocol.

    Exit code: 0 accepted (A), 1 partially (P), 2 rejected (R).
    """
    from admin.offline import check_offline, environment
    from contracts.filenames import Party
    from contracts.protocol import render_protocol

    try:
        party = Party.from_token(as_)
        env = environment(
            get_settings().region, structure_only=structure_only, participants_csv=participants
        )
    except OmsxError as exc:
        raise click.ClickException(str(exc)) from exc
    result = check_offline(path, party=party, kind=kind, env=env)
    protocol = result.flk.protocol
    if raw:
        click.echo(render_protocol(protocol).decode())
    else:
        click.echo(format_protocol_lines(f"V{protocol.fname_i}.xml", protocol))
    if structure_only:
        click.echo("проверены только структура и ключи (--structure-only): правила не применялись")
    if result.skipped:
        click.echo("не выполнены (нужны данные хаба): " + ", ".join(result.skipped))
    sys.exit(EXIT_BY_RESULT.get(protocol.result, 2))


@main.group()
def demo() -> None:
    """Synthetic data for demos, tests and benchmarks."""


@demo.command("generate")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--mo", type=int, default=3, show_default=True, help="how many МО")
@click.option("--smo", type=int, default=2, show_default=True, help="how many СМО")
@click.option("--cases", type=int, default=100, show_default=True, help="cases per register")
@click.option(
    "--defects",
    type=float,
    default=0.0,
    show_default=True,
    help="share of records with a planted defect (0..1)",
)
@click.option("--seed", type=int, default=0, show_default=True)
def demo_generate(out: Path, mo: int, smo: int, cases: int, defects: float, seed: int) -> None:
    """Write realistic zipped packages of every kind and a manifest of planted defects."""
    from contracts.generator import GeneratorConfig, generate

    manifest = generate(
        out,
        GeneratorConfig(
            region=get_settings().region, mo=mo, smo=smo, cases=cases, defects=defects, seed=seed
        ),
    )
    n_defects = sum(len(p.defects) for p in manifest.packages)
    click.echo(
        f"{len(manifest.packages)} packages, {manifest.people} people, "
        f"{n_defects} planted defects → {out} (manifest.json)"
    )


@demo.command("publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--timeout", type=float, default=120.0, show_default=True)
@click.option("--url", default=None, help="NATS URL; default OMSX_NATS_URL")
def demo_publish(folder: Path, timeout: float, url: str | None) -> None:
    """Publish a generated folder as each package's sender would; print every protocol.

    With ``make run`` up: ``omsx demo generate --out var/demo`` then
    ``omsx demo publish var/demo``.
    """
    from contracts.generator.model import Manifest

    try:
        manifest = Manifest.load(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise click.ClickException(f"{folder}: no readable manifest.json ({exc})") from exc
    results = asyncio.run(_demo_publish(manifest, url or get_settings().nats_url, timeout))
    for line in results:
        click.echo(line)


def demo_phase(kind: str, file_name: str) -> int:
    """When a demo package goes out: the registry of persons first (the erz that
    insures, attach), then the month's erz changes, then the care and the referrals
    (hosp I01), then what refers to them — expert controls of accepted cases,
    cancellations and admissions (I03–I05) — then discharges (I06). Each phase goes
    after the previous one is answered, as in a live region where these arrive days
    apart (a link to what the hub does not hold yet is refused: 007F.64.0002)."""
    from contracts.filenames import parse_name

    if kind == "erz":
        return 0 if parse_name(file_name).number == 1 else 1
    if kind == "hosp":
        return {"I03": 3, "I04": 3, "I05": 3, "I06": 4}.get(parse_name(file_name).type, 2)
    return {"attach": 0, "schedule": 0, "expert": 3}.get(kind, 2)


async def _demo_publish(manifest: Any, url: str, timeout: float) -> list[str]:
    from admin.natscli import gateway_credentials
    from contracts.filenames import Party
    from messages.gateway import Gateway

    gateways: dict[str, Gateway] = {}
    lines = []
    phases: dict[int, list[Any]] = {}
    for package in manifest.packages:
        phases.setdefault(demo_phase(package.kind, package.path.name), []).append(package)
    try:
        for _phase, packages in sorted(phases.items()):
            sent = []
            for package in packages:
                if package.sender not in gateways:
                    party = Party.from_token(package.sender)  # its seed under the data dir
                    auth = gateway_credentials(get_settings(), party)
                    gateways[package.sender] = await Gateway.connect(url, party, **auth)
                gw = gateways[package.sender]
                sent.append((package, gw, await gw.publish_file(package.path, kind=package.kind)))
            for package, gw, published in sent:
                got = await gw.wait_protocol(published, timeout=timeout)
                p = got.protocol
                lines.append(
                    f"{package.sender:<14} {package.path.name:<34} RESULT {p.result} "
                    f"принято {p.n_acc} отказано {p.n_rej} (заложено дефектов: "
                    f"{len(package.defects)})"
                )
        return lines
    except OmsxError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        for gw in gateways.values():
            await gw.close()


# ---------------------------------------------------------------- database & references


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest (idempotent)."""
    _prepare_database(seed=False)
    click.echo("database is at the newest revision")


def _prepare_database(seed: bool = True) -> None:
    from storage.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    if seed:
        _load_seed_if_empty()


def _load_seed_if_empty() -> None:
    from sqlmodel import select

    from contracts.participants import load_participants_csv, seed_path
    from storage.db import session_scope
    from storage.models import Participant
    from storage.refs import upsert_participants

    path = seed_path(get_settings().region)
    with session_scope() as session:
        if path is None or session.exec(select(Participant)).first() is not None:
            return
        n = upsert_participants(session, load_participants_csv(path))
    click.echo(f"loaded {n} participants from the shipped seed")


@main.group()
def refs() -> None:
    """Reference data."""


@refs.command("load")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", is_flag=True, help="load the shipped participant seed for OMSX_REGION")
def refs_load(files: tuple[Path, ...], seed: bool) -> None:
    """Load reference files: federal directories (V006.xml, F014.xml, … or the seed CSV
    format) replace the shipped seed's directory of that name; other CSVs are participant
    registries (role,code,name,active)."""
    from contracts.participants import load_participants_csv, seed_path
    from contracts.refs import is_directory_file, load_files
    from storage.db import session_scope
    from storage.refs import store_directory, upsert_participants

    paths = list(files)
    if seed:
        path = seed_path(get_settings().region)
        if path is None:
            raise click.ClickException(f"no shipped seed for region {get_settings().region}")
        paths.append(path)
    if not paths:
        raise click.UsageError("give FILES or --seed")
    directory_files = [p for p in paths if is_directory_file(p)]
    try:
        loaded = load_files(directory_files)
        registries = [(p, load_participants_csv(p)) for p in paths if p not in directory_files]
    except OmsxError as exc:
        raise click.ClickException(str(exc)) from exc
    with session_scope() as session:
        for directory in loaded:
            n = store_directory(session, directory)
            click.echo(f"{directory.name}: {n} rows (replaces the shipped seed's {directory.name})")
        for path, rows in registries:
            click.echo(f"{path.name}: {upsert_participants(session, rows)} participants")


@main.command()
def status() -> None:
    """Queues, JetStream, packages per state, the last hour's throughput and errors,
    and the daily reports (what the admin's overview shows)."""
    from admin.overview import overview

    data = overview(get_settings())
    for q, c in data["queues"].items():
        click.echo(f"queue {q:<12} ready {c['ready']:>6}  in progress {c['in_progress']:>6}  "
                   f"delayed {c['delayed']:>6}  dead {c['dead']:>6}")  # fmt: skip
    for name, s in data.get("jetstream", {}).items():
        if "error" in s:
            click.echo(f"stream {name:<11} {s['error']}", err=True)
            continue
        click.echo(f"stream {name:<11} messages {s['messages']:>8}  last seq {s['last_seq']}")
        for consumer, n in s.get("consumers", {}).items():
            click.echo(
                f"  consumer {consumer:<16} pending {n['num_pending']:>6}  ack pending "
                f"{n['num_ack_pending']:>6}  redelivered {n['num_redelivered']:>6}"
            )
    for state, n in sorted(data["packages"].items()):
        click.echo(f"packages {state:<12} {n:>8}")
    t = data.get("throughput")
    if t:
        rate = "—" if t["error_rate"] is None else f"{100 * t['error_rate']:.1f} %"
        click.echo(
            f"last hour {t['finished']} finished ({t['per_minute']}/min), "
            f"error rate {rate}, outbox pending {data.get('outbox_pending', 0)}"
        )
    latest = data["daily"]["latest"]
    if latest is not None:
        click.echo(f"daily    {latest['day']} built {latest['built_at']}, "
                   f"{latest['events']} events, {latest['accompany']} to accompany")  # fmt: skip
    for b in data["daily"]["unbalanced"]:
        click.echo(
            f"daily    {b['day']} {b['role']}.{b['code']}: {b['unaccounted']} of "
            f"{b['received']} messages unaccounted (conservation check failed)",
            err=True,
        )
    for err in data["errors"]:
        click.echo(f"error: {err}", err=True)


# ---------------------------------------------------------------- claims


@main.group()
def claims() -> None:
    """Claims accounts: roll-ups and the out-of-region settlement (money in roubles)."""


def _period_option(value: str | None) -> tuple[int, int] | None:
    from storage.claims import parse_period

    if value is None:
        return None
    try:
        return parse_period(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc


def _rub(kop: int) -> str:
    from contracts.records import money

    return money(kop) if kop >= 0 else "-" + money(-kop)


def _emit(header: list[str], rows: list[list[Any]], fmt: str) -> None:
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return
    from omsx.text import table

    click.echo(table(header, rows) if rows else "(nothing)")


_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True
)


ROLLUP_HEADER = ["МО", "payer", "period", "invoices", "cases", "accepted", "refused", "presented",
                 "MEK refused", "accepted ₽", "МЭЭ", "ЭКМП", "payable", "final"]  # fmt: skip
SETTLEMENT_HEADER = ["territory", "МО", "period", "cases", "accepted ₽", "payable"]
SETTLEMENT_CASE_HEADER = ["territory", "МО", "period", "IDCASE", "ENP", "DATE_Z_1", "DATE_Z_2",
                          "USL_OK", "PROFIL", "DS1", "accepted ₽", "payable"]  # fmt: skip


def _rollup_row(r: Any) -> list[Any]:
    final = "yes" if not r.incomplete else f"no ({r.incomplete} being applied)"
    money = [r.presented_kop, r.refused_kop, r.accepted_kop, r.mee_kop, r.ekmp_kop, r.payable_kop]
    counts = [r.invoices, r.cases, r.accepted, r.refused]
    return [r.code_mo, r.payer, f"{r.year}-{r.month:02d}", *counts, *map(_rub, money), final]


def _settlement_row(t: Any) -> list[Any]:
    period = f"{t.year}-{t.month:02d}"
    return [
        t.territory or "?",
        t.code_mo,
        period,
        t.cases,
        _rub(t.accepted_kop),
        _rub(t.payable_kop),
    ]


def _settlement_case_row(c: Any) -> list[Any]:
    period = f"{c.year}-{c.month:02d}"
    care = [c.idcase, c.enp or "", c.date_z_1, c.date_z_2, c.usl_ok, c.profil, c.ds1]
    return [c.territory or "?", c.code_mo, period, *care, _rub(c.sump_kop), _rub(c.payable_kop)]


@claims.command("rollup")
@click.option("--mo", "code_mo", default=None, help="one МО (CODE_MO)")
@click.option("--payer", default=None, help="one payer: an СМО code, or the ТФОМС's")
@click.option("--period", default=None, metavar="YYYY-MM")
@_FORMAT
def claims_rollup(code_mo: str | None, payer: str | None, period: str | None, fmt: str) -> None:
    """Per МО × payer × period: presented, refused by MEK, accepted, МЭЭ, ЭКМП, payable."""
    from storage.claims import rollups
    from storage.db import session_scope

    with session_scope() as session:
        found = rollups(session, code_mo=code_mo, payer=payer, period=_period_option(period))
    _emit(ROLLUP_HEADER, [_rollup_row(r) for r in found], fmt)


@claims.command("out-of-region")
@click.option("--period", default=None, metavar="YYYY-MM", help="required with --cases")
@click.option("--territory", default=None, help="one insuring territory (OKATO), with --cases")
@click.option(
    "--cases",
    "list_cases",
    is_flag=True,
    help="list the cases one by one (with the ENP: personal data, for the settlement only)",
)
@_FORMAT
def claims_out_of_region(
    period: str | None, territory: str | None, list_cases: bool, fmt: str
) -> None:
    """Accepted care of patients insured in other territories, for inter-territorial
    settlement: per territory × МО × period, or case by case."""
    from storage.claims import out_of_region, out_of_region_cases
    from storage.db import session_scope

    chosen = _period_option(period)
    if list_cases and chosen is None:
        raise click.UsageError("--cases needs --period")
    with session_scope() as session:
        if chosen is not None and list_cases:
            cases = out_of_region_cases(session, period=chosen, territory=territory)
            _emit(SETTLEMENT_CASE_HEADER, [_settlement_case_row(c) for c in cases], fmt)
        else:
            totals = out_of_region(session, period=chosen)
            _emit(SETTLEMENT_HEADER, [_settlement_row(t) for t in totals], fmt)


# ---------------------------------------------------------------- the daily consolidation


def _day_option(value: str | None, hint: str) -> date:
    if value is None:  # the region's yesterday
        return get_settings().today() - timedelta(days=1)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint=hint) from exc


CONSOLIDATED_HEADER = ["day", "events", "figures", "accompany", "unbalanced", "extracts", "ms"]


@main.command()
@click.option(
    "--date", "first", default=None, metavar="YYYY-MM-DD", help="default: yesterday (UTC)"
)
@click.option(
    "--to", "last", default=None, metavar="YYYY-MM-DD", help="consolidate every day up to this one"
)
@click.option("--enqueue", is_flag=True, help="leave the work to the workers (Dramatiq)")
def consolidate(first: str | None, last: str | None, enqueue: bool) -> None:
    """Build the daily report of a day (or days): figures per region, МО and СМО, each
    СМО's accompaniment list and extract, the conservation check. A re-run replaces
    the day's report."""
    start = _day_option(first, "--date")
    end = _day_option(last, "--to") if last else start
    if end < start:
        raise click.BadParameter("--to is before --date", param_hint="--to")
    from workers.daily import consolidate_day, iter_days

    days = list(iter_days(start, end))
    if enqueue:
        for day in days:
            consolidate_day.send(day.isoformat())
        click.echo(f"{len(days)} day(s) queued for consolidation")
        return
    from workers.daily import consolidate as run

    rows, extracts = [], 0
    for day in days:
        done = run(day)
        extracts += done.extracts
        rows.append([day.isoformat(), done.events, done.figures, done.accompany,
                     done.unbalanced, done.extracts, done.duration_ms])  # fmt: skip
    _emit(CONSOLIDATED_HEADER, rows, "table")
    if extracts:
        _publish_outbox()


def _publish_outbox() -> None:
    """Ask the reply stage to publish the queued extracts (the sweeper would, later)."""
    import redis

    from workers.replies import publish_protocols

    try:
        publish_protocols.send(None)
    except redis.RedisError as exc:
        click.echo(
            f"the extracts are queued in the outbox; Redis is not reachable "
            f"({type(exc).__name__}), so the sweeper will publish them when it is",
            err=True,
        )


@main.group()
def daily() -> None:
    """The stored daily reports (``omsx consolidate`` builds them)."""


@daily.command("figures")
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD", help="default: yesterday (UTC)")
@click.option(
    "--scope", type=click.Choice(["region", "mo", "smo"]), default="region", show_default=True
)
@click.option("--code", default=None, help="one МО or СМО (default: all of the scope)")
@click.option(
    "--category", type=click.IntRange(1, 7), default=None, help="1 exams … 7 expert control"
)
@_FORMAT
def daily_figures(
    day: str | None, scope: str, code: str | None, category: int | None, fmt: str
) -> None:
    """The figures of a day's report."""
    from sqlmodel import col, select

    from contracts.daily import number
    from storage.daily import DailyFigure
    from storage.db import session_scope

    query = select(DailyFigure).where(
        DailyFigure.day == _day_option(day, "--date"), DailyFigure.scope == scope
    )
    if code:
        query = query.where(DailyFigure.code == code)
    if category:
        query = query.where(DailyFigure.category == category)
    order = (col(DailyFigure.code), col(DailyFigure.category), col(DailyFigure.indicator),
             col(DailyFigure.key))  # fmt: skip
    with session_scope() as session:
        found = session.exec(query.order_by(*order)).all()
    rows = [[f.code, f.category, f.indicator, f.key, number(f.value)] for f in found]
    _emit(["code", "category", "indicator", "key", "value"], rows, fmt)


@daily.command("balance")
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD", help="default: yesterday (UTC)")
@_FORMAT
def daily_balance(day: str | None, fmt: str) -> None:
    """The conservation check of a day: received = accepted + rejected + duplicate + in flight."""
    from sqlmodel import col, select

    from storage.daily import DailyBalance
    from storage.db import session_scope

    chosen = _day_option(day, "--date")
    with session_scope() as session:
        found = session.exec(
            select(DailyBalance)
            .where(DailyBalance.day == chosen)
            .order_by(col(DailyBalance.role), col(DailyBalance.code))
        ).all()
    rows = [[b.role, b.code, b.received, b.accepted, b.rejected, b.duplicate, b.in_flight,
             b.unaccounted, "ok" if b.balanced else "MISMATCH"] for b in found]  # fmt: skip
    header = ["role", "code", "received", "accepted", "rejected", "duplicate", "in flight",
              "unaccounted", "check"]  # fmt: skip
    _emit(header, rows, fmt)
    if any(not b.balanced for b in found):
        sys.exit(1)


# ---------------------------------------------------------------- admin users


ROLE_CHOICE = click.Choice(["viewer", "operator", "admin"])


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    from admin.accounts import AccountError, check_password_rules

    try:
        check_password_rules(password)
    except AccountError as exc:
        raise click.BadParameter(str(exc)) from exc
    return str(password)


@main.group()
def users() -> None:
    """Logins of the admin (roles: viewer, operator — replays, admin — purge, users)."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (scripts)")
def users_add(username: str, role: str, password_stdin: bool) -> None:
    """Create a login (the first one: ``omsx users add NAME --role admin``)."""
    from admin.accounts import add_user

    _prepare_database(seed=False)
    password = _read_password(password_stdin)
    with _accounts() as session:
        add_user(session, "cli", username, password, role)
    click.echo(f"user {username} added ({role})")


@contextmanager
def _accounts() -> Iterator[Any]:
    """A session for a user change; its refusal is the command's error (exit 1)."""
    from admin.accounts import AccountError
    from storage.db import session_scope

    try:
        with session_scope() as session:
            yield session
    except (AccountError, NotFound) as exc:
        raise click.ClickException(str(exc)) from exc


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (scripts)")
def users_passwd(username: str, password_stdin: bool) -> None:
    """Set a user's password."""
    from admin.accounts import set_password

    password = _read_password(password_stdin)
    with _accounts() as session:
        set_password(session, "cli", username, password)
    click.echo(f"password of {username} changed")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable a login (its sessions end at their next request)."""
    from admin.accounts import set_active

    with _accounts() as session:
        set_active(session, "cli", username, False)
    click.echo(f"user {username} disabled")


@users.command("list")
def users_list() -> None:
    """Every login, its role and when it last logged in."""
    from admin.accounts import accounts
    from storage.db import session_scope

    with session_scope() as session:
        found = accounts(session)
    rows = [[u.username, u.role, "yes" if u.active else "no",
             u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else ""]
            for u in found]  # fmt: skip
    _emit(["user", "role", "active", "last login"], rows, "table")


# ---------------------------------------------------------------- dead letters


@main.group()
def dlq() -> None:
    """Dead letters and quarantined packages: list, replay, purge (the admin's /dead)."""


def _dlq_filter(f: Any) -> Any:
    from storage.deadletters import REASONS
    from workers.broker import QUEUES

    options = [
        click.option("--queue", type=click.Choice(QUEUES), default=None),
        click.option("--actor", default=None),
        click.option("--reason", type=click.Choice(REASONS), default=None, help="reason class"),
        click.option("--error-class", default=None, help="the exception's class"),
        click.option("--package", "package_id", type=int, default=None, help="package id"),
        click.option("--id", "key", default=None, help="one letter, by its message id"),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _dead_filter(**kw: Any) -> Any:
    from workers.deadletters import DeadFilter

    return DeadFilter(**kw)


@dlq.command("list")
@_dlq_filter
@_FORMAT
def dlq_list(fmt: str, **where: Any) -> None:
    """The letters still dead, oldest first (Redis's copy is mirrored into SQL first)."""
    import redis

    from workers.deadletters import listing

    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=5)
    try:
        found = listing(_dead_filter(**where), client)
    finally:
        client.close()
    rows = [[d.key, d.queue, d.actor, d.package_id or "", d.died_at.isoformat(timespec="seconds"),
             d.reason, d.error_class, d.retries] for d in found]  # fmt: skip
    _emit(["id", "queue", "actor", "package", "died (UTC)", "reason", "error", "retries"], rows,
          fmt)  # fmt: skip


def _dlq_act(action: str, dry_run: bool, where: dict[str, Any]) -> None:
    import redis

    import workers.actors  # noqa: F401 - the broker knows every queue and actor
    from workers.broker import broker
    from workers.deadletters import act

    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=5)
    try:
        done = act(action, _dead_filter(**where), who="cli", confirm=not dry_run, client=client,
                   broker=broker)  # fmt: skip
    finally:
        client.close()
    if done.dry_run:
        click.echo(f"{action}: {done.matched} letter(s) match {done.filter} (dry run)")
        return
    click.echo(f"{action}: {done.done} of {done.matched} letter(s) matching {done.filter}")
    for why in done.skipped:
        click.echo(f"skipped: {why}", err=True)


@dlq.command("replay")
@_dlq_filter
@click.option("--dry-run", is_flag=True, help="only count what would be replayed")
def dlq_replay(dry_run: bool, **where: Any) -> None:
    """Enqueue the matching letters again (retries reset; a failed or quarantined package
    goes back to the start of its stage). Each letter is replayed once, however often
    this runs. Audited as ``cli``."""
    _dlq_act("replay", dry_run, where)


@dlq.command("purge")
@_dlq_filter
@click.option("--dry-run", is_flag=True, help="only count what would be purged")
@click.option("--yes", is_flag=True, help="purge without asking")
def dlq_purge(dry_run: bool, yes: bool, **where: Any) -> None:
    """Drop the matching letters for good (the SQL row stays, marked purged). Audited."""
    if not dry_run and not yes:
        click.confirm("purge the matching dead letters?", abort=True)
    _dlq_act("purge", dry_run, where)


def _demo_login() -> None:
    """With no login yet (a fresh ``make run``): create ``demo`` (operator) with a random
    password and print it once."""
    import secrets

    from admin.auth import hash_password
    from storage.db import session_scope
    from storage.users import AdminUser, any_users, audit

    with session_scope() as session:
        if any_users(session):
            return
        password = secrets.token_urlsafe(12)
        session.add(AdminUser(username="demo", password_hash=hash_password(password),
                              role="operator"))  # fmt: skip
        audit(session, "cli", "user-add", target="demo", detail="role operator (demo login)")
    settings = get_settings()
    click.echo(
        f"admin: http://{settings.admin_host}:{settings.admin_port}/ — log in as demo / "
        f"{password} (shown once; omsx users add NAME --role admin for your own)"
    )


from admin.natscli import nats_config  # noqa: E402 - the command lives in its own module

main.add_command(nats_config)
