"""006F: codes that must agree with each other within a case."""

from __future__ import annotations

import pytest

FAILING = [
    pytest.param(
        "006F.00.1200",
        "H",
        {"Z_SL.VIDPOM": "13"},
        [
            {
                "oshib": "006F.00.1200",
                "im_pol": "VIDPOM",
                "bas_el": "Z_SL",
                "zn_pol": "13",
                "n_zap": "1",
                "idcase": "1001",
                "id_pac": "P1",
                "comment": "Недопустимое сочетание USL_OK=1 и VIDPOM=13",
            }
        ],
        id="primary care in a hospital stay is refused",
    ),
    pytest.param(
        "006F.00.1200",
        "T",
        {"Z_SL.USL_OK": "4", "Z_SL.VIDPOM": "31"},
        [{"comment": "Недопустимое сочетание USL_OK=4 и VIDPOM=31"}],
        id="specialised care by an ambulance is refused",
    ),
    pytest.param(
        "006F.00.1280",
        "H",
        {"Z_SL.USL_OK": "4", "Z_SL.VIDPOM": "21", "Z_SL.FOR_POM": "3"},
        [
            {
                "im_pol": "FOR_POM",
                "bas_el": "Z_SL",
                "zn_pol": "3",
                "comment": "Недопустимое сочетание USL_OK=4 и FOR_POM=3",
            }
        ],
        id="a planned ambulance call is refused",
    ),
    pytest.param(
        "006F.00.1280",
        "H",
        {"Z_SL.USL_OK": "2", "Z_SL.FOR_POM": "1"},
        [{"comment": "Недопустимое сочетание USL_OK=2 и FOR_POM=1"}],
        id="emergency care in a day hospital is refused",
    ),
    pytest.param(
        "006F.00.1100",
        "H",
        {"Z_SL.ISHOD": "301"},
        [
            {
                "im_pol": "ISHOD",
                "bas_el": "Z_SL",
                "zn_pol": "301",
                "comment": "ISHOD=301 и RSLT=101 относятся к разным условиям оказания помощи",
            }
        ],
        id="an ambulatory outcome with a hospital result is refused",
    ),
    pytest.param(
        "006F.00.1100",
        "H",
        {"Z_SL.USL_OK": "3", "Z_SL.ISHOD": "306", "Z_SL.RSLT": "314"},
        [
            {
                "im_pol": "ISHOD",
                "zn_pol": "306",
                "comment": "ISHOD=306 допускается только с RSLT смерти "
                "(105, 106, 205, 206, 313, 405, 406, 411), указан RSLT=314",
            }
        ],
        id="ISHOD 306 with a result other than death is refused",
    ),
    pytest.param(
        "006F.00.0430",
        "H",
        {"Z_SL.SL.0.DS2": ["I10", "J18.9"]},
        [
            {
                "im_pol": "DS2",
                "bas_el": "SL",
                "sl_id": "S1",
                "zn_pol": "J18.9",
                "comment": "DS2=J18.9 совпадает с основным диагнозом DS1",
            }
        ],
        id="a DS2 repeating DS1 is refused",
    ),
    pytest.param(
        "006F.00.0430",
        "DP",
        {"Z_SL.SL.0.DS2_N.DS2": ["Z00.0"]},
        [{"im_pol": "DS2", "bas_el": "DS2_N", "sl_id": "S1", "zn_pol": "Z00.0"}],
        id="a D-file's DS2_N repeating DS1 is refused",
    ),
]

PASSING = [
    pytest.param("006F.00.1200", "H", {}, id="specialised care in hospital"),
    pytest.param(
        "006F.00.1200",
        "H",
        {"Z_SL.USL_OK": "3", "Z_SL.VIDPOM": "13"},
        id="primary care in a clinic",
    ),
    pytest.param(
        "006F.00.1200",
        "H",
        {"Z_SL.USL_OK": "9", "Z_SL.VIDPOM": "13"},
        id="an unknown USL_OK is left to the directory check",
    ),
    pytest.param("006F.00.1280", "H", {"Z_SL.FOR_POM": "1"}, id="any form of care in a hospital"),
    pytest.param(
        "006F.00.1280",
        "H",
        {"Z_SL.USL_OK": "4", "Z_SL.VIDPOM": "21", "Z_SL.FOR_POM": "2"},
        id="an urgent ambulance call",
    ),
    pytest.param("006F.00.1100", "H", {}, id="a hospital outcome with a hospital result"),
    pytest.param(
        "006F.00.1100",
        "H",
        {"Z_SL.USL_OK": "3", "Z_SL.ISHOD": "306", "Z_SL.RSLT": "313"},
        id="ISHOD 306 with a recorded death",
    ),
    pytest.param(
        "006F.00.1100",
        "H",
        {"Z_SL.ISHOD": "3O6"},
        id="a malformed code is left to the other checks",
    ),
    pytest.param("006F.00.0430", "H", {}, id="DS2 other than DS1"),
    pytest.param("006F.00.0430", "DP", {}, id="a D-file's DS2_N other than DS1"),
]


@pytest.mark.parametrize(("rule_id", "file_type", "changes", "expected"), FAILING)
def test_a_broken_sample_gets_the_rules_problem(
    check, verify, rule_id, file_type, changes, expected
):
    verify(check(rule_id, "record", file_type, changes), expected)


@pytest.mark.parametrize(("rule_id", "file_type", "changes"), PASSING)
def test_a_valid_sample_passes(check, rule_id, file_type, changes):
    assert check(rule_id, "record", file_type, changes) == []
