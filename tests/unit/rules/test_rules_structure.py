"""003F: the file's own name and count, the H ↔ L linkage, the policy number."""

from __future__ import annotations

from datetime import date

import pytest

MAIN = "HM640001S64004_25111"
ATTACH = {
    "ZGLV": {
        "VERSION": "1.3",
        "FDATE": date(2025, 12, 1),
        "FNAME": "ATM640001T64_25121",
        "CODE_MO": "640001",
    }
}
HOSP = {
    "ZGLV": {
        "VERSION": "2.0",
        "DATE_F": date(2025, 12, 1),
        "NAME_F": "I01M640001T64_2512011",
        "DATE_R": date(2025, 12, 1),
    }
}

FAILING = [
    pytest.param(
        "003F.00.1970",
        "file",
        "H",
        {"ZGLV.FILENAME": "HM640001S64004_25112"},
        [
            {
                "im_pol": "FILENAME",
                "bas_el": "ZGLV",
                "zn_pol": "HM640001S64004_25112",
                "comment": f"FILENAME=HM640001S64004_25112 не совпадает с именем файла {MAIN}",
            }
        ],
        id="a FILENAME other than the file's name rejects the file",
    ),
    pytest.param(
        "003F.00.1970",
        "file",
        "L",
        {"ZGLV.FILENAME1": "HM640001S64004_25112"},
        [
            {
                "im_pol": "FILENAME1",
                "bas_el": "ZGLV",
                "zn_pol": "HM640001S64004_25112",
                "comment": "FILENAME1=HM640001S64004_25112 не совпадает с именем основного "
                f"файла {MAIN}",
            }
        ],
        id="an L-file whose FILENAME1 is not the main file's name is rejected",
    ),
    pytest.param(
        "003F.00.1970",
        "file",
        "AT",
        {"@header": ATTACH, "@file_name": "ATM640001T64_25122"},
        [{"im_pol": "FNAME", "zn_pol": "ATM640001T64_25121"}],
        id="an attach file's name is read from FNAME",
    ),
    pytest.param(
        "003F.00.1970",
        "file",
        "I01",
        {"@header": HOSP, "@file_name": "I01M640001T64_2512012"},
        [{"im_pol": "NAME_F", "zn_pol": "I01M640001T64_2512011"}],
        id="a hosp file's name is read from NAME_F",
    ),
    pytest.param(
        "003F.64.0001",
        "file",
        "H",
        {"ZGLV.SD_Z": "2"},
        [
            {
                "im_pol": "SD_Z",
                "bas_el": "ZGLV",
                "zn_pol": "2",
                "comment": "SD_Z=2, а записей в файле 1",
            }
        ],
        id="SD_Z other than the number of records rejects the file",
    ),
    pytest.param(
        "003F.64.0001",
        "file",
        "E",
        {"ZGLV.SD_Z": None, "ZGLV.ZAP": ["3"]},
        [{"im_pol": "ZAP", "zn_pol": "3", "comment": "ZAP=3, а записей в файле 1"}],
        id="a count named ZAP in the header is checked too",
    ),
    pytest.param(
        "003F.00.3080",
        "record",
        "H",
        {"PACIENT.ID_PAC": "P9"},
        [
            {
                "oshib": "003F.00.3080",
                "im_pol": "ID_PAC",
                "bas_el": "PACIENT",
                "zn_pol": "P9",
                "id_pac": "P9",
                "n_zap": "1",
                "idcase": "1001",
                "comment": "ID_PAC=P9: в файле персональных данных нет PERS с этим ID_PAC",
            }
        ],
        id="a ZAP whose ID_PAC has no PERS is refused",
    ),
    pytest.param(
        "003F.00.3080",
        "file",
        "H",
        {"@persons.P2": {"ID_PAC": "P2"}},
        [
            {
                "im_pol": "ID_PAC",
                "bas_el": "PERS",
                "id_pac": "P2",
                "n_zap": None,
                "comment": "PERS с ID_PAC=P2 не связан ни с одной записью ZAP основного файла",
            }
        ],
        id="a PERS that no ZAP uses rejects the file",
    ),
    pytest.param(
        "003F.00.0100",
        "record",
        "H",
        {"PACIENT.ENP": "640000000000001"},
        [
            {
                "im_pol": "ENP",
                "bas_el": "PACIENT",
                "zn_pol": None,
                "comment": "VPOLIS=3: ENP должен состоять из 16 цифр, указано знаков: 15",
            }
        ],
        id="an ENP of 15 digits is refused without being echoed",
    ),
    pytest.param(
        "003F.00.0100",
        "record",
        "H",
        {"PACIENT.ENP": None},
        [{"im_pol": "ENP", "comment": "VPOLIS=3: не указан ни ENP, ни NPOLIS"}],
        id="VPOLIS=3 without ENP or NPOLIS is refused",
    ),
    pytest.param(
        "003F.00.0100",
        "record",
        "H",
        {"PACIENT.ENP": None, "PACIENT.NPOLIS": "64000000000000A1"},
        [{"im_pol": "NPOLIS", "zn_pol": None}],
        id="an NPOLIS with a letter is refused when it stands for the ENP",
    ),
]

PASSING = [
    pytest.param("003F.00.1970", "file", "H", {}, id="the main file's own name"),
    pytest.param("003F.00.1970", "file", "L", {}, id="the L-file's names"),
    pytest.param(
        "003F.00.1970",
        "file",
        "AT",
        {"@header": ATTACH, "@file_name": "ATM640001T64_25121"},
        id="an attach file with its own FNAME",
    ),
    pytest.param("003F.64.0001", "file", "H", {}, id="SD_Z equal to the records"),
    pytest.param(
        "003F.64.0001",
        "file",
        "H",
        {"@record_count": None, "ZGLV.SD_Z": "5"},
        id="no count yet means nothing to compare",
    ),
    pytest.param("003F.00.3080", "record", "H", {}, id="a ZAP with its PERS"),
    pytest.param("003F.00.3080", "file", "H", {}, id="every PERS used by a ZAP"),
    pytest.param(
        "003F.00.0100",
        "record",
        "H",
        {"PACIENT.ENP": None, "PACIENT.NPOLIS": "6400000000000002"},
        id="VPOLIS=3 with a 16-digit NPOLIS",
    ),
    pytest.param(
        "003F.00.0100",
        "record",
        "H",
        {"PACIENT.VPOLIS": "1", "PACIENT.ENP": None, "PACIENT.NPOLIS": "123"},
        id="an old-style policy is not held to 16 digits",
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
