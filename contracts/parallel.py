"""FLK of a large file on every core: records split at their byte boundaries, checked in
batches by worker processes, merged back in file order.

The parent process reads the (decompressed) file once, without parsing: it keeps the
head (prolog, root start tag, ZGLV, SCHET) and the tail, and cuts the records
(``<ZAP>…</ZAP>``) out of the bytes in between. Batches of records go to a process
pool; each worker parses its batch, validates every record against the XSD, converts
it and runs the record rules — the same functions the sequential path uses. The parent
merges the results in order: keys unique across the file (905), totals and ID_PAC
sets for the file rules, refused positions. The head and tail, parsed together, are the
shell that is validated at the end, with the file rules.

Anything that does not fit this shape — text or elements between records, a record
tag with attributes, a CDATA section — makes :func:`check_file_parallel` return
``None``, and the caller runs the sequential :func:`contracts.filecheck.check_file`,
which reports such things exactly — and so does a head or a record longer than
:data:`~contracts.filecheck.MAX_HELD_BYTES`, which the sequential path refuses. Memory
stays flat: at most ``workers × 2`` batches are in flight, each of at most
:data:`BATCH_BYTES` plus one record and :data:`BATCH_RECORDS` records. Once the file is
rejected and its problems fill the cap, the sequential path takes over: it only counts
the remaining records.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import IO, Any

from lxml import etree

from contracts.filecheck import (
    MAX_HELD_BYTES,
    FileCheck,
    Walker,
    key_projection,
    nested_key_problems,
    structure_problems,
)
from contracts.filenames import PackageName
from contracts.protocol import Problem
from contracts.records import Record, to_record

BATCH_BYTES = 4 << 20  # ~2,500 register cases a batch
BATCH_RECORDS = 2_500  # and no more records than that, however small (a flood of tiny ones)
CHUNK = 1 << 20
_HEAD_LIMIT = MAX_HELD_BYTES  # a header larger than this is not a header: go sequential
_SPACE = frozenset(b" \t\r\n")


@dataclass
class BatchResult:
    """One batch, as a worker saw it (positions are 1-based in the file)."""

    records: list[
        tuple[
            list[tuple[Problem, bool]],
            Record,
            list[tuple[Problem, bool]],
            list[tuple[Problem, bool]],
        ]
    ]
    totals: dict[str, Decimal] = field(default_factory=dict)
    seen_id_pac: set[str] = field(default_factory=set)
    collected: dict[str, Record] = field(default_factory=dict)
    refused_pac: dict[str, str] = field(default_factory=dict)
    refused_by_person: dict[int, str] = field(default_factory=dict)
    malformed: bool = False  # the batch did not parse: the sequential path must judge


# ---------------------------------------------------------------- worker side

_worker_env: Any = None


def _init_worker(env: Any) -> None:
    global _worker_env  # noqa: PLW0603 - the worker process's environment, set once
    from contracts.flk import MemoRefs

    _worker_env = replace(env, refs=MemoRefs(env.refs))


def _check_batch(job: tuple[Any, ...], first: int) -> BatchResult:
    """Parse, validate, convert and rule-check one batch (runs in a worker process)."""
    from contracts.filecheck import schemas_for
    from contracts.flk import RuleRunner

    (
        fmt,
        name,
        file_type,
        base_name,
        header,
        persons,
        main_name,
        refused_pac,
        encoding,
        body,
        today,
    ) = job
    env = replace(_worker_env, today=today)
    runner = RuleRunner(
        env,
        name,
        file_type,
        base_name,
        persons=persons,
        main_name=main_name,
        refused_pac=refused_pac,
    )
    runner.begin(fmt, header)
    schema, _shell = schemas_for(fmt)
    try:
        doc = etree.fromstring(
            f'<?xml version="1.0" encoding="{encoding}"?><BATCH>'.encode("ascii")
            + body
            + b"</BATCH>",
            etree.XMLParser(
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                huge_tree=False,
                remove_comments=True,
            ),
        )
    except etree.XMLSyntaxError:
        # lxml's error is not picklable, and the exact 901 is the sequential path's job
        return BatchResult(records=[], malformed=True)
    out = BatchResult(records=[])
    for offset, elem in enumerate(doc):
        position = first + offset
        structure = structure_problems(schema, elem)
        record = to_record(elem)
        nested = nested_key_problems(record, elem.tag)
        rules = list(runner.record(record, position))
        keys_only = key_projection(record, fmt.records)
        out.records.append((structure, keys_only, nested, rules))
    assert runner.ctx is not None
    out.totals = dict(runner.ctx.totals)
    out.seen_id_pac = set(runner.ctx.seen_id_pac)
    out.collected = runner.collected
    out.refused_pac = runner.refused_pac
    out.refused_by_person = runner.refused_by_person
    return out


# ---------------------------------------------------------------- the pool

_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[object, ...] = ()
_pool_lock = threading.Lock()


def pool(env: Any, workers: int) -> ProcessPoolExecutor:
    """The process pool, kept while the reference data it was started with stays current.

    Workers are spawned, not forked (the caller may be a threaded Dramatiq worker), and
    receive the environment once; new reference data (a reload) starts a new pool.
    """
    global _pool, _pool_key  # noqa: PLW0603 - one pool per process by design
    key = (
        id(env.participants),
        id(env.refs),
        id(env.catalogue),
        env.region,
        env.structure_only,
        workers,
    )
    with _pool_lock:
        if _pool is None or _pool_key != key:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(env,),
            )
            _pool_key = key
        return _pool


def shutdown_pools() -> None:
    global _pool  # noqa: PLW0603 - see pool()
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(cancel_futures=True)
        _pool = None


# ---------------------------------------------------------------- parent side

_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class _Splitter:
    """Cuts ``<TAG>…</TAG>`` records out of a byte stream; ``irregular`` when it cannot."""

    def __init__(self, source: IO[bytes], tag: str) -> None:
        self.source = source
        self.open = f"<{tag}>".encode()
        self.close = f"</{tag}>".encode()
        self.buffer = b""
        self.head = b""
        self.tail = b""
        self.irregular = False
        self.eof = False

    def _fill(self) -> bool:
        chunk = self.source.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def read_head(self) -> bool:
        """Everything before the first record (prolog, root, header)."""
        while (at := self.buffer.find(self.open)) < 0:
            if len(self.buffer) > _HEAD_LIMIT or not self._fill():
                self.irregular = True
                return False
        self.head, self.buffer = self.buffer[:at], self.buffer[at:]
        if b"<![CDATA[" in self.head:
            self.irregular = True
        return not self.irregular

    def batches(self, size: int) -> Iterator[tuple[bytes, int]]:
        """(bytes of whole records, how many) until the records end.

        Sets ``irregular`` (and stops) on anything the sequential path must judge.
        """
        parts: list[bytes] = []
        n = length = pos = 0
        buf = self.buffer
        while True:
            while pos < len(buf) and buf[pos] in _SPACE:
                pos += 1
            if pos == len(buf) or (
                len(buf) - pos < len(self.open) and self.open.startswith(buf[pos:])
            ):
                more = self.source.read(CHUNK)
                if not more:
                    self.irregular = True  # the document ends among the records
                    return
                buf, pos = buf[pos:] + more, 0
                continue
            if not buf.startswith(self.open, pos):
                self.tail = buf[pos:]
                self._drain_tail()
                if self.open in self.tail:
                    self.irregular = True  # something between records: judge it exactly
                    return
                if parts:
                    yield b"".join(parts), n
                return
            end = buf.find(self.close, pos)
            while end < 0:
                more = self.source.read(CHUNK)
                if not more or len(buf) - pos > MAX_HELD_BYTES:
                    self.irregular = True  # the end, or a record the sequential path refuses
                    return
                buf, pos = buf[pos:] + more, 0
                end = buf.find(self.close, pos)
            end += len(self.close)
            record = buf[pos:end]
            if b"<![CDATA[" in record or record.count(self.open) != 1:
                self.irregular = True
                return
            parts.append(record)
            length += len(record)
            n += 1
            pos = end
            if length >= size or n >= BATCH_RECORDS:
                yield b"".join(parts), n
                parts, n, length = [], 0, 0

    def _drain_tail(self) -> None:
        while chunk := self.source.read(CHUNK):
            self.tail += chunk
            if len(self.tail) > _HEAD_LIMIT:
                self.irregular = True
                return


def check_file_parallel(
    source: IO[bytes],
    *,
    file_type: str,
    base_name: str,
    env: Any,
    pool_env: Any,
    name: PackageName,
    persons: dict[str, Record] | None,
    main_name: str | None = None,
    refused_pac: dict[str, str] | None = None,
    workers: int = 2,
    max_problems: int = 10_000,
    batch_bytes: int = BATCH_BYTES,
) -> tuple[FileCheck, Any] | None:
    """The file's check on ``workers`` processes, or None when its shape needs the
    sequential path. Returns the check and the parent's rule runner (for persons).

    ``env`` serves the parent (header and file rules); ``pool_env`` is the long-lived
    environment the worker processes are started with."""
    from contracts.flk import RuleRunner

    runner = RuleRunner(
        env,
        name,
        file_type,
        base_name,
        persons=persons,
        main_name=main_name,
        refused_pac=refused_pac,
    )
    result = FileCheck(base_name=base_name)
    walker = Walker(result, runner, max_problems, file_type)
    tag = walker.record_tag()
    if tag is None:
        return None
    splitter = _Splitter(source, tag)
    if not splitter.read_head():
        return None
    header_doc = _parse_shell(splitter.head + _close_root(splitter.head))
    if header_doc is None or not walker.resolve_shell(header_doc):
        return None  # let the sequential path say exactly what is wrong with the header
    fmt = walker.fmt
    assert fmt is not None
    encoding = _encoding(splitter.head)
    walker.begin(header_doc)
    batches = (
        (
            (
                fmt,
                name,
                file_type,
                base_name,
                walker.result.header,
                _persons_of(body, persons, encoding),
                main_name,
                _refused_of(body, refused_pac, encoding),
                encoding,
                body,
                env.today,
            ),
            count,
        )
        for body, count in splitter.batches(batch_bytes)
    )
    if not _run(pool(pool_env, workers), batches, walker, runner, workers) or splitter.irregular:
        return None
    shell = _parse_shell(splitter.head + splitter.tail)
    if shell is None:
        return None
    walker.finish(shell)
    return result, runner


def _run(
    executor: ProcessPoolExecutor,
    batches: Iterator[tuple[tuple[Any, ...], int]],
    walker: Walker,
    runner: Any,
    workers: int,
) -> bool:
    """Submit every batch (at most ``2 × workers`` in flight) and fold the results in file
    order; False when one was not well-formed, or when the file is rejected with its
    problems capped (the sequential path counts the rest cheaply); the rest are cancelled."""
    position = 1
    pending: list[tuple[Future[BatchResult], int]] = []
    for job, count in batches:
        pending.append((executor.submit(_check_batch, job, position), position))
        position += count
        while len(pending) > workers * 2:
            if not _merge(walker, runner, *pending.pop(0)) or _capped(walker):
                return _cancel(pending)
    while pending:
        if not _merge(walker, runner, *pending.pop(0)) or _capped(walker):
            return _cancel(pending)
    return True


def _capped(walker: Walker) -> bool:
    return walker.result.file_rejected and len(walker.result.problems) >= walker.cap


def _cancel(pending: list[tuple[Future[BatchResult], int]]) -> bool:
    for future, _ in pending:
        future.cancel()
    return False


def _merge(walker: Walker, runner: Any, future: Future[BatchResult], first: int) -> bool:
    """Fold one batch into the file's result; False when the batch was not well-formed."""
    batch = future.result()
    if batch.malformed:
        return False
    for offset, (structure, keys, nested, rules) in enumerate(batch.records):
        walker.result.records += 1
        walker.fold(first + offset, structure, keys, nested, rules)
    ctx = runner.ctx
    for key, value in batch.totals.items():
        ctx.totals[key] = ctx.totals.get(key, Decimal(0)) + value
    ctx.seen_id_pac |= batch.seen_id_pac
    runner.collected.update(batch.collected)
    runner.refused_pac |= batch.refused_pac
    runner.refused_by_person |= batch.refused_by_person
    return True


