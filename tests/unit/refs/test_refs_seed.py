"""The shipped seed: what it holds, where each file says it comes from, and ICD-10."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.refs import Directories, parse_csv
from contracts.refs.icd10 import SUPPLEMENT, Icd10
from contracts.refs.seed import seed_paths

# the directories exchange.md §6 checks against
RULES_NEED = ["V002", "V006", "V008", "V009", "V010", "V012", "V014", "V021"]
RULES_NEED += ["F008", "F014", "M001"]


@pytest.fixture(scope="module")
def refs() -> Directories:
    return Directories.seed()


def test_the_seed_holds_every_directory_the_rules_read(refs: Directories) -> None:
    for name in RULES_NEED:
        assert refs.known(name), name
        assert len(refs.get(name)) > 0, name


@pytest.mark.parametrize("path", seed_paths(), ids=lambda path: path.stem)
def test_every_seed_file_parses_and_names_its_source(path: Path) -> None:
    directory = parse_csv(path)
    assert directory.source.startswith("НСИ ФОМС " + directory.name)
    assert "not an official copy" in directory.source
    assert directory.title
    assert len(directory) > 0


def test_the_codes_named_by_the_rule_catalogue_exist(refs: Directories) -> None:
    # exchange.md §6: 006F.00.1200, 006F.00.1280, 006F.00.0350
    vidpom = {3, 21, 31, 32, 33, 12, 13, 14, 1, 2, 4, 11, 22, 23}
    assert all(refs.valid("V008", code) for code in vidpom)
    assert all(refs.valid("V006", code) for code in (1, 2, 3, 4))
    assert all(refs.valid("V014", code) for code in (1, 2, 3))
    assert all(refs.valid("V009", code) for code in (317, 321, 332, 343, 347))


def test_seed_dates_follow_the_federal_history(refs: Directories) -> None:
    assert refs.valid("V010", 1, date(2013, 12, 31))
    assert not refs.valid("V010", 1, date(2014, 1, 25))
    assert not refs.valid("V010", 44, date(2018, 12, 31))
    assert refs.valid("V010", 44, date(2019, 1, 1))
    assert not refs.valid("V006", 4, date(2012, 12, 31))
    assert not refs.valid("V009", 312, date(2018, 1, 1))
    assert refs.valid("V002", 136, date(2017, 12, 11)) and refs.valid("V002", 136, date(2018, 1, 1))
    assert refs.valid("F014", "5.1.1", date(2021, 4, 5))
    assert refs.valid("V025", "2.3", date(2021, 4, 5)) and not refs.valid("V025", "2.4")


def test_icd10_accepts_codes_with_or_without_the_dot_in_any_case() -> None:
    icd = Icd10()
    for code in ("I10", "J06.9", "J069", "j06.9", " c50.9 ", "K29.7", "C50", "U07.1"):
        assert icd.valid(code), code
    assert icd.get("j069").code == "J06.9"  # type: ignore[union-attr]
    assert icd.get("I10").name  # type: ignore[union-attr]


def test_icd10_refuses_chapters_blocks_placeholders_and_made_up_codes() -> None:
    icd = Icd10()
    made_up = ("Z99.99", "I10.", "С50.9", "", "J06.90")  # the «С» of «С50.9» is Cyrillic
    for code in ("XXII", "A00-B99", "A00-A09", "U07.3", "U08.0", *made_up):
        assert not icd.valid(code), code


def test_icd10_supplement_adds_the_covid_codes_the_2019_edition_lacks() -> None:
    icd = Icd10()
    for code in SUPPLEMENT:
        assert icd.valid(code), code
    assert icd.get("U099").name == "Состояние после COVID-19, неуточненное"  # type: ignore[union-attr]


def test_icd10_has_no_dates_so_a_code_is_valid_on_any_date(refs: Directories) -> None:
    assert refs.valid("M001", "A00.0", date(1990, 1, 1))
    assert refs.valid("M001", "A00.0", date(2099, 12, 31))


def test_icd10_lists_every_code_it_accepts() -> None:
    icd = Icd10()
    entries = list(icd)
    assert len(entries) == len(icd) > 12000
    assert all(icd.valid(entry.code) for entry in entries[::97])
    assert {"U09.9", "I10", "J06.9"} <= {entry.code for entry in entries}
