"""The published samples in ../shared/reference validate against the project's own XSDs.

Pairs as in the reference README: each sample with the type of its file name and the
edition it was published for. PRK, OZP and SZP (attach family) are outside the
contract and are not read; FATM is a reply, not an input.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conformance.helpers import (
    check,
    fmt_of,
    parse,
    records,
    reference_folder,
    standalone,
)

pytestmark = pytest.mark.conformance

# sample, file type (from its name), edition it is published for, VERSION in its header
SAMPLES = [
    ("registry-v3/H_VALID.XML", "H", "3.1", "3.1"),
    ("registry-v3/H_VALID_3.2.XML", "H", "3.2", "3.1"),
    ("registry-v3/C_VALID.XML", "C", "3.1", "3.1"),
    ("registry-v3/C_EMPTY_ELEMENT.XML", "C", "3.1", "3.1"),
    ("registry-v3/T_VALID.XML", "T", "3.1", "3.1"),
    ("registry-v3/D_VALID.XML", "DO", "3.1", "3.1"),
    ("registry-v3/D_VALID_08_2021.XML", "DO", "3.1", "3.1"),
    ("attach/ATM352530T35351_251028.xml", "AT", "1.3", "1.3"),
]
IDS = [s[0].rpartition("/")[2] for s in SAMPLES]


def _sample(name: str) -> Any:
    return parse((reference_folder() / name).read_bytes())


@pytest.mark.parametrize(("name", "file_type", "edition", "header"), SAMPLES, ids=IDS)
def test_every_reference_sample_validates_with_no_error_in_lxml_and_in_xmlschema(
    name: str, file_type: str, edition: str, header: str
) -> None:
    verdict = check(fmt_of(file_type, edition), _sample(name))
    assert verdict.valid, verdict


@pytest.mark.parametrize(("name", "file_type", "edition", "header"), SAMPLES, ids=IDS)
def test_every_record_of_every_sample_validates_on_its_own(
    name: str, file_type: str, edition: str, header: str
) -> None:
    fmt = fmt_of(file_type, edition)
    found = records(fmt, _sample(name))
    assert found
    for record in found:
        verdict = check(fmt, standalone(record))
        assert verdict.valid, verdict


@pytest.mark.parametrize(("name", "file_type", "edition", "header"), SAMPLES, ids=IDS)
def test_every_sample_header_carries_a_supported_version(
    name: str, file_type: str, edition: str, header: str
) -> None:
    root = _sample(name)
    version = root.findtext("ZGLV/VERSION")
    assert version == header
    assert fmt_of(file_type, version).types >= {file_type}


def test_the_h_3_2_sample_says_3_1_in_its_header_so_only_its_edition_selects_h_3_2() -> None:
    # The publisher's loader picks the edition by the reporting period (SCHET 2022-01),
    # the hub by ZGLV/VERSION: read as 3.1, the file fails on ENP and MR_USL_N.
    root = _sample("registry-v3/H_VALID_3.2.XML")
    assert root.findtext("ZGLV/VERSION") == "3.1"
    assert check(fmt_of("H", "3.1"), root).invalid_in_both
    assert check(fmt_of("H", "3.2"), root).valid


def test_both_d_editions_carry_version_3_1_and_the_one_lenient_3_1_schema_takes_both() -> None:
    fmt = fmt_of("DP", "3.1")
    for name in ("registry-v3/D_VALID.XML", "registry-v3/D_VALID_08_2021.XML"):
        assert check(fmt, _sample(name)).valid


def test_the_2021_08_d_sample_is_valid_as_3_2_and_the_first_edition_is_not() -> None:
    fmt = fmt_of("DP", "3.2")
    assert check(fmt, _sample("registry-v3/D_VALID_08_2021.XML")).valid
    assert check(fmt, _sample("registry-v3/D_VALID.XML")).invalid_in_both


@pytest.mark.parametrize(
    ("name", "file_type"),
    [("registry-v3/C_VALID.XML", "C"), ("registry-v3/T_VALID.XML", "T")],
    ids=["C", "T"],
)
def test_a_3_1_sample_rewritten_the_3_2_way_validates_against_the_derived_3_2_schema(
    name: str, file_type: str
) -> None:
    root = _to_3_2(_sample(name))
    verdict = check(fmt_of(file_type, "3.2"), root)
    assert verdict.valid, verdict
    assert check(fmt_of(file_type, "3.1"), root).invalid_in_both


def _to_3_2(root: Any) -> Any:
    """NPOLIS → ENP, SMO_OGRN/SMO_OK dropped, USL PRVS+CODE_MD → one MR_USL_N (as H-3.2)."""
    root = copy.deepcopy(root)
    root.find("ZGLV/VERSION").text = "3.2"
    for pacient in root.iter("PACIENT"):
        pacient.find("NPOLIS").tag = "ENP"
        for gone in ("SMO_OGRN", "SMO_OK"):
            if (el := pacient.find(gone)) is not None:
                pacient.remove(el)
    for usl in root.iter("USL"):
        prvs, code_md = usl.find("PRVS"), usl.find("CODE_MD")
        performer = prvs.makeelement("MR_USL_N", {})
        number = performer.makeelement("MR_N", {})
        number.text = "1"
        performer.append(number)
        prvs.addprevious(performer)
        performer.append(prvs)
        performer.append(code_md)
    return root
