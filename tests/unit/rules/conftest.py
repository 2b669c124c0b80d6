"""Sample records for the rule tests: one valid case per file type, and a rule runner.

No ``__init__.py`` here on purpose (see tests/unit/contracts/conftest.py): helpers reach
tests as fixtures. Every sample is valid for every rule; a test mutates a fresh copy.
The people are made up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules import PERSON_FIELDS, Catalogue, FileContext, load_catalogue

MAIN = "HM640001S64004_25111"
TODAY = date(2025, 12, 5)
D = date
M = Decimal

# the person's personal data: never to be seen in COMMENT or ZN_POL
ENP = "6400000000000001"
SNILS = "112-233-445 95"
DR = date(1980, 5, 17)
NOVOR = "2170525 1"  # sex, the child's birth date, number: personal data too
PERSONAL_VALUES = (
    ENP,
    SNILS,
    "11223344595",
    DR.isoformat(),
    DR.strftime("%d.%m.%Y"),
    "Тестова",
    "Анна",
    "Ивановна",
    "630012",
    NOVOR,
    "170525",
)


class FakeRefs:
    """Directories in memory: name → code → (valid from, valid to or None)."""

    def __init__(self, directories: Mapping[str, Mapping[str, tuple[date, date | None]]]):
        self.directories = directories
        self.asked: list[tuple[str, str, date | None]] = []

    def valid(self, name: str, code: str, on: date | None = None) -> bool:
        self.asked.append((name, code, on))
        if name not in self.directories:
            raise LookupError(name)
        period = self.directories[name].get(code)
        if period is None:
            return False
        start, end = period
        return on is None or (start <= on and (end is None or on <= end))


ALWAYS = (date(2000, 1, 1), None)


def _codes(*codes: str, period: tuple[date, date | None] = ALWAYS) -> dict[str, Any]:
    return dict.fromkeys(codes, period)


REFS = {
    "V006": _codes("1", "2", "3", "4"),
    "V008": _codes("1", "2", "3", "4", "11", "12", "13", "14", "21", "22", "23", "31", "32", "33"),
    "V014": _codes("1", "2", "3"),
    "V009": _codes("101", "102", "105", "106", "201", "205", "301", "313", "314", "317", "401"),
    "V012": _codes("101", "102", "103", "104", "201", "301", "304", "306", "401"),
    "V010": _codes("28", "29", "33"),
    "V002": {
        **_codes("97", "60", "136"),
        "3": (date(2000, 1, 1), date(2020, 12, 31)),
        "81": (date(2000, 1, 1), date(2025, 11, 10)),
    },
    "V021": _codes("76", "60", "27"),
    "F002": _codes("77001"),
    "M001": _codes("J18.9", "I10", "E11.9", "C50.4", "D05.1", "Z00.0", "K29.7"),
}
PARTICIPANTS = {
    ("mo", "640001"),
    ("mo", "640002"),
    ("smo", "64001"),
    ("smo", "64004"),
    ("tfoms", "64"),
}


def h_zap() -> Record:
    """A planned hospital stay in two SL, with a service inside the tariff and a paid one."""
    return {
        "N_ZAP": "1",
        "PR_NOV": "0",
        "PACIENT": {"ID_PAC": "P1", "VPOLIS": "3", "ENP": ENP, "SMO": "64004", "NOVOR": "0"},
        "Z_SL": {
            "IDCASE": "1001",
            "USL_OK": "1",
            "VIDPOM": "31",
            "FOR_POM": "3",
            "NPR_MO": "640002",
            "NPR_DATE": D(2025, 10, 30),
            "LPU": "640001",
            "DATE_Z_1": D(2025, 11, 3),
            "DATE_Z_2": D(2025, 11, 10),
            "KD_Z": M("7"),
            "RSLT": "101",
            "ISHOD": "101",
            "SL": [
                {
                    "SL_ID": "S1",
                    "PROFIL": "97",
                    "DET": "0",
                    "NHISTORY": "A-1",
                    "DATE_1": D(2025, 11, 3),
                    "DATE_2": D(2025, 11, 6),
                    "DS1": "J18.9",
                    "DS2": ["I10"],
                    "PRVS": "76",
                    "IDDOKT": SNILS,
                    "ED_COL": M("1"),
                    "TARIF": M("9000.00"),
                    "SUM_M": M("9000.00"),
                    "USL": [
                        {
                            "IDSERV": "U1",
                            "LPU": "640001",
                            "PROFIL": "97",
                            "DATE_IN": D(2025, 11, 3),
                            "DATE_OUT": D(2025, 11, 3),
                            "DS": "J18.9",
                            "CODE_USL": "B01.047.001",
                            "KOL_USL": M("1"),
                            "TARIF": M("0.00"),
                            "SUMV_USL": M("0.00"),
                            "PRVS": "76",
                            "CODE_MD": SNILS,
                        },
                        {
                            "IDSERV": "U2",
                            "LPU": "640001",
                            "PROFIL": "60",
                            "DATE_IN": D(2025, 11, 4),
                            "DATE_OUT": D(2025, 11, 6),
                            "DS": "J18.9",
                            "CODE_USL": "A06.09.007",
                            "KOL_USL": M("2"),
                            "TARIF": M("250.50"),
                            "SUMV_USL": M("501.00"),
                            "PRVS": "60",
                            "CODE_MD": SNILS,
                        },
                    ],
                },
                {
                    "SL_ID": "S2",
                    "PROFIL": "136",
                    "DET": "0",
                    "NHISTORY": "A-1",
                    "DATE_1": D(2025, 11, 6),
                    "DATE_2": D(2025, 11, 10),
                    "DS1": "E11.9",
                    "PRVS": "27",
                    "IDDOKT": SNILS,
                    "SUM_M": M("6000.00"),
                },
            ],
            "IDSP": "33",
            "SUMV": M("15000.00"),
        },
    }


def c_zap() -> Record:
    """An ambulatory visit for a confirmed breast cancer (C-file)."""
    zap = h_zap()
    z = zap["Z_SL"]
    z.update(USL_OK="3", VIDPOM="13", FOR_POM="3", RSLT="314", ISHOD="304", IDSP="29")
    for key in ("NPR_MO", "NPR_DATE", "KD_Z"):
        del z[key]
    sl = z["SL"][0]
    sl.update(DS1="C50.4", DS_ONK="0", ONK_SL={"DS1_T": "6"})
    del sl["DS2"], sl["USL"]
    z["SL"] = [sl]
    sl["SUM_M"] = z["SUMV"] = M("383.93")
    return zap


def d_zap() -> Record:
    """A dispensarisation with no findings (D-file: no USL_OK, RSLT, ISHOD, KOL_USL)."""
    return {
        "N_ZAP": "1",
        "PR_NOV": "0",
        "PACIENT": {"ID_PAC": "P1", "VPOLIS": "3", "ENP": ENP, "SMO": "64004", "NOVOR": "0"},
        "Z_SL": {
            "IDCASE": "2001",
            "VIDPOM": "12",
            "LPU": "640001",
            "VBR": "0",
            "DATE_Z_1": D(2025, 11, 3),
            "DATE_Z_2": D(2025, 11, 3),
            "P_OTK": "0",
            "RSLT_D": "1",
            "SL": [
                {
                    "SL_ID": "S1",
                    "NHISTORY": "D-1",
                    "DATE_1": D(2025, 11, 3),
                    "DATE_2": D(2025, 11, 3),
                    "DS1": "Z00.0",
                    "DS_ONK": "0",
                    "PR_D_N": "3",
                    "DS2_N": {"DS2": ["I10"], "DS2_PR": "1"},
                    "ED_COL": M("1"),
                    "TARIF": M("1806.57"),
                    "SUM_M": M("1806.57"),
                    "USL": [
                        {
                            "IDSERV": "U1",
                            "LPU": "640001",
                            "DATE_IN": D(2025, 11, 3),
                            "DATE_OUT": D(2025, 11, 3),
                            "P_OTK": "0",
                            "CODE_USL": "712037",
                            "TARIF": M("1806.57"),
                            "SUMV_USL": M("1806.57"),
                            "MR_USL_N": [{"MR_N": "1", "PRVS": "76", "CODE_MD": SNILS}],
                        }
                    ],
                }
            ],
            "IDSP": "29",
            "SUMV": M("1806.57"),
        },
    }


def pers() -> Record:
    return {
        "ID_PAC": "P1",
        "FAM": "Тестова",
        "IM": "Анна",
        "OT": "Ивановна",
        "W": "2",
        "DR": DR,
        "DOCTYPE": "14",
        "DOCSER": "63 00",
        "DOCNUM": "630012",
        "SNILS": SNILS,
    }


def header(file_type: str) -> Record:
    if file_type == "L":
        return {
            "ZGLV": {
                "VERSION": "3.2",
                "DATA": D(2025, 12, 1),
                "FILENAME": "L" + MAIN[1:],
                "FILENAME1": MAIN,
            }
        }
    sumv = {"C": M("383.93"), "D": M("1806.57")}.get(file_type[0], M("15000.00"))
    schet = {
        "CODE": "1",
        "CODE_MO": "640001",
        "YEAR": "2025",
        "MONTH": "11",
        "NSCHET": "1",
        "DSCHET": D(2025, 12, 1),
        "PLAT": "64004",
        "SUMMAV": sumv,
    }
    if file_type[0] == "D":
        schet["DISP"] = "ОПВ"
    return {
        "ZGLV": {
            "VERSION": "3.2",
            "DATA": D(2025, 12, 1),
            "FILENAME": file_type + MAIN[1:],
            "SD_Z": "1",
        },
        "SCHET": schet,
    }


def record(file_type: str) -> Record:
    """The record a record-scope rule gets for this file type."""
    if file_type == "L":
        return pers()
    return {"C": c_zap, "D": d_zap}.get(file_type[0], h_zap)()


def context(file_type: str = "H", **changes: Any) -> FileContext:
    """The file's context after its one record streamed (so file-scope rules can run)."""
    person = {k: v for k, v in pers().items() if k in PERSON_FIELDS}
    main = file_type == "L"
    ctx = FileContext(
        kind="registry",
        file_type=file_type,
        version="3.2",
        file_name=(file_type + MAIN[1:]) if not main else "L" + MAIN[1:],
        header=header(file_type),
        persons={} if main else {"P1": person},
        refs=FakeRefs(REFS),
        today=TODAY,
        region="64",
        sender_code="640001",
        participants=lambda role, code: (role, code) in PARTICIPANTS,
        main_file_name=MAIN if main else None,
    )
    if not main:
        ctx.observe(record(file_type))
    ctx.record_count = 1
    for name, value in changes.items():
        setattr(ctx, name, value)
    return ctx


