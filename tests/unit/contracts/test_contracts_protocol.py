"""The FLK protocol of exchange.md §5."""

from __future__ import annotations

import io

import pytest
import xmlschema
from lxml import etree

from contracts.protocol import (
    SCHEMA_PATH,
    Code,
    Problem,
    Protocol,
    parse_protocol,
    problem_of,
    protocol_file_name,
    render_protocol,
)
from omsx.errors import ContractError, PackageRejected

BASE = "HM640001S64004_25111"
ENCODINGS = ["utf-8", "windows-1251"]


def a_partial_protocol() -> Protocol:
    return Protocol.decide(
        BASE,
        n_acc=1,
        n_rej=1,
        problems=[
            Problem(
                "006F.00.1200",
                "VIDPOM 13 не допускается при USL_OK 1 — запись отклонена ✓",
                im_pol="VIDPOM",
                bas_el="Z_SL",
                n_zap="2",
                idcase="2",
                sl_id="S2",
                zn_pol="13",
            ),
            Problem("904", "001F.00.0160 PROFIL 999 нет в V002", "PROFIL", "SL", n_zap="2"),
        ],
    )


def test_every_code_has_a_russian_meaning_and_a_level():
    assert [int(c) for c in Code] == [
        801,
        802,
        803,
        804,
        805,
        806,
        807,
        808,
        901,
        902,
        903,
        904,
        905,
    ]
    for code in Code:
        assert code.meaning
        assert any("а" <= ch <= "я" for ch in code.meaning)
    assert (Code.UNSAFE.level, Code.STRUCTURE.level, Code.REPEATED_KEY.level) == (
        "package",
        "file",
        "record",
    )


def test_a_long_comment_is_cut_to_250_characters_ending_with_an_ellipsis():
    problem = Problem("903", "я" * 300)
    assert len(problem.comment) == 250
    assert problem.comment.endswith("…")
    assert Problem("903", "я" * 250).comment == "я" * 250


def test_zn_pol_and_the_other_values_are_cut_to_100_characters():
    problem = Problem(
        "903", "длинное значение", im_pol="X" * 120, zn_pol="9" * 150, idcase="1" * 101
    )
    assert (len(problem.zn_pol), len(problem.im_pol), len(problem.idcase)) == (100, 100, 100)


def test_characters_xml_cannot_carry_are_dropped():
    problem = Problem("901", "ошибка\x00 в\x1b файле\ud800", zn_pol="a\x07b")
    assert (problem.comment, problem.zn_pol) == ("ошибка в файле", "ab")


@pytest.mark.parametrize("oshib", ["80", "8011", "006F.00.120", "006f.00.1200", ""])
def test_oshib_must_be_a_code_or_a_rule_id(oshib):
    with pytest.raises(ValueError, match="OSHIB"):
        Problem(oshib, "текст")


def test_a_problem_of_a_code_has_that_code_and_an_empty_bas_el():
    problem = Problem.of(Code.UNSAFE, "вложенный архив", "x.zip")
    assert (problem.oshib, problem.im_pol, problem.bas_el) == ("804", "x.zip", "")
    assert not problem.refuses_record


def test_problem_of_reads_the_problem_a_rejection_carries():
    problem = Problem.of(Code.SENDER, "участник неизвестен")
    assert problem_of(PackageRejected(problem)) is problem
    with pytest.raises(TypeError):
        problem_of(PackageRejected("text"))


@pytest.mark.parametrize(
    ("n_acc", "n_rej", "file_rejected", "result", "counts"),
    [
        (5, 0, False, "A", (5, 0)),
        (0, 0, False, "A", (0, 0)),
        (4, 1, False, "P", (4, 1)),
        (0, 3, False, "R", (0, 3)),
        (4, 1, True, "R", (0, 5)),
        (0, 0, True, "R", (0, 0)),
    ],
)
def test_decide_computes_result_from_the_counts(n_acc, n_rej, file_rejected, result, counts):
    protocol = Protocol.decide(BASE, n_acc, n_rej, [], file_rejected=file_rejected)
    assert protocol.result == result
    assert (protocol.n_acc, protocol.n_rej) == counts


