"""C-files: 006F.00.0350 (suspicion and result), 006F.00.0900 (ONK_SL for a malignancy)."""

from __future__ import annotations

import pytest

FAILING = [
    pytest.param(
        "006F.00.0350",
        {"Z_SL.RSLT": "317", "Z_SL.SL.0.DS_ONK": "1"},
        [
            {
                "oshib": "006F.00.0350",
                "im_pol": "RSLT",
                "bas_el": "Z_SL",
                "sl_id": "S1",
                "zn_pol": "317",
                "comment": "При подозрении на ЗНО (DS_ONK=1) недопустим RSLT=317",
            }
        ],
        id="a suspected cancer case with an excluded result is refused",
    ),
    pytest.param(
        "006F.00.0900",
        {"Z_SL.SL.0.ONK_SL": None},
        [
            {
                "oshib": "006F.00.0900",
                "im_pol": "ONK_SL",
                "bas_el": "SL",
                "sl_id": "S1",
                "zn_pol": "C50.4",
                "comment": "DS1=C50.4 (ЗНО) при DS_ONK=0: нет сведений о случае лечения ONK_SL",
            }
        ],
        id="a confirmed malignancy without ONK_SL is refused",
    ),
    pytest.param(
        "006F.00.0900",
        {"Z_SL.SL.0.ONK_SL": None, "Z_SL.SL.0.DS1": "D05.1"},
        [{"zn_pol": "D05.1"}],
        id="a carcinoma in situ without ONK_SL is refused",
    ),
]

PASSING = [
    pytest.param(
        "006F.00.0350", {"Z_SL.SL.0.DS_ONK": "1"}, id="a suspicion with an allowed result"
    ),
    pytest.param("006F.00.0350", {"Z_SL.RSLT": "317"}, id="the result without a suspicion"),
    pytest.param("006F.00.0900", {}, id="a malignancy with ONK_SL"),
    pytest.param(
        "006F.00.0900",
        {"Z_SL.SL.0.ONK_SL": None, "Z_SL.SL.0.DS_ONK": "1"},
        id="a suspicion needs no ONK_SL",
    ),
    pytest.param(
        "006F.00.0900",
        {"Z_SL.SL.0.ONK_SL": None, "Z_SL.SL.0.DS1": "D10.0"},
        id="a benign tumour needs no ONK_SL",
    ),
]


@pytest.mark.parametrize(("rule_id", "changes", "expected"), FAILING)
def test_a_broken_sample_gets_the_rules_problem(check, verify, rule_id, changes, expected):
    verify(check(rule_id, "record", "C", changes), expected)


@pytest.mark.parametrize(("rule_id", "changes"), PASSING)
def test_a_valid_sample_passes(check, rule_id, changes):
    assert check(rule_id, "record", "C", changes) == []