_CYRILLIC = re.compile("[А-Яа-яЁё]")


def leaks(problem: Problem) -> list[str]:
    """Personal values of the sample person found in the problem's text."""
    text = f"{problem.comment} {problem.zn_pol or ''}"
    return [value for value in PERSONAL_VALUES if value in text]


def run(
    catalogue: Catalogue, rule_id: str, scope: str, rec: Record, ctx: FileContext
) -> list[Problem]:
    """The problems of one part of one rule, each checked against the protocol's promises."""
    (rule,) = [p for p in catalogue.parts(rule_id) if p.scope == scope]
    assert rule.check is not None
    problems = list(rule.check(rec, ctx))
    for p in problems:
        assert p.oshib == ("904" if rule.directory else rule.id)
        if rule.directory:
            assert p.comment.startswith(rule.id + " ")
        assert p.im_pol and p.bas_el, "IM_POL and BAS_EL are always filled"
        assert _CYRILLIC.search(p.comment) and len(p.comment) <= 250
        assert "{" not in p.comment, "every placeholder filled"
        assert not leaks(p), f"personal data in {p}"
    return problems


Changes = Mapping[str, Any]
"""A mutation as data: dotted path → new value (None deletes). Paths address the record
(for file-scope rules: the header); ``@`` addresses the context (``@persons.P1.DR``)."""


