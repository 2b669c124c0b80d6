"""D-files: 003K.00.0040 (a health group that calls for follow-up has a NAZ)."""

from __future__ import annotations

import pytest

NAZ = [{"NAZ_N": "1", "NAZ_R": "1", "NAZ_SP": "76"}]


@pytest.mark.parametrize("rslt_d", ["3", "4", "5", "31", "32"])
def test_a_health_group_needing_follow_up_without_naz_is_refused(check, verify, rslt_d):
    verify(
        check("003K.00.0040", "record", "DP", {"Z_SL.RSLT_D": rslt_d}),
        [
            {
                "oshib": "003K.00.0040",
                "im_pol": "RSLT_D",
                "bas_el": "Z_SL",
                "zn_pol": rslt_d,
                "n_zap": "1",
                "idcase": "2001",
                "comment": f"RSLT_D={rslt_d} требует хотя бы одного назначения NAZ",
            }
        ],
    )


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="health group 1 needs no NAZ"),
        pytest.param({"Z_SL.RSLT_D": "3", "Z_SL.SL.0.NAZ": NAZ}, id="group 3 with a NAZ"),
    ],
)
def test_a_follow_up_that_is_prescribed_passes(check, changes):
    assert check("003K.00.0040", "record", "DV", changes) == []
