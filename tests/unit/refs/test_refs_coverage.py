"""Every directory code used in the reference samples is valid in the seed on its case date.

The samples are real-shaped regional files (../shared/reference, read-only). The
test is skipped when that folder is absent (a plain clone).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from contracts.refs import FIELDS, Directories

REPO_ROOT = Path(__file__).resolve().parents[3]
REFERENCE = REPO_ROOT.parent / "shared" / "reference"
SAMPLES = (
    sorted([*REFERENCE.glob("registry-v3/*.XML"), *REFERENCE.glob("attach/*.xml")])
    if REFERENCE.is_dir()
    else []
)
HEADER_DATES = ("DATA", "DATE", "FDATE")
RECORD_DATES = ("DATE_Z_2", "DATE_2")

pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(not SAMPLES, reason=f"reference samples not found under {REFERENCE}"),
]

Use = tuple[str, str, str, date, str]  # field, directory, code, case date, where


def _safe(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(path), parser).getroot()


def _first_date(element: etree._Element, tags: tuple[str, ...]) -> date | None:
    for tag in tags:
        for found in element.iter(tag):
            if found.text and found.text.strip():
                return date.fromisoformat(found.text.strip())
    return None


def uses(path: Path) -> Iterator[Use]:
    """(field, directory, code, date, where) for every filled directory field of a file."""
    root = _safe(path)
    header = next((child for child in root if child.tag == "ZGLV"), root)
    file_date = _first_date(header, HEADER_DATES)
    for number, record in enumerate(root, start=1):
        if record.tag in ("ZGLV", "SCHET"):
            continue
        on = _first_date(record, RECORD_DATES) or file_date
        assert on is not None, f"{path.name}: no date for record {number}"
        for element in record.iter(*FIELDS):
            code = (element.text or "").strip()
            if code:
                where = f"{path.name} record {number} {element.tag}"
                yield element.tag, FIELDS[element.tag], code, on, where


def test_the_samples_use_the_directory_fields_this_test_looks_for() -> None:
    found = {field for path in SAMPLES for field, *_ in uses(path)}
    expected = {"USL_OK", "VIDPOM", "FOR_POM", "RSLT", "ISHOD", "IDSP", "PROFIL", "PRVS"}
    expected |= {"PROFIL_K", "P_CEL", "VPOLIS", "DOCTYPE", "DS0", "DS1", "DS"}
    assert expected <= found


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_every_code_of_a_reference_sample_is_valid_in_the_seed_on_its_case_date(path: Path) -> None:
    refs = Directories.seed()
    invalid = [
        f"{where}: {directory} {code} on {on}"
        for _field, directory, code, on, where in uses(path)
        if not refs.valid(directory, code, on)
    ]
    assert invalid == []
