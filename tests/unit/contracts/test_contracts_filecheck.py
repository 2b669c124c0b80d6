"""The streaming file check: repeated keys (905) and positioned structure errors."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from lxml import etree

from contracts.filecheck import FileCheck, check_file
from contracts.reader import RecordReader
from contracts.records import to_record
from tests.builders import register


def main_xml(n: int = 3, seed: int = 0) -> bytes:
    name, data = register("HM640001S64004_25111", n=n, seed=seed)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name.removesuffix(".zip") + ".xml")


def check(xml: bytes) -> FileCheck:
    return check_file(io.BytesIO(xml), file_type="H", base_name="HM640001S64004_25111")


def test_a_clean_register_has_no_problems_and_counts_its_records() -> None:
    result = check(main_xml(4))
    assert (result.records, result.problems, result.file_rejected) == (4, [], False)


def test_a_repeated_sl_id_within_a_case_refuses_that_record_with_905() -> None:
    xml = main_xml(2)
    first = xml.index(b"<SL_ID>")
    value = xml[first + 7 : xml.index(b"</SL_ID>", first)]
    second = xml.index(b"<SL_ID>", first + 1)
    end = xml.index(b"</SL_ID>", second)
    result = check(xml[: second + 7] + value + xml[end:])
    assert [(p.oshib, p.im_pol, p.bas_el, p.sl_id) for p in result.problems] == [
        ("905", "SL_ID", "SL", value.decode())
    ]
    assert result.refused == {1: "905"} and not result.file_rejected


def test_a_repeated_idserv_within_a_case_section_refuses_that_record_with_905() -> None:
    xml = main_xml(2)
    first = xml.index(b"<IDSERV>")
    value = xml[first + 8 : xml.index(b"</IDSERV>", first)]
    second = xml.index(b"<IDSERV>", first + 1)
    end = xml.index(b"</IDSERV>", second)
    result = check(xml[: second + 8] + value + xml[end:])
    assert [(p.oshib, p.im_pol, p.idserv) for p in result.problems] == [
        ("905", "IDSERV", value.decode())
    ]
    assert result.refused == {1: "905"}


def test_an_empty_required_element_is_902_with_its_position_and_rejects_the_file() -> None:
    xml = main_xml(3)
    at = xml.index(b"<DS1>", xml.index(b"<N_ZAP>2</N_ZAP>"))
    end = xml.index(b"</DS1>", at)
    result = check(xml[: at + 5] + xml[end:])
    problem = result.problems[0]
    assert (problem.oshib, problem.im_pol, problem.bas_el, problem.n_zap) == (
        "902",
        "DS1",
        "SL",
        "2",
    )
    assert problem.sl_id and problem.idcase and result.file_rejected


def test_an_unsupported_version_is_807_naming_the_supported_ones() -> None:
    xml = main_xml(1).replace(b"<VERSION>3.2</VERSION>", b"<VERSION>9.9</VERSION>", 1)
    result = check(xml)
    assert [(p.oshib, p.im_pol) for p in result.problems] == [("807", "VERSION")]
    assert "3.1, 3.2" in result.problems[0].comment


def _read_again(xml: bytes) -> tuple[RecordReader, list[tuple[int, Any]]]:
    reader = RecordReader(io.BytesIO(xml), {"ZAP"})
    return reader, list(reader)


def test_kept_records_are_what_an_applier_reading_the_file_again_gets() -> None:
    xml = main_xml(5, seed=3)
    result = check_file(io.BytesIO(xml), file_type="H", base_name="HM640001S64004_25111", keep=5)
    again, batch = _read_again(xml)
    assert result.kept is not None and not result.problems
    assert [(pos, to_record(elem)) for pos, elem in batch] == [
        (pos, record) for pos, _elem, record in result.kept
    ]
    assert [etree.tostring(elem) for _pos, elem, _rec in result.kept] == [
        etree.tostring(elem) for _pos, elem in batch
    ]
    assert result.header == again.header and result.root_tag == again.root_tag == "ZL_LIST"
    assert {tag: etree.tostring(e) for tag, e in result.head_elements.items()} == {
        tag: etree.tostring(e) for tag, e in again.head_elements.items()
    }


def test_records_are_not_kept_beyond_the_limit_nor_from_a_rejected_file() -> None:
    xml = main_xml(3)
    base = "HM640001S64004_25111"
    assert check_file(io.BytesIO(xml), file_type="H", base_name=base, keep=2).kept is None
    assert check_file(io.BytesIO(xml), file_type="H", base_name=base).kept is None
    at = xml.index(b"<DS1>", xml.index(b"<N_ZAP>2</N_ZAP>"))
    broken = xml[: at + 5] + xml[xml.index(b"</DS1>", at) :]
    rejected = check_file(io.BytesIO(broken), file_type="H", base_name=base, keep=10)
    assert rejected.file_rejected and rejected.kept is None
