"""Fuzzing FLK: mutated copies of a valid register always get a protocol, never an exception.

Hypothesis mutates the valid H + L register of :mod:`tests.hostile.corpus`: the XML of
either file (bytes flipped, deleted, inserted or duplicated, XML tokens dropped in, tag
names and attributes mangled, the encoding declaration changed, the file cut short)
and the ZIP around them (bytes flipped, cut or inserted, members renamed, stored
instead of deflated). Every input must come back from ``check_flk`` as a protocol that
renders and validates against flk_p.xsd, with codes of the contract only.

Without ``OMSX_FUZZ_EXAMPLES`` the run is CI's: 300 examples, the same ones every time
(derandomized, no example database). With it, that many new random ones: ``make fuzz``
runs 20,000; a failure prints the blob that reproduces it. Anything found is a bug in
``contracts/``: fix it and add the input to the corpus (tests/hostile/corpus.py).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import replace
from functools import cache

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from contracts.flk import Environment, check_flk
from contracts.package import Subject
from contracts.protocol import parse_protocol, render_protocol
from tests.hostile.corpus import FILE_NAME, MAIN, PERSONAL, SUBJECT, valid

LONG = "OMSX_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("OMSX_FUZZ_EXAMPLES", "300"))
CODES = frozenset({*(str(c) for c in range(801, 809)), *(str(c) for c in range(901, 906))})
RULE_ID = re.compile(r"[0-9]{3}[A-Z]\.[0-9]{2}\.[0-9]{4}")

pytestmark = [pytest.mark.hostile, pytest.mark.timeout(max(120, EXAMPLES // 2))]

fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG,  # CI replays the same inputs; the long run explores new ones
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TOKENS = (
    b"<",
    b">",
    b"/>",
    b"&",
    b"&lol;",
    b"&#0;",
    b"&#x1F;",
    b"&#xD800;",
    b"<!DOCTYPE ZL_LIST [<!ENTITY a 'b'>]>",
    b'<!ENTITY x SYSTEM "file:///etc/passwd">',
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?pi data?>",
    b"<?xml version='1.0'?>",
    b"\x00",
    b"\x01\x1b",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xd0\x98",
    b" a='1'",
    b' xmlns="urn:x"',
    b' xmlns:xi="http://www.w3.org/2001/XInclude"',
    b"<ZAP>",
    b"</ZAP>",
    b"<ZGLV>",
    b"</ZL_LIST>",
    b"<SL><SL_ID>1</SL_ID></SL>",
    b"9" * 40,
    "Ёлка".encode(),
    "Ёлка".encode("cp1251"),
)
ENCODINGS = (b"utf-8", b"UTF-8", b"UTF-16", b"koi8-r", b"latin-1", b"cp1252", b"", b"IBM037")
NAMES = (b"X", b"", b"ZAP", b"ZGLV", b"SCHET", b"PERS", b"a:b", b"1A", b"ZL_LIST", b"\xd0\x98")
TAG = re.compile(rb"</?([A-Za-z_][A-Za-z0-9_.:-]*)")


@cache
def env() -> Environment:
    from admin.offline import environment

    return replace(environment("64", structure_only=False), workers=1)


def position(draw: st.DrawFn, data: bytes) -> int:
    return draw(st.integers(0, len(data)))


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """One mutation of ``data`` (XML or ZIP bytes)."""
    kind = draw(
        st.sampled_from(
            ("flip", "delete", "insert", "token", "duplicate", "truncate", "tag", "attribute")
        )
    )
    at = position(draw, data)
    if kind == "flip" and data:
        at = min(at, len(data) - 1)
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 64)) :]
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=32)) + data[at:]
    if kind == "token":
        return data[:at] + draw(st.sampled_from(TOKENS)) + data[at:]
    if kind == "duplicate":
        size = draw(st.integers(1, 512))
        return data[:at] + data[at : at + size] * draw(st.integers(2, 4)) + data[at + size :]
    if kind == "truncate":
        return data[:at]
    tags = list(TAG.finditer(data))
    if not tags:
        return data
    tag = draw(st.sampled_from(tags))
    if kind == "tag":
        return data[: tag.start(1)] + draw(st.sampled_from(NAMES)) + data[tag.end(1) :]
    attribute = b' %s="%s"' % (draw(st.sampled_from(NAMES)) or b"a", draw(st.binary(max_size=8)))
    return data[: tag.end(1)] + attribute + data[tag.end(1) :]


@st.composite
def xml_file(draw: st.DrawFn, data: bytes) -> bytes:
    """The file with its encoding declaration changed, or one to four mutations."""
    if draw(st.integers(0, 9)) == 0:
        return data.replace(b"windows-1251", draw(st.sampled_from(ENCODINGS)), 1)
    for _ in range(draw(st.integers(1, 4))):
        data = draw(mutated(data))
    return data


@st.composite
def packages(draw: st.DrawFn) -> bytes:
    """The valid register with its files (and maybe its ZIP) mutated."""
    main, personal = valid()
    which = draw(st.sampled_from(("main", "personal", "both", "neither")))
    if which in ("main", "both"):
        main = draw(xml_file(main))
    if which in ("personal", "both"):
        personal = draw(xml_file(personal))
    names = [f"{MAIN}.xml", f"{PERSONAL}.xml"]
    if draw(st.integers(0, 9)) == 0:
        names[draw(st.integers(0, 1))] = draw(
            st.sampled_from(("../x.xml", "a\x00.xml", f"{MAIN}.XML", f"{MAIN}.zip", "", "d/"))
        )
    method = draw(st.sampled_from((zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, member in zip(names, (main, personal), strict=True):
            zf.writestr(name or "-", member)
    data = buffer.getvalue()
    if which == "neither" or draw(st.integers(0, 4)) == 0:
        for _ in range(draw(st.integers(1, 3))):
            data = draw(mutated(data))
    return data


def assert_answered(data: bytes) -> None:
    result = check_flk(data, file_name=FILE_NAME, subject=Subject.parse(SUBJECT), env=env())
    protocol = parse_protocol(render_protocol(result.protocol))
    assert protocol.result in ("A", "P", "R")
    for problem in protocol.problems:
        assert problem.oshib in CODES or RULE_ID.fullmatch(problem.oshib), problem
    if protocol.result != "A":
        assert protocol.problems, "a refusal always says why"
    event(f"{protocol.result} {protocol.problems[0].oshib if protocol.problems else ''}")


@fuzz
@given(packages())
def test_a_mutated_register_always_gets_a_protocol_and_never_an_exception(data: bytes) -> None:
    assert_answered(data)


def test_the_valid_register_the_fuzzer_starts_from_is_accepted() -> None:
    main, personal = valid()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{MAIN}.xml", main)
        zf.writestr(f"{PERSONAL}.xml", personal)
    result = check_flk(
        buffer.getvalue(), file_name=FILE_NAME, subject=Subject.parse(SUBJECT), env=env()
    )
    assert (result.protocol.result, result.protocol.problems) == ("A", [])
