"""``make bench-load``: the hub's throughput and latency under 200 МО and 4 СМО gateways.

The mix (:mod:`bench.loadmix`, generated once and cached): ``BENCH_PACKAGES`` publishes
(default 5000) of registers of 10–500 cases (most ≤ 50), hosp, tmk, appeal, attach and
erz packages, 5 % with planted defects, 2 % re-publishes of an earlier package's bytes.
Each configuration gets fresh processes and data — nats-server (no auth) and Valkey,
``omsx ingest`` × I and ``omsx worker`` with W processes, SQLite or PostgreSQL — and,
before the clock starts, erz files that insure everyone the registers name. Then:

- ``throughput``: every gateway (one NATS connection each, all in this process)
  publishes its packages with at most ``BENCH_OUTSTANDING`` (2) unanswered; packages/s
  from the first publish to the last protocol, and over the middle 80 % of protocols;
- ``latency``: ``BENCH_RATE`` (50) packages/s offered on a fixed schedule (open loop),
  ``BENCH_LATENCY_PACKAGES`` of them (default min(packages, 2000)); p50/p95/p99 of
  publish → protocol at the gateway.

Repeats are published after the OMS_IN duplicate window, set to 2 s for the run (as
tests/e2e do), so each one reaches the hub and costs it an 805 — not a free JetStream
drop. Queue depths (OMS_IN pending, Dramatiq's validate/apply/reply, the unpublished
outbox, packages in flight) are sampled every second. From the timeline
(``packageevent``): the time in each stage and between stages. Peak resident memory
(VmHWM) and CPU time of every process. Floors in the same run, on the same servers after
the hub stops: a Dramatiq no-op chain of the hub's hops per package (one: validate's
delivery applies the package and publishes its answer) with the same processes ×
threads, and JetStream ack'd publish + pull consume + ack of the same bodies.

``BENCH_MATRIX`` lists the configurations, ``db:workers:ingest[:modes[:packages[:part]]]``
(modes ``t`` throughput, ``l`` latency, ``s`` sustainable; parts in :data:`PARTS`),
default :data:`DEFAULT_MATRIX`; ``BENCH_DBS`` drops
databases from it; ``BENCH_THREADS`` sets the threads per worker process (default
the hub's, ``OMSX_WORKER_THREADS``). Results: a table, ``bench/results/load.json``
with the core count and the load average before and after.

Targets (issue "Throughput"), 2 cores: ≥ 100 small packages/s sustained; p95 < 1 s at
50 packages/s; no queue growing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    OMSX,
    ROOT,
    bench_dbs,
    descendants,
    hwm_mb,
    peak_mb,
    postgres_for,
    save,
    table,
    wait_log,
)
from bench.loadmix import Item, Mix, load_mix, write_participants

DEFAULT_MATRIX = (
    "sqlite:2:1:tls,sqlite:2:1:tl:600:small,sqlite:2:1:tl:1500:flows,postgres:2:1:t:400,"
    "sqlite:1:1:t:400,sqlite:2:2:t:400,postgres:1:1:t:400,postgres:2:2:t:400"
)
"""The embedded default (SQLite, 2 worker processes, 1 ingest) in every mode with all the
packages; with the small packages alone and with the daily flows alone (:data:`PARTS`),
as fast as they are answered and offered at 50/s (the target's); PostgreSQL and the
scaling runs (1 vs 2 workers, 1 vs 2 ingests) shorter, so the whole default takes
7–9 minutes on 2 cores."""
DUPLICATE_WINDOW_S = 2
REPEAT_AFTER_S = DUPLICATE_WINDOW_S + 1.0
SUSTAINABLE = 0.6  # mode s offers this share of the configuration's measured throughput
SUSTAINED_S = 60
STALL_S = 120.0
PARTS: dict[str, Callable[[Item], bool]] = {
    "small": lambda item: item.small,  # all but the registers of more than 50 cases
    "flows": lambda item: item.kind != "registry",  # hosp, tmk, attach, appeal, erz
}
"""The parts of the mix a configuration may run alone (``BENCH_MATRIX``'s ``part``):
``small``, every package but the registers of more than 50 cases; ``flows``, the daily
traffic of a region (hospitalisation, telemedicine, attachment, appeals, insurance),
every package but the registers, which come at month end."""
HOPS = ("validate", "apply", "reply")  # the hub's queues, sampled for their depth
FLOOR_HOPS = 1
"""Dramatiq messages the hub spends on a package up to OMSX_APPLY_INLINE_MAX_BYTES (every
package of the mix): validate's delivery applies it and publishes its answer."""
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Config:
    db: str
    workers: int
    ingest: int
    modes: str  # t throughput, l latency at BENCH_RATE, s latency at a sustainable rate
    packages: int  # of the throughput run
    only: str = ""  # "small" or "flows": a part of the mix (:data:`PARTS`), else all of it

    @property
    def name(self) -> str:
        return f"{self.db} w{self.workers} i{self.ingest}" + (f" {self.only}" if self.only else "")

    def schedule(self, mix: Mix) -> list[int]:
        """The mix's publishing order, of the configuration's part only."""
        if not self.only:
            return mix.schedule
        part = PARTS[self.only]
        return [i for i in mix.schedule if part(mix.pool[i])]


def matrix(packages: int) -> list[Config]:
    """``BENCH_MATRIX``: ``db:workers:ingest[:modes[:packages[:part]]]``, comma-separated;
    ``part`` one of :data:`PARTS`."""
    dbs = bench_dbs()
    configs = []
    for entry in os.environ.get("BENCH_MATRIX", DEFAULT_MATRIX).split(","):
        db, workers, ingest, *rest = entry.strip().split(":")
        modes = rest[0] if rest else "t"
        count = min(int(rest[1]), packages) if len(rest) > 1 else packages
        only = rest[2] if len(rest) > 2 else ""
        if only and only not in PARTS:
            raise SystemExit(f"BENCH_MATRIX: unknown part {only!r} in {entry!r}; "
                             f"one of {', '.join(PARTS)}")  # fmt: skip
        if db in dbs:
            configs.append(Config(db, int(workers), int(ingest), modes, count, only))
    return configs


# ------------------------------------------------------------------ the hub as processes


class Hub:
    """Fresh nats-server, Valkey and database; ``ingest`` × ``omsx ingest`` and one
    ``omsx worker`` with ``workers`` processes; every process in its own group."""

    def __init__(
        self, root: Path, database_url: str, config: Config, threads: int, pg_dir: Path | None
    ) -> None:
        from omsx import embedded
        from omsx.embedded import free_port

        self.root, self.database_url, self.config = root, database_url, config
        self.nats = embedded.nats_server(free_port(), root / "nats")
        self.redis = embedded.valkey_server(free_port(), root / "valkey")
        self.env = {
            **os.environ,
            "OMSX_NATS_URL": self.nats.url,
            "OMSX_REDIS_URL": self.redis.url,
            "OMSX_DATA_DIR": str(root / "var"),
            "OMSX_DATABASE_URL": database_url,
            "OMSX_LOG_FORMAT": "json",
            "OMSX_BROKER": "redis",
            "OMSX_WORKER_PROCESSES": str(config.workers),
            "OMSX_WORKER_THREADS": str(threads),
            "OMSX_IN_DUPLICATE_WINDOW_S": str(DUPLICATE_WINDOW_S),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.pg_dir = pg_dir

    def __enter__(self) -> Hub:
        for server in (self.nats, self.redis):
            server.start()
            server.wait_ready()
        try:
            registry = str(write_participants(self.root / "participants.csv"))
            for args in (("db", "upgrade"), ("refs", "load", "--seed", registry)):
                subprocess.run([OMSX, *args], env=self.env, check=True, capture_output=True)
            for k in range(self.config.ingest):
                self.start(f"ingest{k + 1}", "ingest")
                wait_log(self.root / f"ingest{k + 1}.log", "ingest.started")
            self.start("worker", "worker")
            _wait_count(self.root / "worker.log", "ready for action", self.config.workers)
        except BaseException:
            self.__exit__()
            raise
        return self

    def start(self, name: str, *args: str) -> None:
        with (self.root / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [OMSX, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def pids(self) -> dict[str, list[int]]:
        found = {name: descendants(proc.pid) for name, proc in self.procs.items()}
        for server in (self.nats, self.redis):
            if server.pid is not None:
                found[server.name] = [server.pid]
        if self.pg_dir is not None:
            found["postgres"] = [p for pid in _postmasters(self.pg_dir) for p in descendants(pid)]
        return found

    def log_counts(self) -> dict[str, int]:
        """What the processes logged that costs time: errors (retried), lease waits."""
        counts: dict[str, int] = {}
        for name in self.procs:
            for line in (self.root / f"{name}.log").read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(entry, dict):
                    continue
                event = str(entry.get("event", ""))
                if entry.get("outcome") == "error" or entry.get("level") in ("warning", "error"):
                    key = f"{event}:{entry.get('error') or entry.get('outcome') or ''}"
                    counts[key] = counts.get(key, 0) + 1
                elif event == "apply.busy":
                    counts[event] = counts.get(event, 0) + 1
        return counts

    def stop_processes(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            with contextlib.suppress(ProcessLookupError):  # dramatiq's forks, if any remain
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()

    def __exit__(self, *exc: object) -> None:
        self.stop_processes()
        for server in (self.nats, self.redis):
            server.stop()


def _postmasters(data_dir: Path) -> list[int]:
    """The PostgreSQL server running on ``data_dir`` (its postmaster)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
                if cmd and cmd[0].endswith(b"postgres") and str(data_dir).encode() in cmd:
                    found.append(int(proc.name))
    return found


def _wait_count(path: Path, text: str, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while path.read_text(errors="replace").count(text) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path.name}: fewer than {count} × {text!r}")
        time.sleep(0.1)


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    """User + system CPU seconds so far of each named group of processes."""
    out = {}
    for name, group in pids.items():
        total = 0
        for pid in group:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                # utime, stime, and cutime, cstime of children that ended (PostgreSQL
                # backends of closed connections)
                total += sum(int(f) for f in fields[11:15])
        out[name] = total / TICKS
    return out


def peaks(pids: dict[str, list[int]]) -> list[tuple[str, float]]:
    """(name: command, peak MB) of every process, largest first."""
    found = []
    for name, group in pids.items():
        for pid in group:
            cmd, mb = hwm_mb(pid)
            if mb:
                found.append((f"{name}: {cmd.split('/')[-1][:40]}", round(mb, 1)))
    return sorted(found, key=lambda p: -p[1])


# ------------------------------------------------------------------ driving the gateways


@dataclass
class Sent:
    pos: int  # place in the schedule
    index: int  # pool index
    repeat: bool
    t_pub: float = 0.0
    t_ack: float = 0.0
    t_proto: float = 0.0
    seq: int = 0
    dropped: bool = False  # JetStream dropped it as a repeat inside its window
    result: str = ""
    code: str = ""  # the first OSHIB, when any


@dataclass
class Drive:
    mix: Mix
    positions: list[int]
    mode: str
    rate: float
    outstanding: int
    sent: list[Sent] = field(default_factory=list)
    by_seq: dict[int, Sent] = field(default_factory=dict)
    early: dict[int, tuple[float, Any]] = field(default_factory=dict)
    samples: list[dict[str, float]] = field(default_factory=list)
    answered: int = 0
    expected: int = 0
    last_pub: dict[int, float] = field(default_factory=dict)
    t0: float = 0.0
    t_last_pub: float = 0.0
    progress: asyncio.Event = field(default_factory=asyncio.Event)


async def drive(hub: Hub, mix: Mix, positions: list[int], mode: str, **opts: Any) -> Drive:
    from contracts.filenames import Party
    from messages.gateway import Gateway

    run = Drive(mix, positions, mode, **opts)
    bodies = {i: mix.data(mix.pool[i]) for i in set(positions)}
    senders = sorted({mix.pool[i].sender for i in positions})
    gws = await asyncio.gather(
        *(Gateway.connect(hub.nats.url, Party.from_token(t)) for t in senders)
    )
    gateways = dict(zip(senders, gws, strict=True))
    slots = {t: asyncio.Semaphore(run.outstanding) for t in senders}
    listeners = [asyncio.create_task(_listen(run, gw, slots[t])) for t, gw in gateways.items()]
    sampler = asyncio.create_task(_sample(run, hub))

    async def publish(pos: int, index: int) -> None:
        item = mix.pool[index]
        if index in run.last_pub:  # a repeat: after the duplicate window, so the hub sees it
            await asyncio.sleep(max(0.0, run.last_pub[index] + REPEAT_AFTER_S - time.time()))
        sent = Sent(pos, index, index in run.last_pub)
        run.sent.append(sent)
        sent.t_pub = run.last_pub[index] = time.time()
        got = await gateways[item.sender].publish(bodies[index], Path(item.path).name)
        sent.t_ack, sent.seq, sent.dropped = time.time(), got.seq, got.duplicate
        if sent.dropped:
            slots[item.sender].release()
            return
        run.expected += 1
        run.by_seq[got.seq] = sent
        if got.seq in run.early:
            _answer(run, sent, *run.early.pop(got.seq), slots[item.sender])

    run.t0 = time.time()
    try:
        if mode == "throughput":
            await asyncio.gather(*(_gateway_loop(run, t, slots[t], publish) for t in senders))
        else:
            await _paced(run, publish)
        run.t_last_pub = time.time()
        await _wait_answers(run)
    finally:
        sampler.cancel()
        for task in listeners:
            task.cancel()
        await asyncio.gather(sampler, *listeners, return_exceptions=True)
        await asyncio.gather(*(gw.close() for gw in gws), return_exceptions=True)
    return run


async def _gateway_loop(run: Drive, token: str, slot: asyncio.Semaphore, publish: Any) -> None:
    """One gateway's packages in schedule order, at most ``outstanding`` unanswered."""
    for pos, index in enumerate(run.positions):
        if run.mix.pool[index].sender != token:
            continue
        await slot.acquire()
        await publish(pos, index)


async def _paced(run: Drive, publish: Any) -> None:
    """The schedule at ``rate`` packages/s, whatever the hub answers (open loop)."""
    tasks = []
    for pos, index in enumerate(run.positions):
        delay = run.t0 + pos / run.rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(publish(pos, index)))
    await asyncio.gather(*tasks)


async def _listen(run: Drive, gw: Any, slot: asyncio.Semaphore) -> None:
    async for got in gw.protocols("bench", batch=256):
        now = time.time()
        sent = run.by_seq.get(got.receipt) if got.receipt is not None else None
        if sent is None:
            if got.receipt is not None:  # before its publish call returned, or insure
                run.early[got.receipt] = (now, got)
            continue
        _answer(run, sent, now, got, slot)


def _answer(run: Drive, sent: Sent, now: float, got: Any, slot: asyncio.Semaphore) -> None:
    if sent.t_proto:
        return
    sent.t_proto = now
    sent.result = got.protocol.result
    sent.code = got.protocol.problems[0].oshib if got.protocol.problems else ""
    run.answered += 1
    slot.release()
    run.progress.set()


async def _wait_answers(run: Drive) -> None:
    while run.answered < run.expected:
        run.progress.clear()
        try:
            await asyncio.wait_for(run.progress.wait(), STALL_S)
        except TimeoutError:
            print(f"  no protocol for {STALL_S:.0f} s: {run.expected - run.answered} missing")
            return


async def _sample(run: Drive, hub: Hub) -> None:
    """Queue depths every second: OMS_IN, Dramatiq's queues, the outbox, in flight."""
    import nats
    import redis.asyncio as aioredis
    from sqlalchemy import create_engine, text

    engine = create_engine(hub.database_url)
    rds = aioredis.Redis.from_url(hub.redis.url)
    nc = await nats.connect(hub.nats.url)
    js = nc.jetstream()

    def outbox() -> int:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            return int(conn.execute(text(query)).scalar_one())

    try:
        while True:
            pipe = rds.pipeline()
            for queue in HOPS:
                pipe.hlen(f"dramatiq:{queue}.msgs")
                pipe.hlen(f"dramatiq:{queue}.DQ.msgs")
            depths = await pipe.execute()
            info = await js.consumer_info("OMS_IN", "omsx-ingest")
            sample = {
                "t": round(time.time() - run.t0, 2),
                "published": len(run.sent),
                "answered": run.answered,
                "in_flight": run.expected - run.answered,
                "oms_in": (info.num_pending or 0) + (info.num_ack_pending or 0),
                **{q: depths[2 * k] + depths[2 * k + 1] for k, q in enumerate(HOPS)},
                "outbox": await asyncio.to_thread(outbox),
            }
            run.samples.append(sample)
            await asyncio.sleep(1.0)
    finally:
        await nc.close()
        await rds.aclose()
        engine.dispose()


async def insure(hub: Hub, mix: Mix) -> None:
    """Publish the erz files that insure everyone; wait for their A."""
    from contracts.filenames import Party
    from messages.gateway import Gateway

    for item in mix.insure:
        async with await Gateway.connect(hub.nats.url, Party.from_token(item.sender)) as gw:
            got = await gw.wait_protocol(
                await gw.publish(mix.data(item), Path(item.path).name), timeout=600
            )
            if got.protocol.result != "A":
                raise RuntimeError(f"insuring erz not accepted: {got.raw[:400]!r}")


# ------------------------------------------------------------------ what a run measured


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) by nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(run: Drive) -> dict[str, Any]:
    done = sorted(s.t_proto for s in run.sent if s.t_proto)
    latencies = [(s.t_proto - s.t_pub) * 1000 for s in run.sent if s.t_proto]
    first = min((s.t_pub for s in run.sent), default=run.t0)
    span = (done[-1] - first) if done else math.nan
    lo, hi = int(len(done) * 0.1), max(int(len(done) * 0.9) - 1, 0)
    middle = (hi - lo) / (done[hi] - done[lo]) if done and done[hi] > done[lo] else math.nan
    results: dict[str, int] = {}
    for s in run.sent:
        key = "805" if s.code == "805" else (s.result or ("dropped" if s.dropped else "none"))
        results[key] = results.get(key, 0) + 1
    small = [(s.t_proto - s.t_pub) * 1000 for s in run.sent
             if s.t_proto and run.mix.pool[s.index].small]  # fmt: skip
    return {
        "published": len(run.sent),
        "answered": run.answered,
        "missing": run.expected - run.answered,
        "publish_s": run.t_last_pub - first,
        "offered_per_s": len(run.sent) / (run.t_last_pub - first) if run.sent else math.nan,
        "seconds": span,
        "per_s": len(done) / span if done else math.nan,
        "middle_per_s": middle,
        "latency_ms": {
            "p50": pct(latencies, 0.5), "p95": pct(latencies, 0.95),
            "p99": pct(latencies, 0.99), "max": max(latencies, default=math.nan),
            "mean": statistics.fmean(latencies) if latencies else math.nan,
        },
        "small_latency_ms": {"p50": pct(small, 0.5), "p95": pct(small, 0.95),
                             "p99": pct(small, 0.99)},
        "results": results,
        "latency_ms_by_kind": _by_kind(run),
        "records": sum(run.mix.pool[s.index].records for s in run.sent if not s.repeat),
    }  # fmt: skip


def _by_kind(run: Drive) -> dict[str, dict[str, float]]:
    """p50/p95 publish → protocol per kind (repeats apart: their 805 comes from ingest)."""
    kinds: dict[str, list[float]] = {}
    for s in run.sent:
        if s.t_proto:
            kind = "repeat" if s.repeat else run.mix.pool[s.index].kind
            kinds.setdefault(kind, []).append((s.t_proto - s.t_pub) * 1000)
    return {
        kind: {"n": len(v), "p50": pct(v, 0.5), "p95": pct(v, 0.95)}
        for kind, v in sorted(kinds.items())
    }


def queue_report(run: Drive) -> dict[str, Any]:
    """Max depth of each queue, and its trend while the packages were offered (the second
    half of it when that has 10 samples). Only an open-loop run can grow without bound
    (throughput runs cap what is unanswered), so ``growing`` is None for those, and for
    runs too short to tell."""
    keys = ("in_flight", "oms_in", *HOPS, "outbox")
    end = run.t_last_pub - run.t0
    window = [s for s in run.samples if end / 2 <= s["t"] <= end]
    if len(window) < 10:
        window = [s for s in run.samples if s["t"] <= end]
    out: dict[str, Any] = {}
    for key in keys:
        series = [s[key] for s in run.samples]
        slope = _slope([(s["t"], s[key]) for s in window])
        tell = run.mode != "throughput" and len(window) >= 3
        out[key] = {
            "max": max(series, default=0),
            "at_last_publish": next((s[key] for s in reversed(run.samples) if s["t"] <= end), 0),
            "slope_per_s": slope,
            "growing": slope > 0.5 if tell else None,  # > 1 package every 2 s, sustained
        }
    answered = [s.t_proto for s in run.sent if s.t_proto]
    out["drained_s_after_last_publish"] = max(answered) - run.t_last_pub if answered else None
    return out


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    mt = statistics.fmean(p[0] for p in points)
    mv = statistics.fmean(p[1] for p in points)
    den = sum((t - mt) ** 2 for t, _v in points)
    return sum((t - mt) * (v - mv) for t, v in points) / den if den else 0.0


STAGES = (
    "publish→stored",
    "wait validate",
    "validate",
    "wait apply",
    "apply",
    "wait reply+publish",
    "total",
)
"""Between timeline marks: the gateway's publish, ingest's commit (``stored``), each
actor's start and end, the reply's mark (stamped after NATS acknowledged the protocol),
and the protocol's arrival at the gateway (``total``)."""


def stage_profile(database_url: str, run: Drive) -> dict[str, Any]:
    """Per package (first publishes only): the time in and between stages, from the
    timeline and the gateway's clock; mean and p95 in ms, and how many went through."""
    from sqlalchemy import create_engine, text

    firsts = {run.mix.pool[s.index].path: s for s in run.sent if not s.repeat and s.t_proto}
    engine = create_engine(database_url)
    query = text(
        "SELECT p.id, p.file_name, p.kind, e.stage, e.outcome, e.at, e.duration_ms, e.detail"
        " FROM packageevent e JOIN package p ON p.id = e.package_id ORDER BY e.package_id, e.id"
    )
    events: dict[int, list[Any]] = {}
    names: dict[int, tuple[str, str]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            events.setdefault(row.id, []).append(row)
            names[row.id] = (row.file_name, row.kind)
    engine.dispose()
    by_name = {Path(path).name: s for path, s in firsts.items()}
    spans: dict[str, list[float]] = {stage: [] for stage in STAGES}
    busy = {"packages": 0, "resends": 0}
    work: dict[str, dict[str, list[float]]] = {}
    for pid, rows in events.items():
        sent = by_name.get(names[pid][0])
        if sent is None:
            continue
        marks = _marks(rows)
        starts = sum(1 for r in rows if r.stage == "apply" and r.outcome == "started")
        if starts > 1:
            busy["packages"] += 1
            busy["resends"] += starts - 1
        chain = [
            ("publish→stored", sent.t_pub, marks.get("stored")),
            ("wait validate", marks.get("stored"), marks.get("v0")),
            ("validate", marks.get("v0"), marks.get("v1")),
            ("wait apply", marks.get("v1"), marks.get("a0")),
            ("apply", marks.get("a0"), marks.get("a1")),
            ("wait reply+publish", marks.get("a1") or marks.get("v1"), marks.get("reply")),
            ("total", sent.t_pub, sent.t_proto),
        ]
        for stage, start, end in chain:
            if start is not None and end is not None:
                spans[stage].append((end - start) * 1000)
        kind = work.setdefault(names[pid][1], {"validate": [], "apply": []})
        for row in rows:
            if row.duration_ms is not None and row.stage in kind:
                kind[row.stage].append(float(row.duration_ms))
    return {
        "stages": {
            stage: {"n": len(v), "mean": _mean(v), "p50": pct(v, 0.5), "p95": pct(v, 0.95)}
            for stage, v in spans.items()
        },
        "busy": busy,
        "work_ms_by_kind": {
            kind: {
                stage: {"n": len(v), "mean": _mean(v), "p95": pct(v, 0.95)}
                for stage, v in stages.items()
            }
            for kind, stages in sorted(work.items())
        },
    }


def _marks(rows: list[Any]) -> dict[str, float]:
    marks: dict[str, float] = {}
    names = {
        ("ingest", "received"): "stored",
        ("validate", "started"): "v0",
        ("validate", "checked"): "v1",
        ("validate", "rejected"): "v1",
        ("apply", "started"): "a0",
        ("apply", "applied"): "a1",
        ("apply", "duplicate"): "a1",
    }
    for row in rows:
        mark = names.get((row.stage, str(row.outcome).split(":")[0]))
        if row.stage == "reply" and str(row.detail).startswith("protocol"):
            mark = "reply"
        if mark is not None and mark not in marks:
            marks[mark] = _epoch(row.at)
    return marks


def _epoch(at: Any) -> float:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:  # SQLite keeps UTC without the zone
        at = at.replace(tzinfo=UTC)
    return float(at.timestamp())


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


# ------------------------------------------------------------------ the floors


def floor_broker() -> None:
    """``dramatiq bench.load:floor_broker``: a no-op chain of the hub's hops on
    ``BENCH_FLOOR_REDIS``; the last hop counts itself in ``bench:floor:done``."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=os.environ["BENCH_FLOOR_REDIS"])  # type: ignore[no-untyped-call]
    dramatiq.set_broker(broker)

    @dramatiq.actor(queue_name="floor", max_retries=0)
    def hop(n: int) -> None:
        if n < FLOOR_HOPS:
            hop.send(n + 1)
        else:
            broker.client.incr("bench:floor:done")

    globals()["hop"] = hop


def dramatiq_floor(hub: Hub, packages: int, threads: int) -> dict[str, float]:
    """Packages/s of the no-op chain with the hub's worker processes × threads."""
    import redis

    env = {**hub.env, "BENCH_FLOOR_REDIS": hub.redis.url}
    log = hub.root / "floor-worker.log"
    dramatiq_bin = str(Path(sys.executable).parent / "dramatiq")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [dramatiq_bin, "bench.load:floor_broker", "--processes", str(hub.config.workers),
             "--threads", str(threads)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT,
        )  # fmt: skip
    try:
        _wait_count(log, "ready for action", hub.config.workers)
        os.environ["BENCH_FLOOR_REDIS"] = hub.redis.url
        floor_broker()
        hop = globals()["hop"]
        client = redis.Redis.from_url(hub.redis.url)
        started = time.perf_counter()
        for _ in range(packages):
            hop.send(1)
        sent_s = time.perf_counter() - started
        deadline = time.monotonic() + 600
        while int(client.get("bench:floor:done") or 0) < packages:
            if time.monotonic() > deadline:
                raise RuntimeError("the Dramatiq floor did not finish in 10 minutes")
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        client.close()
        return {"seconds": seconds, "per_s": packages / seconds, "send_s": sent_s,
                "messages_per_s": packages * FLOOR_HOPS / seconds}  # fmt: skip
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def jetstream_floor(url: str, bodies: list[bytes], outstanding: int) -> dict[str, float]:
    """Ack'd publish of ``bodies`` (``outstanding`` at a time) while a pull consumer
    fetches and acks them, as ingest does; packages/s from first publish to last ack."""
    import hashlib

    import nats
    from nats.js.api import StreamConfig

    pub, sub_nc = await nats.connect(url), await nats.connect(url)
    js, sub_js = pub.jetstream(timeout=30), sub_nc.jetstream(timeout=30)
    await js.add_stream(StreamConfig(name="BENCH_FLOOR", subjects=["bench.floor.>"]))
    sub = await sub_js.pull_subscribe("bench.floor.>", durable="floor", stream="BENCH_FLOOR")
    gate = asyncio.Semaphore(outstanding)

    async def one(k: int, body: bytes) -> None:
        async with gate:
            msg_id = f"{hashlib.sha256(body).hexdigest()}-{k}"
            await js.publish(f"bench.floor.{k % 204}", body, headers={"Nats-Msg-Id": msg_id})

    async def consume() -> None:
        got = 0
        while got < len(bodies):
            with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
                for msg in await sub.fetch(64, timeout=1):
                    await msg.ack()
                    got += 1

    started = time.perf_counter()
    consumer = asyncio.create_task(consume())
    await asyncio.gather(*(one(k, b) for k, b in enumerate(bodies)))
    published = time.perf_counter() - started
    await consumer
    seconds = time.perf_counter() - started
    await js.delete_stream("BENCH_FLOOR")
    await pub.close()
    await sub_nc.close()
    return {"seconds": seconds, "per_s": len(bodies) / seconds, "publish_s": published}


# ------------------------------------------------------------------ one configuration


def run_config(
    config: Config,
    mode: str,
    rate: float,
    mix: Mix,
    database_url: str,
    root: Path,
    pg_dir: Path | None = None,
) -> dict[str, Any]:
    """One fresh hub, one mode; with the floors after a throughput run."""
    if mode == "throughput":
        count = config.packages
    elif mode == "latency":
        count = int(os.environ.get("BENCH_LATENCY_PACKAGES", str(min(config.packages, 500))))
    else:  # a minute at the sustainable rate
        count = max(200, round(rate * SUSTAINED_S))
    positions = config.schedule(mix)[:count]
    from omsx.settings import Settings

    threads = int(os.environ.get("BENCH_THREADS", str(Settings().worker_threads)))
    outstanding = int(os.environ.get("BENCH_OUTSTANDING", "2"))
    load_before = os.getloadavg()
    with Hub(root, database_url, config, threads, pg_dir) as hub:
        asyncio.run(insure(hub, mix))
        cpu0, bench0 = cpu_seconds(hub.pids()), os.times()
        run = asyncio.run(drive(hub, mix, positions, mode, rate=rate, outstanding=outstanding))
        cpu1, bench1 = cpu_seconds(hub.pids()), os.times()
        memory = peaks(hub.pids())
        logged = hub.log_counts()
        hub.stop_processes()
        result: dict[str, Any] = {
            "config": config.name, "mode": mode, "threads": threads,
            "rate": rate if mode != "throughput" else None, "outstanding": outstanding,
            **summarise(run),
            "queues": queue_report(run),
            "profile": stage_profile(database_url, run),
            "peak_mb": memory,
            "bench_peak_mb": round(peak_mb(), 1),
            "cpu_s": {name: round(cpu1.get(name, 0) - cpu0.get(name, 0), 2) for name in cpu1}
            | {"bench": round(bench1.user + bench1.system - bench0.user - bench0.system, 2)},
            "logged": logged,
            "samples": run.samples,
        }  # fmt: skip
        if mode == "throughput":
            bodies = [mix.data(mix.pool[i]) for i in positions]
            result["floors"] = {
                "dramatiq": dramatiq_floor(hub, len(positions), threads),
                "jetstream": asyncio.run(jetstream_floor(hub.nats.url, bodies, outstanding * 204)),
            }
    result["load_avg"] = {"before": load_before, "after": os.getloadavg()}
    return result


# ------------------------------------------------------------------ the run


def main() -> None:
    from omsx.logs import configure_logging
    from omsx.settings import Settings

    configure_logging(Settings(log_level="WARNING"))  # the gateways' connection events
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop everything on the way out
    packages = int(os.environ.get("BENCH_PACKAGES", "5000"))
    configs = matrix(packages)
    started = time.perf_counter()
    t = time.perf_counter()
    mix = load_mix(packages)
    summary = mix.summary()
    print(f"mix: {summary} (ready in {time.perf_counter() - t:.1f} s)")
    offered = float(os.environ.get("BENCH_RATE", "50"))
    load_start = os.getloadavg()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="omsx-bench-load-") as tmp:
        root = Path(tmp)
        dbs = sorted({c.db for c in configs})
        with postgres_for(root, dbs) as pg_database:
            for n, config in enumerate(configs):
                measured = math.nan
                for mode in ("throughput", "latency", "sustainable"):
                    if mode[0] not in config.modes:
                        continue
                    rate = SUSTAINABLE * measured if mode == "sustainable" else offered
                    if math.isnan(rate):
                        print(f"{config.name} {mode}: needs its throughput run (mode t) first")
                        continue
                    where = root / f"{n}-{mode}"
                    where.mkdir()
                    url = (f"sqlite:///{where / 'var' / 'omsx.db'}" if config.db == "sqlite"
                           else pg_database(f"load_{n}_{mode}"))  # fmt: skip
                    print(f"{config.name} {mode} …", flush=True)
                    pg_dir = root / "pg" / "data" if config.db == "postgres" else None
                    result = run_config(config, mode, rate, mix, url, where, pg_dir)
                    if mode == "throughput":
                        measured = result["middle_per_s"]
                    runs.append(result)
                    print(f"  {_line(result)}", flush=True)
    report(runs)
    save("load", {
        "packages": packages,
        "mix": summary,
        "load_avg": {"start": load_start, "end": os.getloadavg()},
        "minutes": (time.perf_counter() - started) / 60,
        "targets": targets(runs),
        "runs": runs,
    })  # fmt: skip


def _line(r: dict[str, Any]) -> str:
    lat = r["latency_ms"]
    return (f"{r['answered']}/{r['published']} answered, {r['per_s']:.1f}/s "
            f"(middle {r['middle_per_s']:.1f}/s), p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms,"
            f" p99 {lat['p99']:.0f} ms, results {r['results']}")  # fmt: skip


def targets(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets against the runs. The 100/s is of small packages: each
    throughput row's rate is listed beside the best, which names its row (its part of
    the mix, :data:`PARTS`), so a best reached by one part is not read as the mix's."""
    throughput = [r for r in runs if r["mode"] == "throughput"]
    top = max(throughput, key=lambda r: r["per_s"], default=None)
    best = top["per_s"] if top else math.nan
    latency = [r for r in runs if r["mode"] == "latency"]
    return {
        "throughput_100_per_s": {
            "best_per_s": best,
            "best_of": top["config"] if top else None,
            "met": best >= 100,
            "per_s": {r["config"]: r["per_s"] for r in throughput},
        },
        "p95_under_1s_at_50_per_s": {
            r["config"]: {"p95_ms": r["latency_ms"]["p95"], "met": r["latency_ms"]["p95"] < 1000}
            for r in latency
        },
        "no_queue_growing": {
            f"{r['config']} {r['mode']}": not any(
                q["growing"] for q in r["queues"].values() if isinstance(q, dict)
            )
            for r in runs
            if r["mode"] != "throughput"
        },
    }


def report(runs: list[dict[str, Any]]) -> None:
    rows: list[list[object]] = []
    stages: list[list[object]] = []
    for r in runs:
        lat, q = r["latency_ms"], r["queues"]
        floors = r.get("floors", {})
        dq = floors.get("dramatiq", {}).get("per_s", math.nan)
        jsf = floors.get("jetstream", {}).get("per_s", math.nan)
        growing = [k for k, v in q.items() if isinstance(v, dict) and v["growing"]]
        tell = any(isinstance(v, dict) and v["growing"] is not None for v in q.values())
        hub_cpu = sum(v for k, v in r["cpu_s"].items() if k != "bench")
        rows.append([
            r["config"], r["mode"][:4], r["answered"], r["offered_per_s"], r["per_s"],
            r["middle_per_s"], lat["p50"], lat["p95"], lat["p99"], q["in_flight"]["max"],
            ",".join(growing) or ("no" if tell else "n/a"), 1000 * hub_cpu / r["published"],
            sum(r["cpu_s"].values()) / r["seconds"], dq, dq / r["middle_per_s"], jsf,
            jsf / r["middle_per_s"], r["peak_mb"][0][1] if r["peak_mb"] else math.nan,
            f"{r['load_avg']['before'][0]:.1f}→{r['load_avg']['after'][0]:.1f}",
        ])  # fmt: skip
        profile = r["profile"]["stages"]
        stages.append([f"{r['config']} {r['mode'][:4]}",
                       *(f"{v['mean']:.0f}/{v['p95']:.0f}" for v in profile.values()),
                       r["profile"]["busy"]["resends"]])  # fmt: skip
    print(table(
        ["config", "mode", "pkgs", "offered/s", "pkg/s", "middle/s", "p50 ms", "p95 ms",
         "p99 ms", "max in flight", "growing", "hub CPU ms/pkg", "cores", "DQ floor/s",
         "×", "JS floor/s", "×", "max RSS MB", "load 1m"],
        rows,
    ))  # fmt: skip
    print("\ntime per stage, mean/p95 ms (timeline + gateway clock); apply re-sent: busy lease")
    print(table(["run", *STAGES, "re-sends"], stages))
    for r in runs[:1]:
        print(f"\n{r['config']} {r['mode']}: peak resident MB per process, CPU s per process")
        print("  " + ", ".join(f"{name} {mb}" for name, mb in r["peak_mb"]))
        print("  " + ", ".join(f"{name} {s}" for name, s in r["cpu_s"].items()))


if __name__ == "__main__":
    main()
