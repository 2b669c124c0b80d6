"""Tools of the fault suite (issue "Nothing lost, nothing doubled, no one in where they
don't belong" → fault tests).

Every scenario runs a hub of its own (:func:`own_hub`): real processes on free ports,
which the test kills and restarts — the scheduler too when the sweeper has to re-drive.
:func:`out_messages` reads what OMS_OUT holds, so a test counts protocols per package the
way a gateway would see them; :func:`register_facts` states what a register file says
(records, money) for the database to be compared with.
"""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from lxml import etree
from nats.js.api import DeliverPolicy

from contracts.protocol import Protocol, parse_protocol
from messages import headers as H
from messages.gateway import Gateway
from messages.streams import OUT_STREAM
from messages.subjects import OUT_ALL
from tests.builders import erz_for, register, zip_of
from tests.e2e.conftest import Hub, start_hub


@contextmanager
def own_hub(root: Path, *, scheduler: bool = False, **settings: str) -> Iterator[Hub]:
    """A hub of the test alone (ingest and worker; the scheduler when asked), stopped after."""
    hub, servers = start_hub(root, **settings)
    try:
        if scheduler:
            hub.start("scheduler", "scheduler")
            hub.wait_log("scheduler", "scheduler.started")
        yield hub
    finally:
        try:
            hub.stop_all()
        finally:
            for server in servers:
                server.stop()


def restart(hub: Hub, name: str, *args: str, ready: str) -> None:
    """Start ``name`` again (after a kill), its earlier log kept beside; wait for ``ready``."""
    log = hub.root / f"{name}.log"
    if log.exists():
        n = len(list(hub.root.glob(f"{name}.*.log"))) + 1
        log.rename(hub.root / f"{name}.{n}.log")
    hub.start(name, *args)
    hub.wait_log(name, ready)


def restart_worker(hub: Hub) -> None:
    restart(hub, "worker", "worker", ready="Worker process is ready for action")


def all_logs(hub: Hub, name: str) -> str:
    """Every log ``name`` wrote, over its restarts."""
    parts = [*sorted(hub.root.glob(f"{name}.*.log")), hub.root / f"{name}.log"]
    return "".join(p.read_text(errors="replace") for p in parts if p.exists())


# ---------------------------------------------------------------- OMS_OUT


@dataclass(frozen=True)
class Out:
    """One message of OMS_OUT."""

    subject: str
    headers: dict[str, str]
    data: bytes

    @property
    def kind(self) -> str:
        return self.subject.rsplit(".", 1)[-1]

    @property
    def sha256(self) -> str:
        return self.headers.get(H.SHA256, "")

    @property
    def msg_id(self) -> str:
        return self.headers.get(H.MSG_ID, "")

    @property
    def first(self) -> bool:
        """The package's one protocol (``protocol-<sha>``), not the answer to a repeat."""
        return self.kind == "protocol" and self.msg_id == f"protocol-{self.sha256}"

    def protocol(self) -> Protocol:
        return parse_protocol(self.data)


async def out_messages(url: str, timeout: float = 60.0) -> list[Out]:
    """Everything OMS_OUT holds, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        total = (await js.stream_info(OUT_STREAM)).state.messages
        sub = await js.subscribe(
            OUT_ALL, stream=OUT_STREAM, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        out: list[Out] = []
        async with asyncio.timeout(timeout):
            while len(out) < total:
                msg = await sub.next_msg(timeout=timeout)
                out.append(Out(msg.subject, dict(msg.headers or {}), msg.data))
        await sub.unsubscribe()
    finally:
        await nc.close()
    return out


async def published_all(hub: Hub, gateways: Iterable[Gateway]) -> tuple[float, list[Out]]:
    """Once the outbox is empty: the time, and OMS_OUT's messages (gateways closed)."""
    hub.wait_for(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL",
        lambda r: r == [(0,)],
        timeout=60,
    )
    t_done = time.monotonic()
    for gw in gateways:
        await gw.close()
    return t_done, await out_messages(hub.nats.url)


