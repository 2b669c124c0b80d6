"""A deployment for region 75 that loads its participants accepts the reference samples'
codes: the shipped directories cover every code the real samples use (issue: contracts).

The samples are bare main files (no L-files), so only the rules that need the L-file
(ID_PAC linkage) may speak; structure (901–903) and every directory rule (904) must not.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.filecheck import check_file
from contracts.filenames import parse_name
from contracts.flk import Environment, RuleRunner
from contracts.participants import Participant, ParticipantDirectory
from contracts.refs import Directories

pytestmark = pytest.mark.conformance

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "registry-v3"
PARTICIPANTS = [
    Participant("mo", code, f"МО {code}") for code in ("750096", "750052", "750002", "750072")
] + [Participant("smo", "75001", "СМО 75001"), Participant("tfoms", "75", "ТФОМС 75")]
# H_VALID_3.2.XML declares VERSION 3.1 over 3.2 content: the hub dispatches by VERSION
# (exchange.md) and rejects it, which tests/conformance/test_reference_samples.py records
SAMPLES = [
    "H_VALID.XML",
    "C_VALID.XML",
    "C_EMPTY_ELEMENT.XML",
    "T_VALID.XML",
    "D_VALID.XML",
    "D_VALID_08_2021.XML",
]
NEEDS_L_FILE = {"003F.00.3080"}


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_region_75_deployment_accepts_the_codes_of_the_reference_samples(sample: str) -> None:
    path = REFERENCE / sample
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared/reference is not beside this clone)")
    text = path.read_bytes()
    base = text.split(b"<FILENAME>")[1].split(b"</FILENAME>")[0].decode()
    name = parse_name(base)
    env = Environment(
        participants=ParticipantDirectory(PARTICIPANTS),
        refs=Directories.seed(),
        region="75",
        today=date(2026, 1, 1),
    )
    runner = RuleRunner(env, name, name.type, base, persons={})
    with path.open("rb") as fh:
        result = check_file(fh, file_type=name.type, base_name=base, hooks=runner)
    found = {
        (p.oshib, p.comment.split(" ")[0] if p.oshib == "904" else "") for p in result.problems
    }
    assert {code for code, _ in found} <= NEEDS_L_FILE, result.problems
    assert result.records >= 1
