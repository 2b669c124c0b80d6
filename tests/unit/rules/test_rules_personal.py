"""L-file personal data: names present (003F.00.1530), SNILS check number (004F.00.1570)."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.rules.personal import snils_valid

NOVOR = "2170525 1"
REPRESENTATIVE = {
    "@persons.P1.FAM_P": "Тестов",
    "@persons.P1.IM_P": "Иван",
    "@persons.P1.W_P": "1",
    "@persons.P1.DR_P": date(1979, 1, 1),
}

FAILING = [
    pytest.param(
        "003F.00.1530",
        "L",
        {"FAM": None},
        [
            {
                "oshib": "003F.00.1530",
                "im_pol": "FAM",
                "bas_el": "PERS",
                "id_pac": "P1",
                "zn_pol": None,
                "comment": "Не указано FAM, а DOST не содержит код 2, отмечающий его отсутствие",
            }
        ],
        id="a PERS without FAM and without DOST 2 is refused",
    ),
    pytest.param(
        "003F.00.1530",
        "L",
        {"IM": "", "DOST": ["2"]},
        [
            {
                "im_pol": "IM",
                "comment": "Не указано IM, а DOST не содержит код 3, отмечающий его отсутствие",
            }
        ],
        id="DOST 2 excuses the surname, not the first name",
    ),
    pytest.param(
        "003F.00.1530",
        "H",
        {"PACIENT.NOVOR": NOVOR},
        [
            {"im_pol": "FAM_P", "bas_el": "PERS", "n_zap": "1", "idcase": "1001", "id_pac": "P1"},
            {
                "im_pol": "IM_P",
                "comment": "Не указано IM_P, а DOST_P не содержит код 3, отмечающий его отсутствие",
            },
            {"im_pol": "W_P", "comment": "NOVOR≠0: в PERS не указано W_P представителя"},
            {"im_pol": "DR_P", "zn_pol": None},
        ],
        id="a newborn's case whose PERS has no representative is refused once per field",
    ),
    pytest.param(
        "003F.00.1530",
        "H",
        {
            "PACIENT.NOVOR": NOVOR,
            **REPRESENTATIVE,
            "@persons.P1.FAM_P": None,
            "@persons.P1.DOST_P": ["3"],
        },
        [{"im_pol": "FAM_P"}],
        id="DOST_P 3 does not excuse the representative's surname",
    ),
    pytest.param(
        "004F.00.1570",
        "L",
        {"SNILS": "112-233-445 96"},
        [
            {
                "oshib": "004F.00.1570",
                "im_pol": "SNILS",
                "bas_el": "PERS",
                "id_pac": "P1",
                "zn_pol": None,
                "comment": "SNILS: неверное контрольное число",
            }
        ],
        id="a SNILS with a wrong check number is refused without being echoed",
    ),
    pytest.param(
        "004F.00.1570",
        "L",
        {"SNILS": "112233445-95"},
        [
            {
                "im_pol": "SNILS",
                "zn_pol": None,
                "comment": "SNILS: неверный формат, нужно XXX-XXX-XXX YY или 11 цифр",
            }
        ],
        id="a SNILS in neither accepted form is refused",
    ),
]

PASSING = [
    pytest.param("003F.00.1530", "L", {}, id="a PERS with its names"),
    pytest.param("003F.00.1530", "L", {"FAM": None, "DOST": ["2"]}, id="no surname with DOST 2"),
    pytest.param("003F.00.1530", "H", {}, id="NOVOR=0 needs no representative"),
    pytest.param(
        "003F.00.1530",
        "H",
        {"PACIENT.NOVOR": NOVOR, **REPRESENTATIVE},
        id="a newborn with the representative's fields",
    ),
    pytest.param(
        "003F.00.1530",
        "H",
        {
            "PACIENT.NOVOR": NOVOR,
            **REPRESENTATIVE,
            "@persons.P1.FAM_P": None,
            "@persons.P1.IM_P": None,
            "@persons.P1.DOST_P": ["2", "3"],
        },
        id="the representative's names excused by DOST_P",
    ),
    pytest.param(
        "003F.00.1530",
        "H",
        {"PACIENT.NOVOR": NOVOR, "PACIENT.ID_PAC": "P9"},
        id="a missing PERS is left to 003F.00.3080",
    ),
    pytest.param("004F.00.1570", "L", {}, id="a SNILS written with dashes"),
    pytest.param("004F.00.1570", "L", {"SNILS": "11223344595"}, id="a SNILS of 11 digits"),
    pytest.param("004F.00.1570", "L", {"SNILS": None}, id="no SNILS"),
]


@pytest.mark.parametrize(("rule_id", "file_type", "changes", "expected"), FAILING)
def test_a_broken_sample_gets_the_rules_problem(
    check, verify, rule_id, file_type, changes, expected
):
    verify(check(rule_id, "record", file_type, changes), expected)


@pytest.mark.parametrize(("rule_id", "file_type", "changes"), PASSING)
def test_a_valid_sample_passes(check, rule_id, file_type, changes):
    assert check(rule_id, "record", file_type, changes) == []


@pytest.mark.parametrize(
    ("snils", "valid"),
    [
        ("110-704-341 93", True),  # sum 93 < 100: the sum itself
        ("050-234-316 00", True),  # sum 100 → 00
        ("016-103-396 00", True),  # sum 101 → 00
        ("291-417-776 94", True),  # sum 195 → 195 mod 101 = 94
        ("820-981-233 00", True),  # sum 201 → mod 101 = 100 → 00
        ("29141777694", True),
        ("291-417-776 95", False),
        ("820-981-233 99", False),
        ("001-001-998 00", True),  # up to 001-001-998 no check number is checked
        ("001-001-999 00", False),
        ("291 417 776 94", False),
        ("2914177769", False),
        ("", False),
    ],
)
def test_the_snils_check_number_follows_the_pension_fund_algorithm(snils, valid):
    assert snils_valid(snils) is valid
