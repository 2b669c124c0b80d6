"""Package checks 9–10 of exchange.md §3: XML safety, well-formedness, record counts."""

from __future__ import annotations

import pytest

from contracts.xmlscan import MAX_PROLOG, XmlScanner

DECL = b'<?xml version="1.0" encoding="windows-1251"?>\n'
BILLION_LAUGHS = (
    DECL + b'<!DOCTYPE ZL_LIST [\n <!ENTITY lol "lol">\n'
    b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
    b"<ZL_LIST><ZAP>&lol2;</ZAP></ZL_LIST>\n"
)


def refusal(result):
    assert not result.ok
    assert len(result.problems) == 1
    assert result.problems[0].bas_el == ""
    return result.problems[0]


@pytest.mark.parametrize(
    ("main", "words"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (DECL + b'<!DOCTYPE ZL_LIST SYSTEM "http://example.com/x.dtd">\n<ZL_LIST/>', "DOCTYPE"),
        (DECL + b'<!DOCTYPE ZL_LIST SYSTEM "file:///etc/passwd">\n<ZL_LIST/>', "DOCTYPE"),
        (DECL + b'<!ENTITY x "y">\n<ZL_LIST/>', "ENTITY"),
        (DECL + b"<!-- fine -->\n<!ELEMENT ZL_LIST ANY>\n<ZL_LIST/>", "<!"),
        (DECL + b'<?xml-stylesheet href="x.xsl"?>\n<ZL_LIST/>', "инструкция обработки"),
        (DECL + b"\n\n  <?php echo 1; ?><ZL_LIST/>", "инструкция обработки"),
        (b"\xef\xbb\xbf<!DOCTYPE ZL_LIST>\n<ZL_LIST/>", "DOCTYPE"),
    ],
    ids=[
        "billion-laughs",
        "external-dtd",
        "local-dtd",
        "entity",
        "element-decl",
        "stylesheet",
        "php",
        "bom-doctype",
    ],
)
def test_a_dtd_entity_or_processing_instruction_in_the_prolog_gets_804(build, check, main, words):
    problem = refusal(check(build.registry_package(main=main)))
    assert (problem.oshib, problem.im_pol) == ("804", f"{build.MAIN}.xml")
    assert words in problem.comment


@pytest.mark.parametrize(
    "main",
    [
        DECL
        + b'<ZL_LIST xmlns:xi="http://www.w3.org/2001/XInclude">'
        + b'<xi:include href="/etc/passwd"/></ZL_LIST>',
        DECL + b'<ZL_LIST><ZAP><X xmlns="http://www.w3.org/2001/XInclude"/></ZAP></ZL_LIST>',
        DECL + b'<ZL_LIST><ZAP xmlns:i="http://www.w3.org/2003/XInclude"/></ZL_LIST>',
    ],
    ids=["root-prefix", "deep-default", "old-namespace"],
)
def test_an_xinclude_namespace_anywhere_gets_804(build, check, main):
    problem = refusal(check(build.registry_package(main=main)))
    assert problem.oshib == "804"
    assert "XInclude" in problem.comment


def test_an_l_file_with_a_doctype_gets_804_naming_the_l_file(build, check):
    personal = DECL + b"<!DOCTYPE PERS_LIST []>\n<PERS_LIST/>"
    problem = refusal(check(build.registry_package(personal=personal)))
    assert (problem.oshib, problem.im_pol) == ("804", f"{build.PERSONAL}.xml")


@pytest.mark.parametrize(
    ("main", "words"),
    [
        (b'<?xml version="1.0" encoding="KOI8-R"?>\n<ZL_LIST/>', "«koi8-r»"),
        (b"<?xml version='1.0' encoding='cp866'?>\n<ZL_LIST/>", "«cp866»"),
        ('<?xml version="1.0" encoding="UTF-16"?><ZL_LIST/>'.encode("utf-16"), "UTF-16"),
        ("<ZL_LIST/>".encode("utf-16-be"), "UTF-16"),
    ],
    ids=["koi8", "cp866", "utf16-bom", "utf16-bare"],
)
def test_an_encoding_other_than_windows_1251_or_utf8_gets_807(build, check, main, words):
    problem = refusal(check(build.registry_package(main=main)))
    assert (problem.oshib, problem.im_pol) == ("807", f"{build.MAIN}.xml")
    assert words in problem.comment


@pytest.mark.parametrize(
    "main",
    [
        lambda build: build.registry_xml(encoding="utf-8"),
        lambda build: build.registry_xml(encoding="UTF-8"),
        lambda build: build.registry_xml().replace(DECL, b""),
        lambda build: b"\xef\xbb\xbf" + build.registry_xml(encoding="utf-8"),
        lambda build: (
            DECL + "<!-- выгрузка -->\n".encode("cp1251") + build.registry_xml().replace(DECL, b"")
        ),
        lambda build: build.registry_xml().replace(b"</ZL_LIST>", b"<?note keep?></ZL_LIST>"),
    ],
    ids=["utf8", "utf8-upper", "no-declaration", "bom", "prolog-comment", "body-pi"],
)
def test_safe_variations_of_the_main_file_pass(build, check, main):
    result = check(build.registry_package(main=main(build)))
    assert result.ok, result.problems
    assert result.records == 2


