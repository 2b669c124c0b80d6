"""Format-logical control of a whole package: the package checks, then every file.

    result = check_flk(path, file_name=…, subject=…, participants=…, region="64",
                       refs=Directories.seed(), today=date.today())
    result.protocol        # the FLK protocol (RESULT, N_ACC, N_REJ, PR*)
    result.main.refused    # positions of refused records, for the apply stage

For registers the L-file is checked first: its persons (ID_PAC → PERS) feed the
main file's rules (birth date, linkage), and a person refused in the L-file refuses
the cases that point to it. Rules come from the catalogue (``contracts.rules``);
the stateful ones (MEK against the registry, 005K/007F) run later, in the workers.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from contracts.filecheck import FileCheck, check_file
from contracts.filenames import PackageName, Party, strip_extension
from contracts.formats import Format
from contracts.package import Limits, PackageCheck, Subject, check_package, open_member
from contracts.parallel import check_file_parallel
from contracts.participants import ParticipantDirectory
from contracts.protocol import Problem, Protocol, reason_of
from contracts.records import Record
from contracts.rules import PERSON_FIELDS, Catalogue, FileContext, Refs, Rule, load_catalogue
from omsx.errors import FileNameError


@dataclass
class FlkResult:
    """Everything FLK found in one package."""

    package: PackageCheck
    protocol: Protocol
    main: FileCheck | None = None
    personal: FileCheck | None = None
    refused: dict[int, str] = field(default_factory=dict)
    """Main-file positions refused for any reason → the first reason (rule id or code)."""

    @property
    def accepted(self) -> int:
        return self.protocol.n_acc


@dataclass
class Environment:
    """What the checks read besides the package: directories, participants, the date."""

    participants: ParticipantDirectory
    refs: Refs
    region: str
    today: date
    catalogue: Catalogue = field(default_factory=load_catalogue)
    limits: Limits = field(default_factory=Limits)
    structure_only: bool = False
    max_problems: int = 10_000
    workers: int = 1  # processes for one large file (contracts.parallel); 1 = in this process
    parallel_min_bytes: int = 16 << 20  # files smaller than this are checked in-process
    parallel_batch_bytes: int = 4 << 20  # records handed to a worker process at a time
    keep: int = 0  # files of at most this many records hand them back (FileCheck.kept)


def check_flk(
    source: bytes | Path, *, file_name: str, subject: Subject, env: Environment
) -> FlkResult:
    # the file checks below parse every file anyway: the package check only guards bytes
    package = check_package(
        source,
        file_name=file_name,
        subject=subject,
        participants=env.participants,
        region=env.region,
        limits=env.limits,
        parse_xml=False,
    )
    base = strip_extension(file_name) if file_name else ""
    if not package.ok or package.name is None:
        problem = package.problems[0]
        return FlkResult(package, Protocol.rejected(base or "NONAME", problem))
    name = package.name
    result = FlkResult(package, Protocol(fname_i=name.base, result="A"))
    base_env = env
    env = replace(env, refs=MemoRefs(env.refs))
    with _open(source) as zf:
        persons: dict[str, Record] = {}
        refused_pac: dict[str, str] = {}
        main_base = strip_extension(package.members["main"])
        if "personal" in package.members:
            member = package.members["personal"]
            result.personal, runner = _check_member(
                zf,
                member,
                "L",
                env=env,
                base_env=base_env,
                name=name,
                persons=None,
                main_name=main_base,
            )
            persons, refused_pac = runner.collected, runner.refused_pac
        result.main, runner = _check_member(
            zf,
            package.members["main"],
            name.type,
            env=env,
            base_env=base_env,
            name=name,
            persons=persons,
            refused_pac=refused_pac,
        )
        result.refused = runner.refused_by_person | result.main.refused
    result.protocol = _protocol(name, result)
    return result


def _check_member(
    zf: zipfile.ZipFile,
    member: str,
    file_type: str,
    *,
    env: Environment,
    base_env: Environment,
    name: PackageName,
    persons: dict[str, Record] | None,
    main_name: str | None = None,
    refused_pac: dict[str, str] | None = None,
) -> tuple[FileCheck, RuleRunner]:
    """One file: on several processes when it is large and regular, else in this one."""
    base = strip_extension(member)
    if env.workers > 1 and zf.getinfo(member).file_size >= env.parallel_min_bytes:
        with open_member(zf, member, env.limits) as stream:
            done = check_file_parallel(
                stream,
                file_type=file_type,
                base_name=base,
                env=env,
                pool_env=base_env,
                name=name,
                persons=persons,
                main_name=main_name,
                refused_pac=refused_pac,
                workers=env.workers,
                max_problems=env.max_problems,
                batch_bytes=env.parallel_batch_bytes,
            )
        if done is not None:
            return done
    runner = RuleRunner(
        env, name, file_type, base, persons=persons, main_name=main_name, refused_pac=refused_pac
    )
    with open_member(zf, member, env.limits) as stream:
        checked = check_file(
            stream,
            file_type=file_type,
            base_name=base,
            hooks=runner,
            max_problems=env.max_problems,
            keep=env.keep,
        )
    return checked, runner


def _protocol(name: PackageName, result: FlkResult) -> Protocol:
    files = [f for f in (result.personal, result.main) if f is not None]
    problems: list[Problem] = [p for f in files for p in f.problems]
    rejected = any(f.file_rejected for f in files)
    main = result.main
    records = main.records if main is not None else 0
    n_rej = records if rejected else len(result.refused)
    return Protocol.decide(
        name.base, n_acc=records - n_rej, n_rej=n_rej, problems=problems, file_rejected=rejected
    )


@contextmanager
def _open(source: bytes | Path) -> Iterator[zipfile.ZipFile]:
    with (
        source.open("rb") if isinstance(source, Path) else io.BytesIO(source) as fh,
        zipfile.ZipFile(fh) as zf,
    ):
        yield zf


class MemoRefs:
    """Directory answers memoised for one check: a register repeats a few hundred
    (code, date) pairs across 100k records, and each lookup normalises its code."""

    def __init__(self, refs: Refs) -> None:
        self._refs = refs
        self._answers: dict[tuple[str, str, date | None], bool] = {}

    def valid(self, name: str, code: str, on: date | None = None) -> bool:
        key = (name, code, on)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = self._refs.valid(name, code, on)
        return answer


class RuleRunner:
    """The hooks of :func:`contracts.filecheck.check_file`: the catalogue's rules."""

    def __init__(
        self,
        env: Environment,
        name: PackageName,
        file_type: str,
        base_name: str,
        *,
        persons: dict[str, Record] | None,
        main_name: str | None = None,
        refused_pac: dict[str, str] | None = None,
    ) -> None:
        self.env = env
        self.name = name
        self.file_type = file_type
        self.base_name = base_name
        self.main_name = main_name
        self.persons = persons if persons is not None else {}
        self.collect = persons is None  # the L-file pass collects persons for the main pass
        self.collected: dict[str, Record] = {}
        self.refused_pac: dict[str, str] = {}  # L-file ID_PAC refused → why
        self.given_refused_pac = refused_pac or {}
        self.refused_by_person: dict[int, str] = {}  # main-file positions refused via their PERS
        self.ctx: FileContext | None = None
        self.record_rules: list[Rule] = []
        self.file_rules: list[Rule] = []
        if not env.structure_only:
            self.record_rules = env.catalogue.for_file(file_type, "record")
            self.file_rules = env.catalogue.for_file(file_type, "file")

    def begin(self, fmt: Format, header: Record) -> None:
        self.ctx = FileContext(
            kind=fmt.kind,
            file_type=self.file_type,
            version=fmt.version,
            file_name=self.base_name,
            header=header,
            persons=self.persons,
            refs=self.env.refs,
            today=self.env.today,
            region=self.env.region,
            sender_code=self.name.sender.code,
            participants=self._participant,
            main_file_name=self.main_name,
        )

    def _participant(self, role: str, code: str) -> bool:
        try:
            return self.env.participants.is_active(Party.from_token(f"{role}.{code}"))
        except FileNameError:
            return False

    def record(self, record: Record, position: int) -> Iterable[tuple[Problem, bool]]:
        ctx = self.ctx
        assert ctx is not None
        out = _findings(self.record_rules, record, ctx)
        if self.collect:
            pac = record.get("ID_PAC")
            if isinstance(pac, str):
                # only what the main file's rules read: memory stays ~100 bytes a person
                self.collected[pac] = {k: record[k] for k in PERSON_FIELDS if k in record}
                refusing = next((p for p, _ in out if p.bas_el), None)
                if refusing is not None:
                    self.refused_pac.setdefault(pac, reason_of(refusing))
        elif self.given_refused_pac:
            pac = (record.get("PACIENT") or {}).get("ID_PAC")
            reason = self.given_refused_pac.get(pac) if isinstance(pac, str) else None
            if reason is not None:
                self.refused_by_person[position] = reason
        ctx.observe(record)
        return out

    def end(self, records: int) -> Iterable[tuple[Problem, bool]]:
        ctx = self.ctx
        if ctx is None:
            return []
        ctx.record_count = records
        return _findings(self.file_rules, ctx.header, ctx)


def _findings(rules: list[Rule], data: Record, ctx: FileContext) -> list[tuple[Problem, bool]]:
    """Each rule's problems, with whether the rule's severity rejects the whole file."""
    out: list[tuple[Problem, bool]] = []
    for rule in rules:
        assert rule.check is not None  # for_file hands over stateless rules only
        out.extend((problem, rule.severity == "reject") for problem in rule.check(data, ctx))
    return out