def apply(changes: Changes, rec: Record | None, ctx: FileContext) -> None:
    for path, value in changes.items():
        if path.startswith("@"):
            attr, _, rest = path[1:].partition(".")
            if not rest:
                setattr(ctx, attr, value)
                continue
            target, keys = getattr(ctx, attr), rest.split(".")
        else:
            target, keys = (rec if rec is not None else ctx.header), path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last: Any = int(keys[-1]) if isinstance(target, list) else keys[-1]
        if value is None:
            target.pop(last) if isinstance(target, list) else target.pop(last, None)
        else:
            target[last] = value


def expect(problems: list[Problem], expected: list[dict[str, Any]]) -> None:
    """As many problems as expected, each with the values for the fields the case names."""
    assert len(problems) == len(expected), f"{len(problems)} problems: {problems}"
    assert [
        {k: getattr(p, k) for k in e} for p, e in zip(problems, expected, strict=True)
    ] == expected


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def check(catalogue: Catalogue) -> Callable[..., list[Problem]]:
    """``check(rule_id, scope, file_type, changes)``: one rule part on a changed sample."""

    def checker(rule_id: str, scope: str, file_type: str, changes: Changes) -> list[Problem]:
        ctx = context(file_type)
        rec = record(file_type) if scope == "record" else None
        apply(changes, rec, ctx)
        return run(catalogue, rule_id, scope, rec if rec is not None else ctx.header, ctx)

    return checker


@pytest.fixture
def verify() -> Callable[[list[Problem], list[dict[str, Any]]], None]:
    return expect


@pytest.fixture
def samples() -> Any:
    """The builders, for tests that need a whole sample rather than a mutation."""

    class Samples:
        zap = staticmethod(h_zap)
        record = staticmethod(record)
        header = staticmethod(header)
        pers = staticmethod(pers)
        context = staticmethod(context)
        refs = REFS
        personal_values = PERSONAL_VALUES
        leaks = staticmethod(leaks)

    return Samples