@pytest.mark.parametrize(
    ("main", "words"),
    [
        (DECL + b"<ZL_LIST><ZAP></ZL_LIST>", "Opening and ending tag mismatch"),
        (DECL + b"<ZL_LIST><ZAP>", ""),
        (b"", ""),
        (DECL, ""),
        (DECL + b"<ZL_LIST>&unknown;</ZL_LIST>", "Entity 'unknown' not defined, строка 2"),
        (DECL + b"<ZL_LIST/><ZL_LIST/>", "Extra content"),
        (b"just text", ""),
        (b'<?xml version="1.0" encoding="utf-8"?><ZL_LIST>\xff\xfe</ZL_LIST>', ""),
        (b'  <?xml version="1.0"?><ZL_LIST/>', ""),
    ],
    ids=[
        "mismatch",
        "unclosed",
        "empty",
        "declaration-only",
        "undefined-entity",
        "two-roots",
        "text",
        "bad-utf8",
        "late-declaration",
    ],
)
def test_malformed_xml_gets_901_with_the_parser_message(build, check, main, words):
    problem = refusal(check(build.registry_package(main=main)))
    assert (problem.oshib, problem.im_pol) == ("901", f"{build.MAIN}.xml")
    assert "не является корректным XML" in problem.comment
    assert words in problem.comment


def test_a_malformed_l_file_gets_901_naming_the_l_file(build, check):
    problem = refusal(check(build.registry_package(personal=b"<PERS_LIST>")))
    assert (problem.oshib, problem.im_pol) == ("901", f"{build.PERSONAL}.xml")


def test_the_expected_files_are_judged_before_their_xml(build, check):
    data = build.make_zip([(f"{build.MAIN}.xml", BILLION_LAUGHS)])
    assert refusal(check(data)).oshib == "803"


def test_a_main_file_problem_wins_over_an_l_file_problem(build, check):
    data = build.registry_package(main=b"<ZL_LIST>", personal=BILLION_LAUGHS)
    assert refusal(check(data)).oshib == "901"


def test_records_are_counted_across_many_chunks(build, check):
    records = 6000  # about 5 MiB of XML: several 1 MiB chunks
    data = build.registry_package(main=build.registry_xml(records), personal=build.personal_xml(9))
    result = check(data)
    assert result.ok, result.problems
    assert result.counts == {"main": records, "personal": 9}


def test_only_records_directly_under_the_root_are_counted(build, check):
    main = DECL + b"<ZL_LIST><ZGLV/><SCHET><ZAP/></SCHET><ZAP><ZAP/></ZAP><ZAP/></ZL_LIST>"
    assert check(build.registry_package(main=main)).records == 2


def test_records_in_a_namespace_are_counted_by_local_name(build, check):
    main = DECL + b'<ZL_LIST xmlns="urn:x"><ZAP/><ZAP/><ZAP/></ZL_LIST>'
    assert check(build.registry_package(main=main)).records == 3


# the scanner fed in small pieces


def feed_in_pieces(data: bytes, size: int):
    scanner = XmlScanner("x.xml")
    for start in range(0, len(data), size):
        scanner.feed(data[start : start + size])
    return scanner.close()


@pytest.mark.parametrize("size", [1, 3, 7, 64])
def test_a_doctype_split_across_pieces_is_still_found(size):
    scan = feed_in_pieces(BILLION_LAUGHS, size)
    assert scan.problem is not None
    assert (scan.problem.oshib, scan.problem.im_pol) == ("804", "x.xml")


@pytest.mark.parametrize("size", [1, 5, 4096])
def test_a_document_fed_in_pieces_is_counted_like_a_whole_one(build, size):
    scan = feed_in_pieces(build.registry_xml(7), size)
    assert scan.problem is None
    assert (scan.root, scan.records({"ZAP"}), scan.children["SCHET"]) == ("ZL_LIST", 7, 1)


def test_a_prolog_longer_than_its_limit_gets_804():
    scanner = XmlScanner("x.xml")
    scanner.feed(DECL + b"<!--" + b"-" * 16)
    for _ in range(MAX_PROLOG // 65536 + 1):
        scanner.feed(b"a" * 65536)
    scan = scanner.close()
    assert scan.problem is not None
    assert scan.problem.oshib == "804"
    assert "пролог" in scan.problem.comment


def test_after_the_first_problem_the_scanner_ignores_the_rest():
    scanner = XmlScanner("x.xml")
    scanner.feed(b"<root></wrong>")
    first = scanner.scan.problem
    assert first is not None
    scanner.feed(b"<!DOCTYPE x>")
    assert scanner.close().problem is first
