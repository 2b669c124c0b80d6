"""The register forwarded to the paying СМО: the accepted records of one package.

exchange.md §2/§7: accepted records go to ``oms.out.smo.<code>.registry`` as a register —
the main file and its L-file in a ZIP under the package's own name, holding only the
accepted ZAP (each with OPLATA=1, SUMP=SUMV and SANK_IT=0.00) and the PERS they refer
to; ZGLV/SD_Z and SCHET/SUMMAV/SUMMAP are those of the records forwarded, so the file
passes the same FLK the hub applies. The encoding is the original's.

Records are streamed to temporary files as the applier accepts them, and the headers
(whose totals are known only at the end) are written when the ZIP is made, so memory
does not grow with the register.

    fwd = ForwardWriter(workdir, main_member="HM…xml", personal_member="LM…xml", encoding=…)
    fwd.add_case(zap_element, sumv_kop)        # in file order
    fwd.add_person(pers_element)
    path = fwd.finish(main_head, personal_zglv)  # the ZIP
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree

from contracts.records import money

ZIP_LEVEL = 1  # deflate level: the forward of a 100k register is ~200 MB of XML


def _set_after(parent: Any, tag: str, text: str, after: tuple[str, ...]) -> None:
    """Set ``tag`` (creating it right after the last present of ``after``)."""
    found = parent.find(tag)
    if found is None:
        anchor = None
        for name in after:
            candidates = parent.findall(name)
            if candidates:
                anchor = candidates[-1]
        found = etree.Element(tag)
        if anchor is None:
            parent.insert(0, found)
        else:
            anchor.addnext(found)
        found.tail = anchor.tail if anchor is not None else None
    found.text = text


class ForwardWriter:
    def __init__(
        self,
        workdir: Path,
        *,
        main_member: str,
        personal_member: str | None,
        encoding: str,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.main_member = main_member
        self.personal_member = personal_member
        self.encoding = encoding
        self._cases = (workdir / "cases.part").open("wb")
        self._persons = (workdir / "persons.part").open("wb")
        self.count = 0
        self.persons = 0
        self.sumv_kop = 0

    def add_case(self, zap: Any, sumv_kop: int) -> None:
        """A ZAP accepted in full: SUMP = SUMV, no sanction."""
        z_sl = zap.find("Z_SL")
        if z_sl is not None:
            for tag in ("OPLATA", "SUMP", "SANK_IT"):
                for old in z_sl.findall(tag):
                    z_sl.remove(old)
            _set_after(z_sl, "OPLATA", "1", ("SUMV",))
            _set_after(z_sl, "SUMP", money(sumv_kop), ("OPLATA",))
            _set_after(z_sl, "SANK_IT", "0.00", ("SUMP", "SANK"))
        self._write(self._cases, zap)
        self.count += 1
        self.sumv_kop += sumv_kop

    def add_person(self, pers: Any) -> None:
        self._write(self._persons, pers)
        self.persons += 1

    def _write(self, out: Any, elem: Any) -> None:
        elem.tail = "\n"
        out.write(etree.tostring(elem, encoding=self.encoding, xml_declaration=False))

    def finish(self, main_root: str, main_head: dict[str, Any], personal_zglv: Any | None) -> Path:
        """The ZIP; ``main_head`` holds the original ZGLV and SCHET elements."""
        self._cases.close()
        self._persons.close()
        zglv = main_head["ZGLV"]
        _set_after(zglv, "SD_Z", str(self.count), ("FILENAME",))
        schet = main_head.get("SCHET")
        if schet is not None:
            total = money(self.sumv_kop)
            _set_after(schet, "SUMMAV", total, ("PLAT", "DSCHET"))
            for tag in ("SANK_MEE", "SANK_EKMP"):
                for old in schet.findall(tag):
                    schet.remove(old)
            _set_after(schet, "SUMMAP", total, ("SUMMAV", "COMENTS"))
            _set_after(schet, "SANK_MEK", "0.00", ("SUMMAP",))
        path = self.workdir / "forward.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as zf:
            heads = [zglv] + ([schet] if schet is not None else [])
            self._member(zf, self.main_member, main_root, heads, self.workdir / "cases.part")
            if self.personal_member is not None and personal_zglv is not None:
                self._member(
                    zf,
                    self.personal_member,
                    "PERS_LIST",
                    [personal_zglv],
                    self.workdir / "persons.part",
                )
        return path

    def _member(
        self, zf: zipfile.ZipFile, name: str, root: str, heads: list[Any], body: Path
    ) -> None:
        declaration = f'<?xml version="1.0" encoding="{self.encoding}"?>\n<{root}>\n'
        with zf.open(name, "w", force_zip64=True) as out:
            out.write(declaration.encode("ascii"))
            for head in heads:
                head.tail = "\n"
                out.write(etree.tostring(head, encoding=self.encoding, xml_declaration=False))
            with body.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            out.write(f"</{root}>\n".encode("ascii"))

    def close(self) -> None:
        for fh in (self._cases, self._persons):
            if not fh.closed:
                fh.close()