def test_a_rejected_protocol_has_one_problem_and_no_counts():
    protocol = Protocol.rejected(BASE, Problem.of(Code.NOT_A_ZIP, "не ZIP"))
    assert (protocol.result, protocol.n_acc, protocol.n_rej, len(protocol.problems)) == (
        "R",
        0,
        0,
        1,
    )
    assert protocol.fname == "V" + BASE


def test_the_protocol_file_name_is_v_base_xml():
    assert protocol_file_name(BASE) == "VHM640001S64004_25111.xml"


def test_render_writes_the_elements_in_the_contract_order_and_omits_absent_keys():
    root = etree.fromstring(render_protocol(a_partial_protocol()))
    assert [child.tag for child in root] == [
        "FNAME",
        "FNAME_I",
        "RESULT",
        "N_ACC",
        "N_REJ",
        "PR",
        "PR",
    ]
    first, second = root.findall("PR")
    assert [e.tag for e in first] == [
        "OSHIB",
        "IM_POL",
        "BAS_EL",
        "N_ZAP",
        "IDCASE",
        "SL_ID",
        "ZN_POL",
        "COMMENT",
    ]
    assert [e.tag for e in second] == ["OSHIB", "IM_POL", "BAS_EL", "N_ZAP", "COMMENT"]
    assert (root.findtext("FNAME"), root.findtext("RESULT")) == ("V" + BASE, "P")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_declaration_names_the_encoding(encoding):
    data = render_protocol(a_partial_protocol(), encoding)
    assert data.startswith(b"<?xml")
    assert encoding.encode() in data.split(b"?>")[0].lower()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_protocol_survives_render_and_parse(encoding):
    protocol = a_partial_protocol()
    assert parse_protocol(render_protocol(protocol, encoding)) == protocol


def test_characters_outside_windows_1251_become_character_references():
    data = render_protocol(a_partial_protocol(), "windows-1251")
    assert b"&#10003;" in data
    assert "запись отклонена".encode("cp1251") in data


def test_an_unsupported_protocol_encoding_is_refused():
    with pytest.raises(ValueError, match="encoding"):
        render_protocol(a_partial_protocol(), "koi8-r")


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    "protocol",
    [
        a_partial_protocol(),
        Protocol.rejected(BASE, Problem.of(Code.UNSAFE, "я" * 400, "x" * 300)),
        Protocol.decide(BASE, 0, 0, []),
    ],
    ids=["partial", "rejected-long-texts", "empty"],
)
def test_rendered_protocols_validate_against_our_xsd_with_lxml_and_xmlschema(protocol, encoding):
    data = render_protocol(protocol, encoding)
    schema = etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))
    schema.assertValid(etree.fromstring(data))
    xmlschema.XMLSchema(str(SCHEMA_PATH)).validate(io.BytesIO(data))


def test_parse_refuses_what_is_not_xml():
    with pytest.raises(ContractError, match="XML"):
        parse_protocol(b"not xml at all")


def test_parse_refuses_a_protocol_off_the_schema():
    data = render_protocol(a_partial_protocol()).replace(
        b"<RESULT>P</RESULT>", b"<RESULT>X</RESULT>"
    )
    with pytest.raises(ContractError, match=r"flk_p\.xsd"):
        parse_protocol(data)


def test_parse_refuses_fname_that_is_not_v_and_fname_i():
    data = render_protocol(a_partial_protocol()).replace(b"<FNAME>VHM640001", b"<FNAME>VCM640001")
    with pytest.raises(ContractError, match="FNAME"):
        parse_protocol(data)


def test_parse_refuses_a_doctype():
    data = render_protocol(a_partial_protocol()).replace(
        b"<FLK_P>", b'<!DOCTYPE FLK_P [<!ENTITY x "y">]>\n<FLK_P>', 1
    )
    with pytest.raises(ContractError, match="DOCTYPE"):
        parse_protocol(data)
