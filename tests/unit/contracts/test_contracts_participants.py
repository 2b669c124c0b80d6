"""The participant registry and its region 64 seed."""

from __future__ import annotations

import pytest

from contracts.filenames import Party
from contracts.participants import (
    Participant,
    ParticipantDirectory,
    load_participants_csv,
    seed_path,
)
from omsx.errors import ConfigError

HEADER = "role,code,name,active\n"


def test_the_region_64_seed_has_30_mo_4_smo_and_the_fund_all_active():
    path = seed_path("64")
    assert path is not None
    directory = ParticipantDirectory.from_csv(path)
    roles = [p.role for p in directory]
    assert (roles.count("mo"), roles.count("smo"), roles.count("tfoms")) == (30, 4, 1)
    assert all(p.active for p in directory)
    assert directory.get(Party("mo", "640030")) is not None
    assert directory.get(Party("mo", "640031")) is None
    assert directory.get(Party("smo", "64004")) is not None
    assert directory.get(Party("tfoms", "64")) is not None


def test_the_seed_is_marked_synthetic():
    path = seed_path("64")
    assert path is not None
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("#")
    assert "ynthetic" in first_line
    assert all("тестов" in p.name.lower() for p in load_participants_csv(path))


@pytest.mark.parametrize("region", ["77", "6", "../64", "6x"])
def test_there_is_no_seed_for_another_or_a_malformed_region(region):
    assert seed_path(region) is None


def test_the_directory_looks_participants_up_by_party():
    directory = ParticipantDirectory(
        [
            Participant("mo", "640001", "ГУЗ Тестовая больница № 1"),
            Participant("mo", "640002", "ГУЗ Тестовая больница № 2", active=False),
        ]
    )
    assert len(directory) == 2
    assert directory.is_active(Party("mo", "640001"))
    assert not directory.is_active(Party("mo", "640002"))
    assert not directory.is_active(Party("mo", "640003"))
    assert directory.get(Party("mo", "640002")).name == "ГУЗ Тестовая больница № 2"


def test_a_participant_twice_in_the_directory_is_refused():
    twice = Participant("smo", "64001", "Тестовая СМО")
    with pytest.raises(ConfigError, match="дважды"):
        ParticipantDirectory([twice, twice])


def test_comments_blank_lines_and_spellings_of_active_are_read():
    text = (
        "# a comment\n\n" + HEADER + "mo,640001,ГУЗ Тестовая больница № 1,да\n"
        "  # another\nsmo,64001,Тестовая СМО,false\ntfoms,64,ТФОМС,TRUE\n"
        '"mo","640002","ГУЗ Тестовая, с запятой",0\n'
    )
    participants = load_participants_csv(text)
    assert [(p.code, p.active) for p in participants] == [
        ("640001", True),
        ("64001", False),
        ("64", True),
        ("640002", False),
    ]
    assert participants[3].name == "ГУЗ Тестовая, с запятой"


def test_a_file_with_a_bom_is_read(tmp_path):
    path = tmp_path / "participants.csv"
    path.write_bytes(("\ufeff" + HEADER + "mo,640001,ГУЗ Тестовая больница № 1,1\n").encode())
    assert load_participants_csv(path)[0].code == "640001"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "нет заголовка"),
        ("# only a comment\n", "нет заголовка"),
        ("role,code,name\nmo,640001,x\n", "строка 1: заголовок"),
        (HEADER + "mo,640001,ГУЗ Тестовая\n", "строка 2: нужно 4 поля, а их 3"),
        (HEADER + "doctor,640001,ГУЗ Тестовая,1\n", "строка 2: неизвестная роль «doctor»"),
        (HEADER + "mo,64001,ГУЗ Тестовая,1\n", "строка 2: неверный код МО «64001»"),
        (HEADER + "smo,640011,Тестовая СМО,1\n", "строка 2: неверный код СМО"),
        (HEADER + "tfoms,640,ТФОМС,1\n", "строка 2: неверный код ТФОМС"),
        (HEADER + "mo,640001, ,1\n", "строка 2: пустое название"),
        (HEADER + "mo,640001,ГУЗ Тестовая,maybe\n", "строка 2: неверный признак active"),
        (
            HEADER + "mo,640001,ГУЗ Тестовая,1\n\nmo,640001,Она же,1\n",
            "строка 4: участник mo.640001 уже указан в строке 2",
        ),
        (HEADER + "mo,640001,ГУЗ\x00,1\n", "строка 2: управляющие символы"),
    ],
)
def test_a_broken_csv_raises_config_error_naming_the_line(text, message):
    with pytest.raises(ConfigError, match=message):
        load_participants_csv(text)


def test_a_broken_file_is_named_in_the_error(tmp_path):
    path = tmp_path / "participants_64.csv"
    path.write_text(HEADER + "mo,1,ГУЗ Тестовая,1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"participants_64\.csv, строка 2"):
        load_participants_csv(path)
