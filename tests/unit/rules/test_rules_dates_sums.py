"""002K: dates in order, sums that add up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

D, M = date, Decimal
TODAY = D(2025, 12, 5)
HOSP = {
    "ZGLV": {
        "VERSION": "2.0",
        "DATE_F": D(2025, 12, 6),
        "NAME_F": "I01M640001T64_2512061",
        "DATE_R": D(2025, 12, 5),
    }
}

FAILING = [
    pytest.param(
        "002K.00.0010",
        "file",
        "H",
        {"ZGLV.DATA": D(2025, 12, 6)},
        [
            {
                "oshib": "002K.00.0010",
                "im_pol": "DATA",
                "bas_el": "ZGLV",
                "zn_pol": "2025-12-06",
                "comment": "DATA=2025-12-06 позже текущей даты 05.12.2025",
            }
        ],
        id="a file dated tomorrow is rejected",
    ),
    pytest.param(
        "002K.00.0010",
        "file",
        "H",
        {"SCHET.DSCHET": D(2025, 12, 2)},
        [
            {
                "im_pol": "DSCHET",
                "bas_el": "SCHET",
                "zn_pol": "2025-12-02",
                "comment": "DSCHET=2025-12-02 позже даты файла DATA=2025-12-01",
            }
        ],
        id="an invoice dated after its file is rejected",
    ),
    pytest.param(
        "002K.00.0010",
        "file",
        "I01",
        {"@header": HOSP},
        [{"im_pol": "DATE_F", "zn_pol": "2025-12-06"}],
        id="a hosp file's date is DATE_F",
    ),
    pytest.param(
        "002K.00.0160",
        "record",
        "H",
        {"Z_SL.DATE_Z_2": D(2025, 12, 1)},
        [
            {
                "im_pol": "DATE_Z_2",
                "bas_el": "Z_SL",
                "zn_pol": "2025-12-01",
                "idcase": "1001",
                "comment": "DATE_Z_2=2025-12-01 позже отчётного периода 11.2025",
            }
        ],
        id="a case ending after the invoice's month is refused",
    ),
    pytest.param(
        "002K.00.0160",
        "record",
        "H",
        {"@header.SCHET.MONTH": "12", "@header.SCHET.DSCHET": D(2025, 11, 9)},
        [
            {
                "im_pol": "DATE_Z_2",
                "comment": "DATE_Z_2=2025-11-10 позже даты счёта DSCHET=2025-11-09",
            }
        ],
        id="a case ending after the invoice's date is refused",
    ),
    pytest.param(
        "002K.00.0330",
        "record",
        "H",
        {"Z_SL.SL.0.DATE_1": D(2025, 11, 2)},
        [
            {
                "im_pol": "DATE_1",
                "bas_el": "SL",
                "sl_id": "S1",
                "zn_pol": "2025-11-02",
                "comment": "DATE_1=2025-11-02 раньше DATE_Z_1=2025-11-03",
            }
        ],
        id="an SL starting before its case is refused",
    ),
    pytest.param(
        "002K.00.0330",
        "record",
        "H",
        {"Z_SL.SL.0.USL.1.DATE_OUT": D(2025, 11, 7)},
        [
            {
                "im_pol": "DATE_OUT",
                "bas_el": "USL",
                "sl_id": "S1",
                "idserv": "U2",
                "zn_pol": "2025-11-07",
                "comment": "DATE_2=2025-11-06 раньше DATE_OUT=2025-11-07",
            }
        ],
        id="a service ending after its SL is refused",
    ),
    pytest.param(
        "002K.00.0330",
        "record",
        "H",
        {"Z_SL.DATE_Z_2": D(2025, 11, 2)},
        [
            {"im_pol": "DATE_Z_2", "bas_el": "Z_SL", "zn_pol": "2025-11-02"},
            {"im_pol": "DATE_2", "sl_id": "S1", "zn_pol": "2025-11-06"},
            {"im_pol": "DATE_2", "sl_id": "S2", "zn_pol": "2025-11-10"},
        ],
        id="a case ending before it starts breaks every link that depends on it",
    ),
    pytest.param(
        "002K.00.0240",
        "record",
        "H",
        {"@persons.P1.DR": D(2025, 11, 4)},
        [
            {
                "im_pol": "DR",
                "bas_el": "PERS",
                "zn_pol": None,
                "id_pac": "P1",
                "comment": "Дата рождения пациента (DR в файле персональных данных) позже начала "
                "случая DATE_Z_1=2025-11-03",
            }
        ],
        id="a patient born after the case started is refused without showing the birth date",
    ),
    pytest.param(
        "002K.00.0290",
        "record",
        "H",
        {"Z_SL.NPR_DATE": None},
        [
            {
                "im_pol": "NPR_DATE",
                "bas_el": "Z_SL",
                "comment": "NPR_MO указан без NPR_DATE: они указываются вместе",
            }
        ],
        id="a referring МО without the referral date is refused",
    ),
    pytest.param(
        "002K.00.0290",
        "record",
        "H",
        {"Z_SL.NPR_DATE": D(2025, 11, 4)},
        [
            {
                "im_pol": "NPR_DATE",
                "zn_pol": "2025-11-04",
                "comment": "NPR_DATE=2025-11-04 позже начала случая DATE_Z_1=2025-11-03",
            }
        ],
        id="a referral dated after the admission is refused",
    ),
    pytest.param(
        "002K.00.0290",
        "record",
        "H",
        {"Z_SL.NPR_DATE": None, "Z_SL.NPR_MO": None},
        [
            {
                "im_pol": "NPR_MO",
                "comment": "Плановая помощь (FOR_POM=3) при USL_OK=1: нужны NPR_MO и NPR_DATE",
            }
        ],
        id="a planned admission without a referral is refused",
    ),
    pytest.param(
        "002K.00.0370",
        "record",
        "H",
        {"Z_SL.SUMV": M("15000.01")},
        [
            {
                "im_pol": "SUMV",
                "bas_el": "Z_SL",
                "zn_pol": "15000.01",
                "comment": "SUMV=15000.01 не равна сумме SUM_M по случаям SL (15000.00)",
            }
        ],
        id="a case sum a kopeck off its SL sums is refused",
    ),
    pytest.param(
        "002K.64.0371",
        "file",
        "H",
        {"SCHET.SUMMAV": M("14999.99")},
        [
            {
                "oshib": "002K.64.0371",
                "im_pol": "SUMMAV",
                "bas_el": "SCHET",
                "zn_pol": "14999.99",
                "comment": "SUMMAV=14999.99 не равна сумме SUMV по всем ZAP (15000.00)",
            }
        ],
        id="an invoice total other than the sum of its cases rejects the file",
    ),
    pytest.param(
        "002K.64.0570",
        "record",
        "H",
        {"Z_SL.SL.0.USL.1.SUMV_USL": M("500.00")},
        [
            {
                "im_pol": "SUMV_USL",
                "bas_el": "USL",
                "sl_id": "S1",
                "idserv": "U2",
                "zn_pol": "500.00",
                "comment": "SUMV_USL=500.00: ожидается 0 или TARIF×KOL_USL = 250.50×2 = 501.00",
            }
        ],
        id="a service sum other than tariff times quantity is refused",
    ),
]

PASSING = [
    pytest.param("002K.00.0010", "file", "H", {}, id="a file dated before today"),
    pytest.param(
        "002K.00.0010",
        "file",
        "H",
        {"ZGLV.DATA": TODAY, "SCHET.DSCHET": TODAY},
        id="a file and invoice dated today",
    ),
    pytest.param("002K.00.0010", "file", "L", {}, id="an L-file dated before today"),
    pytest.param(
        "002K.00.0160",
        "record",
        "H",
        {"Z_SL.DATE_Z_2": D(2025, 11, 30)},
        id="a case ending on the last day of the invoice's month",
    ),
    pytest.param("002K.00.0160", "record", "DP", {}, id="a D case within its invoice"),
    pytest.param("002K.00.0330", "record", "H", {}, id="dates in order, SL meeting on a day"),
    pytest.param("002K.00.0330", "record", "DP", {}, id="a one-day exam"),
    pytest.param(
        "002K.00.0240",
        "record",
        "H",
        {"@persons.P1.DR": D(2025, 11, 3)},
        id="a newborn treated on the day of birth",
    ),
    pytest.param(
        "002K.00.0240",
        "record",
        "H",
        {"PACIENT.ID_PAC": "P9"},
        id="a missing PERS is left to 003F.00.3080",
    ),
    pytest.param(
        "002K.00.0290",
        "record",
        "H",
        {"Z_SL.NPR_DATE": None, "Z_SL.NPR_MO": None, "Z_SL.FOR_POM": "2"},
        id="an urgent admission needs no referral",
    ),
    pytest.param(
        "002K.00.0290",
        "record",
        "H",
        {"Z_SL.NPR_DATE": D(2025, 11, 3)},
        id="a referral dated the day of admission",
    ),
    pytest.param(
        "002K.00.0370",
        "record",
        "H",
        {"Z_SL.SUMV": M("15000")},
        id="the same sum written without kopecks",
    ),
    pytest.param(
        "002K.00.0370",
        "record",
        "H",
        {"Z_SL.SUMV": "15000,00"},
        id="a sum that did not convert is left to the structure check",
    ),
    pytest.param("002K.64.0371", "file", "H", {}, id="the invoice total adds up"),
    pytest.param(
        "002K.64.0371",
        "file",
        "H",
        {"@totals": {"SUMV": M("NaN")}, "SCHET.SUMMAV": M("1")},
        id="an unknown total is not compared",
    ),
    pytest.param("002K.64.0570", "record", "H", {}, id="a service inside the tariff costs 0"),
    pytest.param(
        "002K.64.0570",
        "record",
        "H",
        {
            "Z_SL.SL.0.USL.1.TARIF": M("100.33"),
            "Z_SL.SL.0.USL.1.KOL_USL": M("1.5"),
            "Z_SL.SL.0.USL.1.SUMV_USL": M("150.50"),
        },
        id="tariff times quantity rounded half up to the kopeck",
    ),
]


@pytest.mark.parametrize(("rule_id", "scope", "file_type", "changes", "expected"), FAILING)
def test_a_broken_sample_gets_the_rules_problem(
    check, verify, rule_id, scope, file_type, changes, expected
):
    verify(check(rule_id, scope, file_type, changes), expected)


@pytest.mark.parametrize(("rule_id", "scope", "file_type", "changes"), PASSING)
def test_a_valid_sample_passes(check, rule_id, scope, file_type, changes):
    assert check(rule_id, scope, file_type, changes) == []