def protocols_per_package(outs: list[Out]) -> Counter[str]:
    """How many first protocols (``protocol-<sha>``) OMS_OUT holds per package SHA-256."""
    return Counter(o.sha256 for o in outs if o.first)


def repeat_answers(outs: list[Out]) -> list[Out]:
    """The protocols answering a repeat receipt of known bytes (805)."""
    return [o for o in outs if o.kind == "protocol" and not o.first]


# ---------------------------------------------------------------- registers


@dataclass(frozen=True)
class RegisterFacts:
    """What a register file states, counted from its XML."""

    records: int  # ZAP elements
    sd_z: int  # ZGLV/SD_Z
    summav_kop: int  # SCHET/SUMMAV
    sumv_kop: int  # the sum of every Z_SL/SUMV
    sl: int
    usl: int
    persons: int  # PERS of the L-file


def _kop(text: str | None) -> int:
    return int(Decimal(text or "0") * 100)


def register_facts(data: bytes) -> RegisterFacts:
    counts: Counter[str] = Counter()
    sd_z = summav = sumv = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        main, personal = sorted(zf.namelist(), key=lambda n: n.startswith("L"))
        with zf.open(main) as fh:
            for _event, elem in etree.iterparse(fh, events=("end",)):
                tag = elem.tag
                if tag in ("ZAP", "SL", "USL"):
                    counts[tag] += 1
                if tag == "SD_Z":
                    sd_z = int(elem.text or 0)
                elif tag == "SUMMAV":
                    summav = _kop(elem.text)
                elif tag == "Z_SL":
                    sumv += _kop(elem.findtext("SUMV"))
                elif tag == "ZAP":
                    elem.clear(keep_tail=True)
        with zf.open(personal) as fh:
            for _event, elem in etree.iterparse(fh, events=("end",), tag="PERS"):
                counts["PERS"] += 1
                elem.clear(keep_tail=True)
    return RegisterFacts(counts["ZAP"], sd_z, summav, sumv, counts["SL"], counts["USL"],
                         counts["PERS"])  # fmt: skip


def erz_leaving_out(
    registers: tuple[str, bytes], every: int, *, smo: str = "64004", number: int = 1
) -> tuple[tuple[str, bytes], int]:
    """An erz insuring everyone ``registers`` names except every ``every``-th person (their
    cases are refused by МЭК 005K.64.0001); the package and how many were left out."""
    name, data = erz_for(registers, smo=smo, number=number)
    base = name.removesuffix(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = etree.fromstring(zf.read(f"{base}.xml"))
    left_out = 0
    for n, pers in enumerate(root.findall("PERS"), 1):
        if n % every == 0:
            root.remove(pers)
            left_out += 1
    for n, pers in enumerate(root.findall("PERS"), 1):
        pers.find("N_ZAP").text = str(n)  # type: ignore[union-attr]
    root.find("ZGLV/SD_Z").text = str(len(root.findall("PERS")))  # type: ignore[union-attr]
    xml = etree.tostring(root, encoding="windows-1251", xml_declaration=True)
    return (name, zip_of({f"{base}.xml": xml})), left_out


@dataclass(frozen=True)
class BigRegister:
    name: str
    data: bytes
    facts: RegisterFacts
    erz: tuple[str, bytes]
    uninsured: int  # people the erz leaves out


BIG_CASES = 20_000


@pytest.fixture(scope="session")
def big_register(tmp_path_factory: pytest.TempPathFactory) -> BigRegister:
    """A valid 20k-case register of МО 640001 for СМО 64004 (generated once per session,
    kept in a temporary directory) and the erz insuring all but 1 in 250 of its people."""
    cache = tmp_path_factory.mktemp("big-register")
    name, data = register("HM640001S64004_25111", n=BIG_CASES)
    (cache / name).write_bytes(data)
    erz, uninsured = erz_leaving_out((name, data), 250)
    (cache / erz[0]).write_bytes(erz[1])
    return BigRegister(name, data, register_facts(data), erz, uninsured)
