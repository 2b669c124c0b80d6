"""Small, valid exchange packages built in memory for tests (synthetic people only).

The contracts' own generator (``omsx demo generate``) makes realistic volumes; these
builders make the few exact shapes a test needs.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def h_file(base: str, n: int = 2, *, code_mo: str = "640001", plat: str = "64004") -> bytes:
    zaps = "".join(
        f"<ZAP><N_ZAP>{i}</N_ZAP><PR_NOV>0</PR_NOV>"
        f"<PACIENT><ID_PAC>P{i}</ID_PAC><VPOLIS>3</VPOLIS><ENP>{6400000000000000 + i}</ENP>"
        f"<NOVOR>0</NOVOR></PACIENT>"
        f"<Z_SL><IDCASE>{i}</IDCASE><USL_OK>3</USL_OK><SUMV>100.00</SUMV></Z_SL></ZAP>"
        for i in range(1, n + 1)
    )
    return (
        '<?xml version="1.0" encoding="windows-1251"?>'
        f"<ZL_LIST><ZGLV><VERSION>3.2</VERSION><DATA>2025-11-30</DATA>"
        f"<FILENAME>{base}</FILENAME><SD_Z>{n}</SD_Z></ZGLV>"
        f"<SCHET><CODE>1</CODE><CODE_MO>{code_mo}</CODE_MO><YEAR>2025</YEAR><MONTH>11</MONTH>"
        f"<NSCHET>1</NSCHET><DSCHET>2025-11-30</DSCHET><PLAT>{plat}</PLAT>"
        f"<SUMMAV>{100 * n}.00</SUMMAV></SCHET>{zaps}</ZL_LIST>"
    ).encode("cp1251")


def l_file(base: str, main: str, n: int = 2) -> bytes:
    pers = "".join(
        f"<PERS><ID_PAC>P{i}</ID_PAC><FAM>Тестов</FAM><IM>Тест</IM><W>1</W>"
        f"<DR>1980-01-0{i % 9 + 1}</DR></PERS>"
        for i in range(1, n + 1)
    )
    return (
        '<?xml version="1.0" encoding="windows-1251"?>'
        f"<PERS_LIST><ZGLV><VERSION>3.2</VERSION><DATA>2025-11-30</DATA>"
        f"<FILENAME>{base}</FILENAME><FILENAME1>{main}</FILENAME1></ZGLV>{pers}</PERS_LIST>"
    ).encode("cp1251")


def register(
    base: str = "HM640001S64004_25111", n: int = 2, *, defects: float = 0.0, seed: int = 0
) -> tuple[str, bytes]:
    """A valid zipped H + L register from the generator: (file name, bytes).

    ``base`` fixes the parties and period: ``HM<mo>S<smo>_<YY><MM><N>``.
    """
    from contracts.filenames import parse_name
    from contracts.generator import write_register

    name = parse_name(base)
    with tempfile.TemporaryDirectory() as tmp:
        package = write_register(
            Path(tmp),
            mo=name.sender.code,
            smo=name.receiver.code,
            cases=n,
            file_type=name.type,
            number=name.number,
            year=2000 + name.year,
            month=name.month,
            defects=defects,
            seed=seed,
        )
        data = package.path.read_bytes()
    return f"{base}.zip", data


def erz_for(
    *registers: tuple[str, bytes],
    smo: str = "64004",
    number: int = 1,
    dbeg: str = "2000-01-01",
    op: str = "P",
) -> tuple[str, bytes]:
    """An erz package of ``smo`` insuring (OP=P since ``dbeg``) everyone the registers
    name, with the details their L-files state: (file name, bytes)."""
    from contracts.mek import person_key
    from contracts.reader import RecordReader

    people: dict[str, dict[str, str]] = {}
    for _name, data in registers:  # streamed: the benchmark passes a 100k-case register
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            main, personal = sorted(zf.namelist(), key=lambda n: n.startswith("L"))
            pacs: dict[str, str] = {}
            with zf.open(main) as fh:
                for _pos, zap in RecordReader(fh, {"ZAP"}):
                    pacient = {c.tag: (c.text or "") for c in zap.find("PACIENT")}
                    enp = person_key(pacient)
                    if enp:
                        pacs[pacient["ID_PAC"]] = enp
            with zf.open(personal) as fh:
                for _pos, pers in RecordReader(fh, {"PERS"}):
                    fields = {c.tag: (c.text or "") for c in pers}
                    enp = pacs.get(fields.get("ID_PAC", ""))
                    if enp:
                        people.setdefault(enp, fields)
    base = f"ES{smo}T64_2511{number}"
    rows = []
    for n, (enp, f) in enumerate(sorted(people.items()), 1):
        ot = f"<OT>{f['OT']}</OT>" if f.get("OT") else ""
        snils = f"<SNILS>{f['SNILS']}</SNILS>" if f.get("SNILS") else ""
        docser = f"<DOCSER>{f['DOCSER']}</DOCSER>" if f.get("DOCSER") else ""
        rows.append(
            f"<PERS><N_ZAP>{n}</N_ZAP><OP>{op}</OP><ENP>{enp}</ENP>"
            f"<FAM>{f.get('FAM') or 'Тестов'}</FAM><IM>{f.get('IM') or 'Тест'}</IM>{ot}"
            f"<W>{f.get('W') or '1'}</W><DR>{f.get('DR') or '1980-01-01'}</DR>{snils}"
            f"<DOCTYPE>{f.get('DOCTYPE') or '14'}</DOCTYPE>{docser}"
            f"<DOCNUM>{f.get('DOCNUM') or '000001'}</DOCNUM>"
            f"<DBEG>{dbeg}</DBEG></PERS>"
        )
    xml = (
        '<?xml version="1.0" encoding="windows-1251"?>'
        f"<ERZ_LIST><ZGLV><VERSION>1.0</VERSION><DATA>2025-11-30</DATA>"
        f"<FILENAME>{base}</FILENAME><SMO>{smo}</SMO><SD_Z>{len(rows)}</SD_Z></ZGLV>"
        + "".join(rows)
        + "</ERZ_LIST>"
    ).encode("cp1251")
    return f"{base}.zip", zip_of({f"{base}.xml": xml})


def edit_register(
    name: str,
    data: bytes,
    edit: Any = None,
    *,
    new_base: str | None = None,
) -> tuple[str, bytes]:
    """The register with ``edit(main_root, personal_root)`` applied, optionally renamed;
    SD_Z and SUMMAV are recomputed so the file stays consistent."""
    from decimal import Decimal

    from lxml import etree

    base = name.removesuffix(".zip")
    new_base = new_base or base
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        main_name, personal_name = sorted(zf.namelist(), key=lambda n: n.startswith("L"))
        main = etree.fromstring(zf.read(main_name))
        personal = etree.fromstring(zf.read(personal_name))
    if edit is not None:
        edit(main, personal)
    zaps = main.findall("ZAP")
    main.find("ZGLV/FILENAME").text = new_base
    main.find("ZGLV/SD_Z").text = str(len(zaps))
    total = sum((Decimal(z.findtext("Z_SL/SUMV")) for z in zaps), Decimal(0))
    main.find("SCHET/SUMMAV").text = f"{total:.2f}"
    personal_base = (
        "L" + new_base[1:] if personal_name.startswith("L" + base[1:]) else "L" + new_base
    )
    personal.find("ZGLV/FILENAME").text = personal_base
    personal.find("ZGLV/FILENAME1").text = new_base
    members = {
        f"{new_base}.xml": etree.tostring(main, encoding="windows-1251", xml_declaration=True),
        f"{personal_base}.xml": etree.tostring(
            personal, encoding="windows-1251", xml_declaration=True
        ),
    }
    return f"{new_base}.zip", zip_of(members)


def expert_file(smo: str, number: int, zaps: list[dict[str, str]]) -> tuple[str, bytes]:
    """An expert package (exchange.md §4.8): one ZAP per dict, one SANK each (МЭЭ when
    S_TIP starts with 2, ЭКМП with 3)."""
    base = f"AS{smo}T64_2512{number}"
    rows = []
    for n, z in enumerate(zaps, 1):
        rows.append(
            f"<ZAP><N_ZAP>{n}</N_ZAP><CODE_MO>{z['CODE_MO']}</CODE_MO><YEAR>{z['YEAR']}</YEAR>"
            f"<MONTH>{z['MONTH']}</MONTH><NSCHET>{z['NSCHET']}</NSCHET>"
            f"<IDCASE>{z['IDCASE']}</IDCASE><SANK><S_CODE>{z['S_CODE']}</S_CODE>"
            f"<S_SUM>{z['S_SUM']}</S_SUM><S_TIP>{z.get('S_TIP', '20')}</S_TIP>"
            f"<S_OSN>{z.get('S_OSN', '31')}</S_OSN><DATE_ACT>2025-12-10</DATE_ACT>"
            f"<NUM_ACT>A-{n}</NUM_ACT></SANK></ZAP>"
        )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<EXPERT_LIST><ZGLV><VERSION>1.0</VERSION><DATA>2025-12-20</DATA>"
        f"<FILENAME>{base}</FILENAME><SMO>{smo}</SMO><SD_Z>{len(rows)}</SD_Z></ZGLV>"
        + "".join(rows)
        + "</EXPERT_LIST>"
    ).encode("utf-8")
    return f"{base}.zip", zip_of({f"{base}.xml": xml})
