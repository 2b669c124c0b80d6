"""Package checks 1–4 of exchange.md §3: subject, name, parties, kind — and accepted packages."""

from __future__ import annotations

import pytest

from contracts.package import RECORD_TAGS, Subject, record_tags
from omsx.errors import ContractError


def test_a_valid_register_passes_with_its_members_and_record_counts(build, check):
    result = check(
        build.registry_package(main=build.registry_xml(3), personal=build.personal_xml(3))
    )
    assert result.ok, result.problems
    assert result.problem is None
    assert result.name is not None and result.name.base == build.MAIN
    assert result.members == {"main": f"{build.MAIN}.xml", "personal": f"{build.PERSONAL}.xml"}
    assert result.counts == {"main": 3, "personal": 3}
    assert result.records == 3


@pytest.mark.parametrize(
    ("main", "personal"),
    [
        ("CM640001S64004_25111", "LCM640001S64004_25111"),
        ("CM640001S64004_25111", "LM640001S64004_25111"),
        ("TM640001T64_25111", "LTM640001T64_25111"),
        ("TM640001T64_25111", "LM640001T64_25111"),
        ("DPM640001S64004_25111", "LPM640001S64004_25111"),
        ("DPM640001S64004_25111", "LDPM640001S64004_25111"),
        ("HM640001S64004_25111", "LHM640001S64004_25111"),
        ("DBM640001T64_25111", "LBM640001T64_25111"),
    ],
)
def test_every_register_type_passes_with_either_l_spelling(build, check, main, personal):
    data = build.make_zip(
        [
            (f"{main}.xml", build.registry_xml(base=main)),
            (f"{personal}.xml", build.personal_xml(main=main)),
        ]
    )
    result = check(data, file_name=f"{main}.zip")
    assert result.ok, result.problems
    assert result.members["personal"] == f"{personal}.xml"


KINDS = [
    ("attach", "mo.640001", "ATM640001T64_25111", "ATT", "REC"),
    ("erz", "smo.64004", "ES64004T64_25111", "ERZ_LIST", "PERS"),
    ("hosp", "mo.640001", "I01M640001T64_2511301", "ZL_LIST", "DIR"),
    ("hosp", "mo.640001", "I03M640001T64_2511301", "ZL_LIST", "CANCEL"),
    ("hosp", "mo.640001", "I05M640001T64_2511301", "ZL_LIST", "HOSP"),
    ("hosp", "mo.640001", "I06M640001T64_2511301", "ZL_LIST", "DISCH"),
    ("hosp", "mo.640001", "I07M640001T64_2511301", "ZL_LIST", "PLACES"),
    ("tmk", "mo.640001", "KM640001T64_25111", "TMK_LIST", "ZAP"),
    ("schedule", "mo.640001", "GM640001T64_25111", "SCHED_LIST", "UNIT"),
    ("appeal", "smo.64004", "OS64004T64_25111", "APPEAL_LIST", "ZAP"),
    ("appeal", "tfoms.64", "OT64T64_25111", "APPEAL_LIST", "ZAP"),
    ("expert", "smo.64004", "AS64004T64_25111", "EXPERT_LIST", "ZAP"),
]


@pytest.mark.parametrize(("kind", "sender", "base", "root", "record"), KINDS)
def test_every_other_kind_passes_with_one_file_and_its_records_counted(
    build, check, kind, sender, base, root, record
):
    data = build.make_zip([(f"{base}.xml", build.document(root, record, records=4))])
    result = check(data, file_name=f"{base}.zip", subject=f"oms.in.{sender}.{kind}")
    assert result.ok, result.problems
    assert result.members == {"main": f"{base}.xml"}
    assert result.records == 4
    assert record in record_tags(kind)


def test_record_tags_cover_the_eight_kinds_and_the_l_file():
    assert set(RECORD_TAGS) == {
        "registry",
        "personal",
        "attach",
        "erz",
        "hosp",
        "tmk",
        "schedule",
        "appeal",
        "expert",
    }


def test_a_subject_is_parsed_into_role_code_and_kind():
    subject = Subject.parse("oms.in.smo.64004.erz")
    assert (subject.role, subject.code, subject.kind, subject.party.token) == (
        "smo",
        "64004",
        "erz",
        "smo.64004",
    )
    assert str(subject) == "oms.in.smo.64004.erz"


@pytest.mark.parametrize(
    "subject",
    [
        "oms.in.mo.640001",
        "oms.out.mo.640001.registry",
        "oms.in.mo.64001.registry",
        "oms.in.doctor.640001.registry",
        "oms.in.mo.640001.",
        "oms.in.mo.640001.registry.extra",
        "",
    ],
)
def test_a_malformed_subject_raises_contract_error(subject):
    with pytest.raises(ContractError, match="неверный субъект"):
        Subject.parse(subject)


def assert_refused(result, code: str, im_pol: str, *words: str) -> None:
    """One problem with ``code``, BAS_EL empty, IM_POL as given, the words in COMMENT."""
    assert not result.ok
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert (problem.oshib, problem.im_pol, problem.bas_el) == (code, im_pol, "")
    for word in words:
        assert word in problem.comment, problem.comment


