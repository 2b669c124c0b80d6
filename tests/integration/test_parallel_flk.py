"""The parallel FLK path (worker processes) answers exactly as the sequential one."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest

from contracts.flk import Environment, FlkResult, check_flk
from contracts.package import Subject
from contracts.parallel import shutdown_pools
from contracts.participants import ParticipantDirectory, load_participants_csv, seed_path
from contracts.refs import Directories
from tests.builders import register

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
SUBJECT = Subject.parse("oms.in.mo.640001.registry")


@pytest.fixture(scope="module")
def env() -> Iterator[Environment]:
    seed = seed_path("64")
    assert seed is not None
    yield Environment(
        participants=ParticipantDirectory(load_participants_csv(seed)),
        refs=Directories.seed(),
        region="64",
        today=date(2026, 1, 1),
    )
    shutdown_pools()


def both(env: Environment, name: str, data: bytes) -> tuple[FlkResult, FlkResult]:
    sequential = check_flk(data, file_name=name, subject=SUBJECT, env=env)
    parallel_env = replace(env, workers=2, parallel_min_bytes=0, parallel_batch_bytes=100_000)
    parallel = check_flk(data, file_name=name, subject=SUBJECT, env=parallel_env)
    return sequential, parallel


def rezip(data: bytes, change: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change.get(info.filename, src.read(info)))
    return buf.getvalue()


def test_a_register_with_planted_defects_gets_the_same_protocol_on_both_paths(
    env: Environment,
) -> None:
    name, data = register("HM640001S64004_25111", n=1500, defects=0.05, seed=11)
    sequential, parallel = both(env, name, data)
    assert sequential.protocol.result == "P" and sequential.protocol.n_rej > 0
    assert parallel.protocol == sequential.protocol
    assert parallel.refused == sequential.refused


def test_a_file_with_something_between_records_falls_back_and_answers_the_same(
    env: Environment,
) -> None:
    name, data = register("HM640001S64004_25112", n=300, seed=12)
    main = name.removesuffix(".zip") + ".xml"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read(main)
    cut = xml.index(b"</ZAP>") + len(b"</ZAP>")
    odd = xml[:cut] + b"<!-- a comment between records --><EXTRA>1</EXTRA>" + xml[cut:]
    sequential, parallel = both(env, name, rezip(data, {main: odd}))
    assert sequential.protocol.result == "R"
    assert parallel.protocol == sequential.protocol


def test_a_structure_error_deep_in_a_record_is_positioned_the_same_on_both_paths(
    env: Environment,
) -> None:
    name, data = register("HM640001S64004_25113", n=400, seed=13)
    main = name.removesuffix(".zip") + ".xml"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read(main)
    at = xml.index(b"<DS1>", len(xml) // 2)
    broken = xml[:at] + b"<DS1></DS1><DS1_X>" + xml[at + 5 :].replace(b"</DS1>", b"</DS1_X>", 1)
    sequential, parallel = both(env, name, rezip(data, {main: broken}))
    assert sequential.protocol.result == "R"
    assert {p.oshib for p in sequential.protocol.problems} & {"901", "902"}
    assert parallel.protocol == sequential.protocol


def test_a_malformed_record_makes_the_parallel_path_step_aside_for_the_exact_answer(
    env: Environment,
) -> None:
    name, data = register("HM640001S64004_25114", n=300, seed=14)
    main = name.removesuffix(".zip") + ".xml"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read(main)
    at = xml.index(b"<PR_NOV>", len(xml) // 2)
    broken = xml[:at] + b"<UNCLOSED>" + xml[at:]  # well-formed nowhere: </ZAP> closes too early
    sequential, parallel = both(env, name, rezip(data, {main: broken}))
    assert sequential.protocol.result == "R"
    assert [p.oshib for p in sequential.protocol.problems] == ["901"]
    assert parallel.protocol == sequential.protocol
