"""Builders of exchange packages for the contract tests: everything is made in memory.

No ``__init__.py`` here on purpose: it would make pytest import this folder as a
package named ``contracts`` and shadow the real one. Helpers reach tests as fixtures.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from contracts.package import DEFAULT_LIMITS, Limits, PackageCheck, Subject, check_package
from contracts.participants import (
    Participant,
    ParticipantDirectory,
    load_participants_csv,
    seed_path,
)

REGION = "64"
MAIN = "HM640001S64004_25111"
PERSONAL = "LM640001S64004_25111"
SUBJECT = "oms.in.mo.640001.registry"

_ZAP = """  <ZAP>
    <N_ZAP>{n}</N_ZAP>
    <PR_NOV>0</PR_NOV>
    <PACIENT><ID_PAC>P{n}</ID_PAC><VPOLIS>3</VPOLIS><ENP>64000000000000{n:02d}</ENP><NOVOR>0</NOVOR></PACIENT>
    <Z_SL>
      <IDCASE>{n}</IDCASE><USL_OK>3</USL_OK><VIDPOM>13</VIDPOM><FOR_POM>3</FOR_POM><LPU>640001</LPU>
      <DATE_Z_1>2025-11-03</DATE_Z_1><DATE_Z_2>2025-11-03</DATE_Z_2><RSLT>301</RSLT><ISHOD>304</ISHOD>
      <SL><SL_ID>S{n}</SL_ID><PROFIL>97</PROFIL><DET>0</DET><NHISTORY>A-{n}</NHISTORY>
        <DATE_1>2025-11-03</DATE_1><DATE_2>2025-11-03</DATE_2><DS1>J06.9</DS1><PRVS>76</PRVS>
        <IDDOKT>00000000000</IDDOKT><SUM_M>500.00</SUM_M></SL>
      <IDSP>29</IDSP><SUMV>500.00</SUMV>
    </Z_SL>
  </ZAP>
"""

_PERS = """  <PERS><ID_PAC>P{n}</ID_PAC><FAM>Тестов</FAM><IM>Тест</IM><W>1</W>
    <DR>1980-01-0{n}</DR></PERS>
"""


def registry_xml(records: int = 2, encoding: str = "windows-1251", base: str = MAIN) -> bytes:
    """A small H-file (ZL_LIST) with ``records`` ZAP."""
    zaps = "".join(_ZAP.format(n=n) for n in range(1, records + 1))
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<ZL_LIST>\n'
        f"  <ZGLV><VERSION>3.2</VERSION><DATA>2025-12-01</DATA><FILENAME>{base}</FILENAME>"
        f"<SD_Z>{records}</SD_Z></ZGLV>\n"
        "  <SCHET><CODE>1</CODE><CODE_MO>640001</CODE_MO><YEAR>2025</YEAR><MONTH>11</MONTH>"
        f"<NSCHET>1</NSCHET><DSCHET>2025-12-01</DSCHET><PLAT>64004</PLAT>"
        f"<SUMMAV>{500 * records}.00</SUMMAV></SCHET>\n{zaps}</ZL_LIST>\n"
    )
    return text.encode(encoding)


def personal_xml(records: int = 2, encoding: str = "windows-1251", main: str = MAIN) -> bytes:
    """The matching L-file (PERS_LIST) with ``records`` PERS."""
    pers = "".join(_PERS.format(n=n) for n in range(1, records + 1))
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<PERS_LIST>\n'
        f"  <ZGLV><VERSION>3.2</VERSION><DATA>2025-12-01</DATA><FILENAME>L{main[1:]}</FILENAME>"
        f"<FILENAME1>{main}</FILENAME1></ZGLV>\n{pers}</PERS_LIST>\n"
    )
    return text.encode(encoding)


def document(root: str, record: str, records: int = 2, encoding: str = "windows-1251") -> bytes:
    """A file of another kind: ``<root><ZGLV/><record/>…</root>``."""
    body = "".join(f"  <{record}><N>{n}</N></{record}>\n" for n in range(1, records + 1))
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<{root}>\n'
        f"  <ZGLV><VERSION>1.0</VERSION></ZGLV>\n{body}</{root}>\n"
    )
    return text.encode(encoding)


Member = tuple[str | zipfile.ZipInfo, bytes]


def make_zip(members: Iterable[Member], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP with the members in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def registry_package(**replace: bytes) -> bytes:
    """The valid H + L package; ``replace`` swaps a member's bytes (``main=…, personal=…``)."""
    return make_zip(
        [
            (f"{MAIN}.xml", replace.get("main", registry_xml())),
            (f"{PERSONAL}.xml", replace.get("personal", personal_xml())),
        ]
    )


def central_entries(data: bytes) -> list[int]:
    """Offsets of the central directory headers (the archive has no comment)."""
    count, _size, offset = struct.unpack("<HII", data[-12:-2])
    entries = []
    for _ in range(count):
        entries.append(offset)
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[offset + 28 : offset + 34])
        offset += 46 + name_len + extra_len + comment_len
    return entries


def patch_central(data: bytes, field_offset: int, fmt: str, value: int, index: int = 0) -> bytes:
    """Overwrite one field of the ``index``-th central directory header."""
    out = bytearray(data)
    struct.pack_into(fmt, out, central_entries(data)[index] + field_offset, value)
    return bytes(out)


def mark_encrypted(data: bytes, index: int = 0) -> bytes:
    """Set flag bit 0 (encrypted) of a member in both its local and central headers."""
    out = bytearray(data)
    central = central_entries(data)[index]
    local = struct.unpack("<I", data[central + 42 : central + 46])[0]
    out[local + 6] |= 0x01
    out[central + 8] |= 0x01
    return bytes(out)


class Build:
    """The builders, handed to tests by the ``build`` fixture."""

    MAIN = MAIN
    PERSONAL = PERSONAL
    registry_xml = staticmethod(registry_xml)
    personal_xml = staticmethod(personal_xml)
    document = staticmethod(document)
    make_zip = staticmethod(make_zip)
    registry_package = staticmethod(registry_package)
    patch_central = staticmethod(patch_central)
    mark_encrypted = staticmethod(mark_encrypted)


@pytest.fixture
def build() -> type[Build]:
    return Build


@pytest.fixture
def directory() -> ParticipantDirectory:
    """The region 64 seed, plus inactive and out-of-region participants."""
    path = seed_path(REGION)
    assert path is not None
    extra = [
        Participant("mo", "640099", "ГУЗ Тестовая закрытая больница", active=False),
        Participant("smo", "64009", "Тестовая закрытая СМО", active=False),
        Participant("mo", "770001", "ГУЗ Тестовая больница другого региона"),
        Participant("smo", "77001", "Тестовая СМО другого региона"),
    ]
    return ParticipantDirectory([*load_participants_csv(path), *extra])


Check = Callable[..., PackageCheck]


@pytest.fixture
def check(directory: ParticipantDirectory) -> Check:
    """``check(data, file_name=…, subject=…, limits=…)`` with the test directory and region."""

    def run(
        data: bytes | Path,
        *,
        file_name: str = f"{MAIN}.zip",
        subject: str = SUBJECT,
        limits: Limits = DEFAULT_LIMITS,
    ) -> PackageCheck:
        return check_package(
            data,
            file_name=file_name,
            subject=Subject.parse(subject),
            participants=directory,
            region=REGION,
            limits=limits,
        )

    return run
