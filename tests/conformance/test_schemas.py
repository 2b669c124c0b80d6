"""The project's XSDs compile, have the shape the streaming validator needs, and are mapped.

No reference folder is needed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree
from xmlschema.validators import XsdElement, XsdGroup

from contracts.filenames import KIND_TYPES
from contracts.formats import (
    FORMATS,
    SCHEMAS,
    Format,
    find_format,
    formats_for,
    load_lxml_schema,
    load_xmlschema,
)
from contracts.package import RECORD_TAGS

OURS = sorted(p for p in SCHEMAS.rglob("*.xsd") if p.name != "flk_p.xsd")
HEADERS = {"registry": ("ZGLV", "SCHET")}


def _id(path: Path) -> str:
    return str(path.relative_to(SCHEMAS))


def _fmt_id(fmt: Format) -> str:
    return f"{min(fmt.types)}-{fmt.version}"


@pytest.mark.parametrize("path", OURS, ids=_id)
def test_every_schema_file_is_a_valid_xsd_1_0_by_the_meta_schema(path: Path) -> None:
    meta: Any = xmlschema.XMLSchema10.meta_schema
    if not meta.built:
        meta.build()
    meta.validate(str(path))


@pytest.mark.parametrize("path", OURS, ids=_id)
def test_every_schema_file_compiles_in_lxml_and_in_xmlschema(path: Path) -> None:
    etree.XMLSchema(etree.parse(str(path)))
    xmlschema.XMLSchema10(str(path))


@pytest.mark.parametrize("fmt", FORMATS, ids=_fmt_id)
def test_every_format_loads_both_validators_once_per_process(fmt: Format) -> None:
    assert load_lxml_schema(fmt) is load_lxml_schema(fmt)
    assert load_xmlschema(fmt) is load_xmlschema(fmt)


@pytest.mark.parametrize("fmt", FORMATS, ids=_fmt_id)
def test_root_and_record_elements_are_global_and_the_root_refers_to_the_records(
    fmt: Format,
) -> None:
    schema = load_xmlschema(fmt)
    assert set(schema.elements) == {fmt.root, *fmt.records}
    children = _children(schema.elements[fmt.root])
    for record in fmt.records:
        assert children[record].ref is schema.elements[record]
    headers = HEADERS.get(fmt.kind, ("ZGLV",))
    assert list(children)[: len(headers)] == list(headers)
    assert all(children[h].min_occurs == 1 for h in headers)


@pytest.mark.parametrize("fmt", FORMATS, ids=_fmt_id)
def test_the_count_field_when_declared_is_a_required_header_element(fmt: Format) -> None:
    header = _children(load_xmlschema(fmt).elements[fmt.root])["ZGLV"]
    names = list(_children(header))
    if fmt.count_field is None:
        assert "SD_Z" not in names
    else:
        assert fmt.count_field in names


def test_every_file_type_of_every_kind_has_a_format() -> None:
    covered = {t for fmt in FORMATS for t in fmt.types}
    expected = {t for kind, types in KIND_TYPES.items() if kind != "protocol" for t in types}
    assert covered == expected


@pytest.mark.parametrize("fmt", FORMATS, ids=_fmt_id)
def test_each_format_agrees_with_the_kind_tables_of_the_package_checks(fmt: Format) -> None:
    assert fmt.types <= KIND_TYPES[fmt.kind]
    assert fmt.records <= RECORD_TAGS[fmt.kind]
    assert fmt.xsd.is_file()


@pytest.mark.parametrize(
    ("file_type", "version", "xsd"),
    [
        ("H", "3.1", "registry/H-3.1.xsd"),
        ("H", "3.2", "registry/H-3.2.xsd"),
        ("C", "3.2", "registry/C-3.2.xsd"),
        ("T", "3.1", "registry/T-3.1.xsd"),
        ("DP", "3.1", "registry/D-3.1.xsd"),
        ("DO", "3.2", "registry/D-3.2.xsd"),
        ("L", "3.1", "registry/L-3.1.xsd"),
        ("AT", "1.3", "attach/ATT-1.3.xsd"),
        ("E", "1.0", "erz/ERZ-1.0.xsd"),
        ("I04", "2.0", "hosp/I04-2.0.xsd"),
        ("K", "1.0", "tmk/TMK-1.0.xsd"),
        ("G", "1.0", "schedule/SCHED-1.0.xsd"),
        ("O", "1.0", "appeal/APPEAL-1.0.xsd"),
        ("A", "1.0", "expert/EXPERT-1.0.xsd"),
    ],
)
def test_find_format_maps_a_type_and_header_version_to_its_schema(
    file_type: str, version: str, xsd: str
) -> None:
    fmt = find_format(file_type, version)
    assert fmt is not None
    assert fmt.xsd == SCHEMAS / xsd


@pytest.mark.parametrize(
    ("file_type", "version"), [("H", "3.0"), ("H", "3.10"), ("AT", "1.2"), ("V", "1.0"), ("X", "")]
)
def test_find_format_answers_none_for_an_unsupported_type_or_version(
    file_type: str, version: str
) -> None:
    assert find_format(file_type, version) is None


def test_find_format_ignores_whitespace_around_the_header_version() -> None:
    assert find_format("H", " 3.2\n") is find_format("H", "3.2")


def test_formats_for_lists_every_supported_version_oldest_first() -> None:
    assert [f.version for f in formats_for("C")] == ["3.1", "3.2"]
    assert [f.version for f in formats_for("AT")] == ["1.3"]
    assert formats_for("V") == []


def _children(element: Any) -> dict[str, Any]:
    """The element particles of an element's content model, by name, in order."""
    return {p.local_name: p for p in _particles(element.type.content)}


def _particles(group: Any) -> list[Any]:
    found: list[Any] = []
    for item in group:
        if isinstance(item, XsdGroup):
            found.extend(_particles(item))
        elif isinstance(item, XsdElement):
            found.append(item)
    return found
