"""001F: codes in their reference directories at the case date, reported as 904."""

from __future__ import annotations

from datetime import date

import pytest

FAILING = [
    pytest.param(
        "001F.00.0160",
        "record",
        "H",
        {"Z_SL.USL_OK": "9"},
        [
            {
                "oshib": "904",
                "im_pol": "USL_OK",
                "bas_el": "Z_SL",
                "zn_pol": "9",
                "n_zap": "1",
                "idcase": "1001",
                "sl_id": None,
                "comment": "001F.00.0160 USL_OK=9 нет в V006 на 10.11.2025",
            }
        ],
        id="a USL_OK outside V006 is refused with 904",
    ),
    pytest.param(
        "001F.00.0160",
        "record",
        "H",
        {"Z_SL.IDSP": "99", "Z_SL.SL.0.PROFIL": "3", "Z_SL.SL.0.USL.1.PRVS": "999"},
        [
            {
                "im_pol": "IDSP",
                "bas_el": "Z_SL",
                "comment": "001F.00.0160 IDSP=99 нет в V010 на 10.11.2025",
            },
            {
                "im_pol": "PROFIL",
                "bas_el": "SL",
                "sl_id": "S1",
                "idserv": None,
                "comment": "001F.00.0160 PROFIL=3 нет в V002 на 10.11.2025",
            },
            {"im_pol": "PRVS", "bas_el": "USL", "sl_id": "S1", "idserv": "U2", "zn_pol": "999"},
        ],
        id="each failing field is its own problem, a code closed before the case included",
    ),
    pytest.param(
        "001F.00.0160",
        "record",
        "DP",
        {"Z_SL.SL.0.USL.0.MR_USL_N.0.PRVS": "999"},
        [{"im_pol": "PRVS", "bas_el": "MR_USL_N", "idserv": "U1"}],
        id="PRVS of the medical workers of a service is checked",
    ),
    pytest.param(
        "001F.00.0160",
        "record",
        "H",
        {"Z_SL.DATE_Z_2": "2025-13-01", "Z_SL.RSLT": "999"},
        [{"im_pol": "RSLT", "comment": "001F.00.0160 RSLT=999 нет в V009 на дату случая"}],
        id="without a case date the directory is asked for any date",
    ),
    pytest.param(
        "001F.64.0010",
        "record",
        "H",
        {"Z_SL.SL.1.DS1": "X99.99"},
        [
            {
                "oshib": "904",
                "im_pol": "DS1",
                "bas_el": "SL",
                "sl_id": "S2",
                "zn_pol": "X99.99",
                "comment": "001F.64.0010 DS1=X99.99 нет в M001 на 10.11.2025",
            }
        ],
        id="a DS1 outside ICD-10 is refused with 904",
    ),
    pytest.param(
        "001F.64.0010",
        "record",
        "H",
        {
            "Z_SL.SL.0.DS0": "Q00.0",
            "Z_SL.SL.0.DS2": ["I10", "Q99.9"],
            "Z_SL.SL.0.DS3": ["Q01.0"],
            "Z_SL.SL.0.USL.0.DS": "Q98.0",
        },
        [
            {"im_pol": "DS0", "bas_el": "SL"},
            {"im_pol": "DS2", "zn_pol": "Q99.9"},
            {"im_pol": "DS3", "zn_pol": "Q01.0"},
            {"im_pol": "DS", "bas_el": "USL", "idserv": "U1"},
        ],
        id="DS0, every DS2 and DS3 and a service's DS are checked",
    ),
    pytest.param(
        "001F.64.0010",
        "record",
        "DP",
        {"Z_SL.SL.0.DS2_N.DS2": ["Q99.9"]},
        [{"im_pol": "DS2", "bas_el": "DS2_N", "sl_id": "S1"}],
        id="a D-file's DS2_N/DS2 is checked",
    ),
    pytest.param(
        "001F.00.0030",
        "record",
        "H",
        {"Z_SL.LPU": "640099"},
        [
            {
                "oshib": "904",
                "im_pol": "LPU",
                "bas_el": "Z_SL",
                "zn_pol": "640099",
                "comment": "001F.00.0030 LPU=640099 нет среди действующих МО (F003)",
            }
        ],
        id="an unknown МО in LPU is refused",
    ),
    pytest.param(
        "001F.00.0030",
        "record",
        "H",
        {"Z_SL.LPU": "770001"},
        [{"comment": "001F.00.0030 LPU=770001: МО не из региона 64"}],
        id="an МО of another region in LPU is refused",
    ),
    pytest.param(
        "001F.00.0030",
        "record",
        "H",
        {"Z_SL.LPU": "640002"},
        [{"comment": "001F.00.0030 LPU=640002 не совпадает с отправителем 640001"}],
        id="a known МО in LPU that is not the sender is refused",
    ),
    pytest.param(
        "001F.00.0030",
        "file",
        "H",
        {"SCHET.CODE_MO": "640002"},
        [
            {
                "oshib": "904",
                "im_pol": "CODE_MO",
                "bas_el": "SCHET",
                "n_zap": None,
                "comment": "001F.00.0030 CODE_MO=640002 не совпадает с отправителем 640001",
            }
        ],
        id="an invoice of another МО than the sender rejects the file",
    ),
    pytest.param(
        "001F.00.0080",
        "record",
        "H",
        {"PACIENT.SMO": "64009"},
        [
            {
                "oshib": "904",
                "im_pol": "SMO",
                "bas_el": "PACIENT",
                "zn_pol": "64009",
                "comment": "001F.00.0080 SMO=64009 нет среди действующих СМО региона 64",
            }
        ],
        id="an unknown СМО of the region is refused",
    ),
    pytest.param(
        "001F.00.0080",
        "record",
        "H",
        {"PACIENT.SMO": "77002"},
        [{"comment": "001F.00.0080 SMO=77002 нет в F002 на 10.11.2025"}],
        id="an out-of-region СМО missing from F002 is refused",
    ),
    pytest.param(
        "001F.00.0080",
        "file",
        "H",
        {"SCHET.PLAT": "64009"},
        [
            {
                "im_pol": "PLAT",
                "bas_el": "SCHET",
                "zn_pol": "64009",
                "comment": "001F.00.0080 PLAT=64009: плательщиком может быть действующая СМО "
                "региона 64 или ТФОМС 64",
            }
        ],
        id="a payer that is neither a known СМО nor the fund rejects the file",
    ),
]

