"""The file-name grammar of exchange.md §3."""

from __future__ import annotations

import pytest

from contracts.filenames import (
    D_TYPES,
    HOSP_TYPES,
    INBOUND_KINDS,
    KIND_SENDERS,
    KIND_TYPES,
    Party,
    compose_name,
    parse_name,
    personal_file_names,
    protocol_base,
    strip_extension,
)
from omsx.errors import ContractError, FileNameError

# name, type, infix, sender, receiver, (year, month, day, number), kind
VALID = [
    ("HM640001S64004_25111", "H", "", "mo.640001", "smo.64004", (25, 11, None, 1), "registry"),
    ("CM640001S64004_25112", "C", "", "mo.640001", "smo.64004", (25, 11, None, 2), "registry"),
    ("TM640001T64_250312", "T", "", "mo.640001", "tfoms.64", (25, 3, None, 12), "registry"),
    *[
        (f"{d}M640030S64001_26011", d, "", "mo.640030", "smo.64001", (26, 1, None, 1), "registry")
        for d in D_TYPES
    ],
    ("LM640001S64004_25111", "L", "", "mo.640001", "smo.64004", (25, 11, None, 1), "personal"),
    ("LHM640001S64004_25111", "L", "H", "mo.640001", "smo.64004", (25, 11, None, 1), "personal"),
    ("LCM640001S64004_25111", "L", "C", "mo.640001", "smo.64004", (25, 11, None, 1), "personal"),
    ("LTM640001T64_25111", "L", "T", "mo.640001", "tfoms.64", (25, 11, None, 1), "personal"),
    ("LPM640001S64004_25111", "L", "P", "mo.640001", "smo.64004", (25, 11, None, 1), "personal"),
    ("LDPM640001S64004_25111", "L", "DP", "mo.640001", "smo.64004", (25, 11, None, 1), "personal"),
    ("LSM640001S64004_25111", "L", "S", "mo.640001", "smo.64004", (25, 11, None, 1), "personal"),
    ("ATM640001T64_25111", "AT", "", "mo.640001", "tfoms.64", (25, 11, None, 1), "attach"),
    ("ES64004T64_25101", "E", "", "smo.64004", "tfoms.64", (25, 10, None, 1), "erz"),
    *[
        (f"{t}M640001T64_2511301", t, "", "mo.640001", "tfoms.64", (25, 11, 30, 1), "hosp")
        for t in HOSP_TYPES
    ],
    ("KM640001T64_25111", "K", "", "mo.640001", "tfoms.64", (25, 11, None, 1), "tmk"),
    ("GM640001T64_25111", "G", "", "mo.640001", "tfoms.64", (25, 11, None, 1), "schedule"),
    ("OS64004T64_25111", "O", "", "smo.64004", "tfoms.64", (25, 11, None, 1), "appeal"),
    ("AS64004T64_25111", "A", "", "smo.64004", "tfoms.64", (25, 11, None, 1), "expert"),
    ("VHM640001S64004_25111", "V", "H", "mo.640001", "smo.64004", (25, 11, None, 1), "protocol"),
    ("VI04M640001T64_2602283", "V", "I04", "mo.640001", "tfoms.64", (26, 2, 28, 3), "protocol"),
    ("VATM640001T64_25111", "V", "AT", "mo.640001", "tfoms.64", (25, 11, None, 1), "protocol"),
]


@pytest.mark.parametrize(("name", "type_", "infix", "sender", "receiver", "period", "kind"), VALID)
def test_every_documented_name_form_parses(name, type_, infix, sender, receiver, period, kind):
    parsed = parse_name(name)
    assert (parsed.type, parsed.infix, parsed.kind) == (type_, infix, kind)
    assert (parsed.sender.token, parsed.receiver.token) == (sender, receiver)
    assert (parsed.year, parsed.month, parsed.day, parsed.number) == period
    assert parsed.base == name


@pytest.mark.parametrize("suffix", ["", ".zip", ".ZIP", ".xml", ".XML", ".Xml"])
def test_the_extension_is_optional_and_of_any_case(suffix):
    assert parse_name(f"HM640001S64004_25111{suffix}").base == "HM640001S64004_25111"


def test_a_and_at_are_told_apart_by_what_follows_the_letters():
    assert parse_name("ATM640001T64_25111").type == "AT"
    expert_from_the_fund = parse_name("AT64T64_25111")
    assert (expert_from_the_fund.type, expert_from_the_fund.sender.token) == ("A", "tfoms.64")


def test_t_is_a_type_at_the_start_and_a_party_before_digits():
    parsed = parse_name("TM640001T64_25111")
    assert (parsed.type, parsed.receiver.token) == ("T", "tfoms.64")
    assert parse_name("LT64S64004_25111").sender.token == "tfoms.64"


def test_a_long_package_number_is_read_whole():
    assert parse_name("HM640001S64004_2511123").number == 123


