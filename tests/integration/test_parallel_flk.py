"""The parallel FLK path (worker processes) answers exactly as the sequential one."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
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


def both_after(
    env: Environment, base: str, n: int, seed: int, change: Callable[[bytes], bytes]
) -> tuple[FlkResult, FlkResult]:
    """Both paths over a generated register whose main XML ``change`` rewrote."""
    name, data = register(base, n=n, seed=seed)
    main = name.removesuffix(".zip") + ".xml"
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            member = src.read(info)
            dst.writestr(info.filename, change(member) if info.filename == main else member)
    return both(env, name, buf.getvalue())


def test_a_register_with_planted_defects_gets_the_same_protocol_on_both_paths(
    env: Environment,
) -> None:
    name, data = register("HM640001S64004_25111", n=1500, defects=0.05, seed=11)
    sequential, parallel = both(env, name, data)
    assert sequential.protocol.result == "P" and sequential.protocol.n_rej > 0
    assert parallel.protocol == sequential.protocol
    assert parallel.refused == sequential.refused


def _between_records(xml: bytes) -> bytes:
    cut = xml.index(b"</ZAP>") + len(b"</ZAP>")
    return xml[:cut] + b"<!-- a comment between records --><EXTRA>1</EXTRA>" + xml[cut:]


def _empty_and_unknown(xml: bytes) -> bytes:
    at = xml.index(b"<DS1>", len(xml) // 2)
    return xml[:at] + b"<DS1></DS1><DS1_X>" + xml[at + 5 :].replace(b"</DS1>", b"</DS1_X>", 1)


def _unclosed(xml: bytes) -> bytes:
    at = xml.index(b"<PR_NOV>", len(xml) // 2)
    return xml[:at] + b"<UNCLOSED>" + xml[at:]  # well-formed nowhere: </ZAP> closes too early


def test_a_file_with_something_between_records_falls_back_and_answers_the_same(
    env: Environment,
) -> None:
    sequential, parallel = both_after(env, "HM640001S64004_25112", 300, 12, _between_records)
    assert sequential.protocol.result == "R"
    assert parallel.protocol == sequential.protocol


def test_a_structure_error_deep_in_a_record_is_positioned_the_same_on_both_paths(
    env: Environment,
) -> None:
    sequential, parallel = both_after(env, "HM640001S64004_25113", 400, 13, _empty_and_unknown)
    assert sequential.protocol.result == "R"
    assert {p.oshib for p in sequential.protocol.problems} & {"901", "902"}
    assert parallel.protocol == sequential.protocol


def test_a_malformed_record_makes_the_parallel_path_step_aside_for_the_exact_answer(
    env: Environment,
) -> None:
    sequential, parallel = both_after(env, "HM640001S64004_25114", 300, 14, _unclosed)
    assert sequential.protocol.result == "R"
    assert [p.oshib for p in sequential.protocol.problems] == ["901"]
    assert parallel.protocol == sequential.protocol