PASSING = [
    pytest.param("001F.00.0160", "record", "H", {}, id="every code of an H case"),
    pytest.param("001F.00.0160", "record", "DP", {}, id="every code of a D case"),
    pytest.param(
        "001F.00.0160",
        "record",
        "H",
        {"Z_SL.SL.0.PROFIL": "81"},
        id="a code valid up to the case's last day",
    ),
    pytest.param("001F.64.0010", "record", "H", {}, id="the diagnoses of an H case"),
    pytest.param("001F.64.0010", "record", "C", {}, id="the diagnoses of a C case"),
    pytest.param("001F.64.0010", "record", "DV", {}, id="the diagnoses of a D case"),
    pytest.param("001F.00.0030", "record", "H", {}, id="LPU is the sender"),
    pytest.param("001F.00.0030", "file", "H", {}, id="CODE_MO is the sender"),
    pytest.param(
        "001F.00.0080", "record", "H", {"PACIENT.SMO": "77001"}, id="an out-of-region СМО in F002"
    ),
    pytest.param("001F.00.0080", "record", "H", {"PACIENT.SMO": None}, id="no SMO"),
    pytest.param("001F.00.0080", "file", "H", {"SCHET.PLAT": "64"}, id="the fund pays"),
    pytest.param("001F.00.0080", "file", "H", {"SCHET.PLAT": None}, id="no PLAT"),
]


@pytest.mark.parametrize(("rule_id", "scope", "file_type", "changes", "expected"), FAILING)
def test_a_broken_sample_gets_the_rules_problem(
    check, verify, rule_id, scope, file_type, changes, expected
):
    verify(check(rule_id, scope, file_type, changes), expected)


@pytest.mark.parametrize(("rule_id", "scope", "file_type", "changes"), PASSING)
def test_a_valid_sample_passes(check, rule_id, scope, file_type, changes):
    assert check(rule_id, scope, file_type, changes) == []


def test_directories_are_asked_at_the_case_end_date(catalogue, samples):
    ctx = samples.context("H")
    list(catalogue["001F.00.0160"].check(samples.record("H"), ctx))
    assert ("V006", "1", date(2025, 11, 10)) in ctx.refs.asked
    assert {on for _, _, on in ctx.refs.asked} == {date(2025, 11, 10)}


def test_an_out_of_region_smo_goes_unchecked_when_f002_is_not_loaded(catalogue, samples):
    ctx = samples.context("H")
    ctx.refs = type(ctx.refs)({k: v for k, v in samples.refs.items() if k != "F002"})
    zap = samples.record("H")
    zap["PACIENT"]["SMO"] = "77002"
    assert list(catalogue.parts("001F.00.0080")[0].check(zap, ctx)) == []


def test_a_directory_that_is_not_loaded_is_an_installation_fault_not_a_904(catalogue, samples):
    ctx = samples.context("H")
    ctx.refs = type(ctx.refs)({})
    with pytest.raises(LookupError):
        list(catalogue["001F.00.0160"].check(samples.record("H"), ctx))