INVALID = [
    ("HM640001S64004_25131", "неверный месяц 13 в имени файла"),
    ("HM640001S64004_25001", "неверный месяц 00"),
    ("HM64001S64004_25111", "неверный код отправителя M64001"),
    ("HM640001S640041_25111", "неверный код получателя S640041"),
    ("HM640001T640_25111", "у ТФОМС 2 цифры"),
    ("HM640001S64004-25111", "нет «_»"),
    ("HM640001S6400425111", "нет «_»"),
    ("XM640001S64004_25111", "неизвестный тип файла «X»"),
    ("I02M640001T64_2511301", "неизвестный тип файла «I02»"),
    ("DXM640001S64004_25111", "неизвестный тип файла «DX»"),
    ("VLM640001S64004_25111", "неизвестный тип файла «VL»"),
    ("M640001S64004_25111", "нет типа файла"),
    ("hm640001s64004_25111", "заглавными"),
    ("HM640001_25111", "нет получателя"),
    ("HMS64004_25111", "после типа H нет отправителя"),
    ("HM640001X64_25111", "неверные отправитель и получатель"),
    ("HM640001S64004_2511", "неверный период «2511»"),
    ("HM640001S64004_25A11", "неверный период"),
    ("I01M640001T64_251111", "нужно ГГММДДN"),
    ("I01M640001T64_2502301", "неверный день 30"),
    ("HM640001S64004_25110", "неверный номер пакета 0"),
    ("HM640001S64004_2511" + "1" * 5000, "неверный номер пакета"),
    ("HM640001S" + "6" * 5000 + "_25111", "неверный код получателя"),
    ("HM640001S64004_25111.txt", "неверное расширение «.txt»"),
    ("", "пустое имя файла"),
    (".zip", "пустое имя файла"),
]


@pytest.mark.parametrize(("name", "message"), INVALID)
def test_a_wrong_name_raises_file_name_error_naming_the_wrong_part(name, message):
    with pytest.raises(FileNameError, match=message):
        parse_name(name)


def test_a_file_name_error_is_a_contract_error():
    assert issubclass(FileNameError, ContractError)


def test_a_party_has_its_token_letter_and_region():
    party = Party.from_token("mo.640001")
    assert (party.token, party.letter, party.region, str(party)) == (
        "mo.640001",
        "M",
        "64",
        "M640001",
    )
    assert Party.from_letter("S", "64004") == Party("smo", "64004")
    assert Party.from_letter("T", "64").token == "tfoms.64"


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("mo", "64001"),
        ("smo", "640041"),
        ("tfoms", "640"),
        ("mo", "64000a"),
        ("mo", "６４０００１"),
    ],
)
def test_a_party_code_of_the_wrong_shape_is_refused(role, code):
    with pytest.raises(FileNameError, match="нужно"):
        Party(role, code)


@pytest.mark.parametrize("token", ["mo640001", "doctor.640001", "", "mo."])
def test_a_malformed_party_token_is_refused(token):
    with pytest.raises(FileNameError):
        Party.from_token(token)


def test_an_unknown_party_letter_is_refused():
    with pytest.raises(FileNameError, match="буква"):
        Party.from_letter("X", "640001")


@pytest.mark.parametrize(
    ("main", "spellings"),
    [
        ("HM640001S64004_25111", ("LM640001S64004_25111", "LHM640001S64004_25111")),
        ("DPM640001S64004_25111", ("LPM640001S64004_25111", "LDPM640001S64004_25111")),
        ("CM640001S64004_25111", ("LM640001S64004_25111", "LCM640001S64004_25111")),
        ("TM640001T64_25111", ("LM640001T64_25111", "LTM640001T64_25111")),
    ],
)
def test_a_register_has_two_accepted_l_file_spellings(main, spellings):
    assert personal_file_names(parse_name(main)) == spellings


@pytest.mark.parametrize("main", ["HM640001S64004_25111", "DPM640001S64004_25111"])
def test_both_l_spellings_parse_to_the_parties_and_period_of_the_main_file(main):
    parsed = parse_name(main)
    for spelling in personal_file_names(parsed):
        personal = parse_name(spelling)
        assert personal.type == "L"
        assert (personal.sender, personal.receiver) == (parsed.sender, parsed.receiver)
        assert (personal.year, personal.month, personal.number) == (2025 % 100, 11, 1)


def test_only_registers_have_an_l_file():
    with pytest.raises(FileNameError, match="нет файла персональных данных"):
        personal_file_names(parse_name("ATM640001T64_25111"))


def test_the_protocol_base_is_v_and_the_package_base():
    assert protocol_base("HM640001S64004_25111") == "VHM640001S64004_25111"
    assert parse_name(protocol_base("I01M640001T64_2511301")).infix == "I01"


def test_a_composed_name_parses_back():
    name = compose_name(
        "I06", Party("mo", "640002"), Party("tfoms", "64"), year=2026, month=2, number=7, day=5
    )
    assert name.base == "I06M640002T64_2602057"
    assert compose_name(
        "H", Party("mo", "640001"), Party("smo", "64004"), year=25, month=11, number=1
    ) == parse_name("HM640001S64004_25111")


def test_strip_extension_removes_only_zip_and_xml():
    assert strip_extension("HM640001S64004_25111.ZIP") == "HM640001S64004_25111"
    assert strip_extension("a.b.xml") == "a.b"
    assert strip_extension("report.txt") == "report.txt"


def test_every_type_belongs_to_exactly_one_kind_and_the_eight_kinds_are_inbound():
    every = [t for types in KIND_TYPES.values() for t in types]
    assert len(every) == len(set(every))
    assert {"H", "C", "T", "L", "V", "AT", "E", "K", "G", "O", "A", *D_TYPES, *HOSP_TYPES} == set(
        every
    )
    assert {
        "registry",
        "attach",
        "erz",
        "hosp",
        "tmk",
        "schedule",
        "appeal",
        "expert",
    } == INBOUND_KINDS
    assert set(KIND_SENDERS) == INBOUND_KINDS
