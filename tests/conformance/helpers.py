"""Shared helpers of the conformance tests: parsing, both validators, the reference folder."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from contracts.formats import Format, find_format, load_lxml_schema, load_xmlschema

REFERENCE = Path(__file__).parents[2].parent / "shared" / "reference"
"""``../shared/reference`` from the repository root: third-party formats and samples."""

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def reference_folder() -> Path:
    """The reference folder, or a skip when this checkout has none beside it."""
    if not (REFERENCE / "registry-v3").is_dir():
        pytest.skip(f"reference folder {REFERENCE} is absent: conformance with samples not checked")
    return REFERENCE


def parse(data: bytes) -> Any:
    """The root element of an XML document given as bytes (lxml reads the declared encoding)."""
    return etree.fromstring(data, _PARSER)


def document(text: str, encoding: str = "windows-1251") -> Any:
    """A synthetic document written the way participants write them: declared and encoded."""
    return parse(f'<?xml version="1.0" encoding="{encoding}"?>\n{text}'.encode(encoding))


def fmt_of(file_type: str, version: str) -> Format:
    found = find_format(file_type, version)
    assert found is not None, f"no format for {file_type} {version}"
    return found


@dataclass(frozen=True)
class Verdict:
    """What both validators say about one element."""

    lxml: list[str]
    xmlschema: list[str]

    @property
    def valid(self) -> bool:
        return not self.lxml and not self.xmlschema

    @property
    def invalid_in_both(self) -> bool:
        return bool(self.lxml) and bool(self.xmlschema)


def check(fmt: Format, element: Any) -> Verdict:
    """Validate ``element`` (a root or a record) with libxml2 and with xmlschema."""
    schema = load_lxml_schema(fmt)
    schema.validate(element)
    lxml_errors = [f"{e.line}: {e.message}" for e in schema.error_log]
    xs_errors = [f"{e.path}: {e.reason}" for e in load_xmlschema(fmt).iter_errors(element)]
    return Verdict(lxml_errors, xs_errors)


def standalone(element: Any) -> Any:
    """A copy of ``element`` as the root of a document of its own."""
    return copy.deepcopy(element)


def records(fmt: Format, root: Any) -> list[Any]:
    """The record elements directly under the root."""
    return [child for child in root if child.tag in fmt.records]