_ID_PAC = re.compile(rb"<ID_PAC>\s*([^<]*?)\s*</ID_PAC>")


def _referred(body: bytes, encoding: str) -> set[str]:
    return {m.decode(encoding, "replace") for m in _ID_PAC.findall(body)}


def _persons_of(
    body: bytes, persons: dict[str, Record] | None, encoding: str
) -> dict[str, Record] | None:
    """Only the persons a batch refers to travel with it (not the whole L-file each time).

    ``None`` (the L-file pass, which collects persons) stays ``None``.
    """
    if persons is None:
        return None
    return {pac: persons[pac] for pac in _referred(body, encoding) if pac in persons}


def _refused_of(
    body: bytes, refused: dict[str, str] | None, encoding: str
) -> dict[str, str] | None:
    if not refused:
        return refused
    return {pac: refused[pac] for pac in _referred(body, encoding) if pac in refused}


def _close_root(head: bytes) -> bytes:
    match = re.search(rb"<([A-Za-z_][\w.-]*)[\s>]", head[head.find(b"<", head.find(b"?>") + 2) :])
    return f"</{match.group(1).decode()}>".encode() if match else b""


def _parse_shell(data: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(
            data,
            etree.XMLParser(
                resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
            ),
        )
    except etree.XMLSyntaxError:
        return None


def _encoding(head: bytes) -> str:
    match = _DECL_ENCODING.search(head[:200])
    return match.group(1).decode("ascii") if match else "utf-8"