@pytest.mark.parametrize(
    ("subject", "words"),
    [
        ("oms.in.mo.640031.registry", ("mo.640031", "не зарегистрирован")),
        ("oms.in.mo.640099.registry", ("mo.640099", "не активен")),
    ],
)
def test_an_unknown_or_inactive_subject_participant_gets_806(build, check, subject, words):
    assert_refused(check(build.registry_package(), subject=subject), "806", "subject", *words)


def test_a_kind_outside_the_eight_gets_807(build, check):
    result = check(build.registry_package(), subject="oms.in.mo.640001.invoices")
    assert_refused(result, "807", "subject", "invoices")


@pytest.mark.parametrize(
    "subject", ["oms.in.mo.640001.erz", "oms.in.smo.64004.registry", "oms.in.mo.640001.expert"]
)
def test_a_kind_this_role_does_not_send_gets_807(build, check, subject):
    assert_refused(
        check(build.registry_package(), subject=subject), "807", "subject", "не отправляет"
    )


def test_an_unknown_subject_participant_wins_over_an_unknown_kind(build, check):
    result = check(build.registry_package(), subject="oms.in.mo.640031.invoices")
    assert result.problems[0].oshib == "806"


@pytest.mark.parametrize(
    ("file_name", "words"),
    [
        ("HM640001S64004_25111.xml", ("должно оканчиваться на .zip",)),
        ("HM640001S64004_25111", ("должно оканчиваться на .zip",)),
        ("HM640001S64004_25131.zip", ("неверный месяц 13",)),
        ("HM64001S64004_25111.zip", ("неверный код отправителя",)),
        ("HM640001S64004.zip", ("нет «_»",)),
        ("QM640001S64004_25111.zip", ("неизвестный тип файла «Q»",)),
    ],
)
def test_a_bad_package_name_gets_802_with_the_grammar_message(build, check, file_name, words):
    result = check(build.registry_package(), file_name=file_name)
    assert_refused(result, "802", "Oms-File-Name", *words)
    assert result.name is None


def test_the_zip_extension_may_be_upper_case(build, check):
    assert check(build.registry_package(), file_name=f"{build.MAIN}.ZIP").ok


@pytest.mark.parametrize(
    ("file_name", "words"),
    [
        ("HM640002S64004_25111.zip", ("M640002", "mo.640001")),
        ("HM640001S64005_25111.zip", ("S64005", "не зарегистрирован")),
        ("HM640001S64009_25111.zip", ("S64009", "не активен")),
        ("HM640001M640002_25111.zip", ("M640002", "не принимает")),
        ("HM640001S77001_25111.zip", ("S77001", "не принимает")),
        ("HM640001T77_25111.zip", ("T77",)),
    ],
)
def test_wrong_parties_in_a_register_name_get_806(build, check, file_name, words):
    result = check(build.registry_package(), file_name=file_name)
    assert_refused(result, "806", "Oms-File-Name", *words)


def test_a_kind_other_than_registry_must_go_to_the_fund(build, check):
    data = build.make_zip([("ATM640001S64004_25111.xml", build.document("ATT", "REC"))])
    result = check(data, file_name="ATM640001S64004_25111.zip", subject="oms.in.mo.640001.attach")
    assert_refused(result, "806", "Oms-File-Name", "S64004", "не принимает", "attach")


def test_a_register_goes_to_the_fund_of_the_region(build, check):
    main = "HM640001T64_25111"
    data = build.make_zip(
        [
            (f"{main}.xml", build.registry_xml(base=main)),
            (f"L{main}.xml", build.personal_xml(main=main)),
        ]
    )
    assert check(data, file_name=f"{main}.zip").ok


def test_a_sender_from_another_region_gets_806(build, check):
    main = "HM770001S64004_25111"
    data = build.make_zip(
        [
            (f"{main}.xml", build.registry_xml(base=main)),
            (f"L{main}.xml", build.personal_xml(main=main)),
        ]
    )
    result = check(data, file_name=f"{main}.zip", subject="oms.in.mo.770001.registry")
    assert_refused(result, "806", "Oms-File-Name", "M770001", "не из региона 64")


@pytest.mark.parametrize(
    ("file_name", "subject", "type_"),
    [
        ("HM640001T64_25111.zip", "oms.in.mo.640001.attach", "H"),
        ("ATM640001T64_25111.zip", "oms.in.mo.640001.registry", "AT"),
        ("I01M640001T64_2511301.zip", "oms.in.mo.640001.schedule", "I01"),
        ("LM640001S64004_25111.zip", "oms.in.mo.640001.registry", "L"),
        ("VHM640001S64004_25111.zip", "oms.in.mo.640001.registry", "V"),
        ("AS64004T64_25111.zip", "oms.in.smo.64004.erz", "A"),
    ],
)
def test_a_file_type_outside_the_subject_kind_gets_808(build, check, file_name, subject, type_):
    result = check(build.registry_package(), file_name=file_name, subject=subject)
    assert_refused(result, "808", "Oms-File-Name", f"тип файла {type_}")


def test_the_name_is_judged_before_the_archive(build, check):
    result = check(b"not a zip", file_name="HM640001S64004_25131.zip")
    assert result.problems[0].oshib == "802"
