"""Our own formats (exchange.md §4.3–§4.8) and the L-file: a small valid example each,
written here with synthetic people, and one broken variant each.

The examples are encoded in windows-1251 with a declaration, as participants send them.
"""

from __future__ import annotations

import pytest

from tests.conformance.helpers import check, document, fmt_of, records, standalone

GUID_1 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
GUID_2 = "6F9619FF-8B86-D011-B42D-00C04FC964FF"

PATIENT = (
    "<PATIENT><ENP>6400000000000001</ENP><SURNAME>Тестова</SURNAME><NAME>Анна</NAME>"
    "<PATRONYMIC>Ивановна</PATRONYMIC><BIRTHDAY>1985-03-14</BIRTHDAY><SEX>2</SEX>"
    "<SMO>64004</SMO></PATIENT>"
)


CANCEL = (
    f"<CANCEL><ID_D>{GUID_1}</ID_D><DATE_C>2025-11-04</DATE_C><REASON>1</REASON>"
    "<SOURCE>1</SOURCE></CANCEL>"
)
RECOMMEND = "<RECOMMEND>Продолжить лечение по схеме, контроль через 3 месяца.</RECOMMEND>"


def _hosp(file_type: str, records_xml: str) -> str:
    return (
        "<ZL_LIST><ZGLV><VERSION>2.0</VERSION><DATE_F>2025-11-05</DATE_F>"
        f"<NAME_F>{file_type}M640001T64_2511051</NAME_F><DATE_R>2025-11-04</DATE_R></ZGLV>"
        f"{records_xml}</ZL_LIST>"
    )


EXAMPLES: dict[str, tuple[str, str, str]] = {
    "erz": (
        "E",
        "1.0",
        "<ERZ_LIST><ZGLV><VERSION>1.0</VERSION><DATA>2025-11-30</DATA>"
        "<FILENAME>ES64004T64_25111</FILENAME><SMO>64004</SMO><SD_Z>2</SD_Z></ZGLV>"
        "<PERS><N_ZAP>1</N_ZAP><OP>P</OP><ENP>6400000000000001</ENP><FAM>Тестова</FAM>"
        "<IM>Анна</IM><OT>Ивановна</OT><W>2</W><DR>1985-03-14</DR><SNILS>112-233-445 95</SNILS>"
        "<DOCTYPE>14</DOCTYPE><DOCSER>63 04</DOCSER><DOCNUM>123456</DOCNUM>"
        "<DBEG>2025-11-01</DBEG><OKATO_REG>63401000000</OKATO_REG></PERS>"
        "<PERS><N_ZAP>2</N_ZAP><OP>C</OP><ENP>6400000000000002</ENP><FAM>Тестов</FAM>"
        "<IM>Пётр</IM><W>1</W><DR>1950-07-01</DR><DOCTYPE>14</DOCTYPE><DOCNUM>654321</DOCNUM>"
        "<DBEG>2019-01-01</DBEG><DEND>2025-11-20</DEND></PERS></ERZ_LIST>",
    ),
    "hosp I01": (
        "I01",
        "2.0",
        _hosp(
            "I01",
            f"<DIR><ID_D>{GUID_1}</ID_D><NUM_D>Н-17</NUM_D><DATE_D>2025-11-03</DATE_D>"
            "<MO_D>640001</MO_D><MO_H>640002</MO_H><USL_OK>1</USL_OK><PROFIL>29</PROFIL>"
            f"<PROFIL_K>30</PROFIL_K><DS>I20.8</DS><DATE_HOSP>2025-11-10</DATE_HOSP>{PATIENT}</DIR>",
        ),
    ),
    "hosp I03": (
        "I03",
        "2.0",
        _hosp("I03", CANCEL),
    ),
    "hosp I04": (
        "I04",
        "2.0",
        _hosp(
            "I04",
            f"<HOSP><ID_H>{GUID_2}</ID_H><ID_D>{GUID_1}</ID_D><DATE_H>2025-11-04</DATE_H>"
            "<TIME_H>09:30</TIME_H><PROFIL>29</PROFIL><DS>I20.8</DS><NUM_HIST>2025/1184</NUM_HIST>"
            f"{PATIENT}</HOSP>",
        ),
    ),
    "hosp I05": (
        "I05",
        "2.0",
        _hosp(
            "I05",
            f"<HOSP><ID_H>{GUID_2}</ID_H><DATE_H>2025-11-04</DATE_H><TIME_H>23:05</TIME_H>"
            f"<PROFIL>29</PROFIL><DS>I21</DS><NUM_HIST>2025/1185</NUM_HIST>{PATIENT}</HOSP>",
        ),
    ),
    "hosp I06": (
        "I06",
        "2.0",
        _hosp(
            "I06",
            f"<DISCH><ID_H>{GUID_2}</ID_H><DATE_H>2025-10-21</DATE_H><DATE_OUT>2025-11-04</DATE_OUT>"
            f"<PROFIL>29</PROFIL><RSLT>101</RSLT>{PATIENT}</DISCH>",
        ),
    ),
    "hosp I07": (
        "I07",
        "2.0",
        _hosp(
            "I07",
            "<PLACES><PROFIL>29</PROFIL><PROFIL_K>30</PROFIL_K><DATE_PL>2025-11-04</DATE_PL>"
            "<FREE>7</FREE><FREE_M>3</FREE_M><FREE_W>4</FREE_W><FREE_C>0</FREE_C></PLACES>"
            "<PLACES><PROFIL>68</PROFIL><DATE_PL>2025-11-04</DATE_PL><FREE>2</FREE></PLACES>",
        ),
    ),
    "tmk": (
        "K",
        "1.0",
        "<TMK_LIST><ZGLV><VERSION>1.0</VERSION><DATA>2025-11-30</DATA>"
        "<FILENAME>KM640001T64_25111</FILENAME><SD_Z>1</SD_Z></ZGLV>"
        f"<ZAP><N_ZAP>1</N_ZAP><ID_TMK>{GUID_1}</ID_TMK><ENP>6400000000000001</ENP>"
        "<DR>1985-03-14</DR><MO>640001</MO><CENTER>770001</CENTER><DATE_REQ>2025-11-02</DATE_REQ>"
        "<DATE_CONS>2025-11-06</DATE_CONS><DS>C50.4</DS><PURPOSE>2</PURPOSE>"
        f"{RECOMMEND}"
        "<IMPLEMENTED>1</IMPLEMENTED><DATE_IMPL>2025-11-20</DATE_IMPL></ZAP></TMK_LIST>",
    ),
    "schedule": (
        "G",
        "1.0",
        "<SCHED_LIST><ZGLV><VERSION>1.0</VERSION><DATA>2025-11-30</DATA>"
        "<FILENAME>GM640001T64_25111</FILENAME><CODE_MO>640001</CODE_MO></ZGLV>"
        "<UNIT><UNIT_ID>1.2.643.5.1.13.13.12.2.64.1.0.1</UNIT_ID>"
        "<NAME>Отделение профилактики</NAME>"
        "<ADDRESS>г. Энск, ул. Левая, д. 1</ADDRESS><KIND>3</KIND>"
        "<DAY><WEEKDAY>1</WEEKDAY><FROM>08:00</FROM><TO>20:00</TO></DAY>"
        "<DAY><WEEKDAY>6</WEEKDAY><FROM>09:00</FROM><TO>13:00</TO></DAY></UNIT></SCHED_LIST>",
    ),
    "appeal": (
        "O",
        "1.0",
        "<APPEAL_LIST><ZGLV><VERSION>1.0</VERSION><DATA>2025-11-30</DATA>"
        "<FILENAME>OS64004T64_25111</FILENAME><SD_Z>2</SD_Z></ZGLV>"
        f"<ZAP><N_ZAP>1</N_ZAP><ID_APPEAL>{GUID_1}</ID_APPEAL><DATE_IN>2025-11-03</DATE_IN>"
        "<CHANNEL>1</CHANNEL><TYPE>2</TYPE><TOPIC>2.3</TOPIC><STATUS>1</STATUS></ZAP>"
        f"<ZAP><N_ZAP>2</N_ZAP><ID_APPEAL>{GUID_2}</ID_APPEAL><DATE_IN>2025-10-20</DATE_IN>"
        "<CHANNEL>2</CHANNEL><TYPE>1</TYPE><TOPIC>1.1.4</TOPIC><ENP>6400000000000002</ENP>"
        "<MO>640001</MO><STATUS>2</STATUS><DATE_OUT>2025-11-10</DATE_OUT><RESULT>1</RESULT>"
        "<COMPENS_SUM>1520.50</COMPENS_SUM></ZAP></APPEAL_LIST>",
    ),
    "expert": (
        "A",
        "1.0",
        "<EXPERT_LIST><ZGLV><VERSION>1.0</VERSION><DATA>2025-11-30</DATA>"
        "<FILENAME>AS64004T64_25111</FILENAME><SMO>64004</SMO><SD_Z>1</SD_Z></ZGLV>"
        "<ZAP><N_ZAP>1</N_ZAP><CODE_MO>640001</CODE_MO><YEAR>2025</YEAR><MONTH>10</MONTH>"
        "<NSCHET>375</NSCHET><IDCASE>263695</IDCASE>"
        "<SANK><S_CODE>MEE-2025-0001</S_CODE><S_SUM>1150.90</S_SUM><S_TIP>21</S_TIP>"
        "<SL_ID>263695</SL_ID><S_OSN>43</S_OSN><DATE_ACT>2025-11-25</DATE_ACT>"
        "<NUM_ACT>МЭЭ-17</NUM_ACT><CODE_EXP>64000123</CODE_EXP><S_COM>Дефект оформления</S_COM>"
        "</SANK></ZAP></EXPERT_LIST>",
    ),
    "personal 3.1": (
        "L",
        "3.1",
        "<PERS_LIST><ZGLV><VERSION>3.1</VERSION><DATA>2025-11-30</DATA>"
        "<FILENAME>LM640001S64004_25111</FILENAME><FILENAME1>HM640001S64004_25111</FILENAME1>"
        "</ZGLV><PERS><ID_PAC>P1</ID_PAC><FAM>Тестова</FAM><IM>Анна</IM><W>2</W>"
        "<DR>1985-03-14</DR><DOST>1</DOST><DOCTYPE>14</DOCTYPE><DOCSER>63 04</DOCSER>"
        "<DOCNUM>123456</DOCNUM><SNILS>112-233-445 95</SNILS></PERS>"
        "<PERS><ID_PAC>P2</ID_PAC><FAM>Тестов</FAM><IM>Иван</IM><W>1</W><DR>2025-10-01</DR>"
        "<FAM_P>Тестова</FAM_P><IM_P>Анна</IM_P><W_P>2</W_P><DR_P>1985-03-14</DR_P></PERS>"
        "</PERS_LIST>",
    ),
    "personal 3.2": (
        "L",
        "3.2",
        "<PERS_LIST><ZGLV><VERSION>3.2</VERSION><DATA>2025-11-30</DATA>"
        "<FILENAME>LM640001S64004_25111</FILENAME><FILENAME1>HM640001S64004_25111</FILENAME1>"
        "</ZGLV><PERS><ID_PAC>P1</ID_PAC><FAM>Тестова</FAM><IM>Анна</IM><W>2</W>"
        "<DR>1985-03-14</DR><DOCTYPE>14</DOCTYPE><DOCSER>63 04</DOCSER><DOCNUM>123456</DOCNUM>"
        "<DOCDATE>2005-04-01</DOCDATE><DOCORG>УВД г. Энск</DOCORG><SNILS>112-233-445 95</SNILS>"
        "</PERS></PERS_LIST>",
    ),
}

# one broken variant per example: (what is replaced, by what)
BROKEN: dict[str, tuple[str, str]] = {
    "erz": ("<OP>P</OP>", "<OP>X</OP>"),
    "hosp I01": (f"<ID_D>{GUID_1}</ID_D>", "<ID_D>17</ID_D>"),
    "hosp I03": ("<REASON>1</REASON>", "<REASON>5</REASON>"),
    "hosp I04": (f"<ID_D>{GUID_1}</ID_D>", ""),
    "hosp I05": ("<DATE_H>", f"<ID_D>{GUID_1}</ID_D><DATE_H>"),
    "hosp I06": ("<DATE_OUT>2025-11-04</DATE_OUT>", "<DATE_OUT>2025-11-31</DATE_OUT>"),
    "hosp I07": ("<FREE>7</FREE>", "<FREE></FREE>"),
    "tmk": (RECOMMEND, f"<RECOMMEND>{'я' * 1001}</RECOMMEND>"),
    "schedule": ("<WEEKDAY>6</WEEKDAY>", "<WEEKDAY>8</WEEKDAY>"),
    "appeal": ("<COMPENS_SUM>1520.50</COMPENS_SUM>", "<COMPENS_SUM>1520.505</COMPENS_SUM>"),
    "expert": ("<NSCHET>375</NSCHET>", "<NSCHET></NSCHET>"),
    "personal 3.1": ("<DOST>1</DOST>", "<DOST>7</DOST>"),
    "personal 3.2": ("<W>2</W>", "<W>3</W>"),
}


def _broken(name: str) -> str:
    text = EXAMPLES[name][2]
    old, new = BROKEN[name]
    assert old in text, name
    return text.replace(old, new, 1)


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_small_example_of_each_own_format_is_valid_in_both_validators(name: str) -> None:
    file_type, version, text = EXAMPLES[name]
    verdict = check(fmt_of(file_type, version), document(text))
    assert verdict.valid, verdict


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_record_of_the_own_format_examples_validates_on_its_own(name: str) -> None:
    file_type, version, text = EXAMPLES[name]
    fmt = fmt_of(file_type, version)
    found = records(fmt, document(text))
    assert found
    for record in found:
        assert check(fmt, standalone(record)).valid


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_broken_variant_of_each_own_format_is_invalid_in_both_validators(name: str) -> None:
    file_type, version, _ = EXAMPLES[name]
    verdict = check(fmt_of(file_type, version), document(_broken(name)))
    assert verdict.invalid_in_both, verdict


def test_the_examples_also_validate_when_written_in_utf_8() -> None:
    file_type, version, text = EXAMPLES["erz"]
    assert check(fmt_of(file_type, version), document(text, "utf-8")).valid


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("erz", "<OT>Ивановна</OT>", "<OT></OT>"),
        ("erz", "<ENP>6400000000000001</ENP>", "<ENP>64000000000000</ENP>"),
        ("erz", "<SNILS>112-233-445 95</SNILS>", "<SNILS>11223344595</SNILS>"),
        ("erz", "<VERSION>1.0</VERSION>", "<VERSION>1.1</VERSION>"),
        ("hosp I04", "<TIME_H>09:30</TIME_H>", "<TIME_H>24:30</TIME_H>"),
        ("hosp I01", "<DS>I20.8</DS>", "<DS>I20.800</DS>"),
        ("hosp I01", "<USL_OK>1</USL_OK>", "<USL_OK>3</USL_OK>"),
        ("schedule", "<FROM>08:00</FROM>", "<FROM>8:00</FROM>"),
        ("appeal", "<TOPIC>2.3</TOPIC>", "<TOPIC>2..3</TOPIC>"),
        ("expert", "<MONTH>10</MONTH>", "<MONTH>0</MONTH>"),
    ],
)
def test_our_formats_refuse_empty_elements_and_wrong_shapes(name: str, old: str, new: str) -> None:
    file_type, version, text = EXAMPLES[name]
    assert old in text
    verdict = check(fmt_of(file_type, version), document(text.replace(old, new, 1)))
    assert verdict.invalid_in_both, verdict


def test_an_i01_file_with_a_cancellation_record_is_invalid() -> None:
    text = EXAMPLES["hosp I01"][2].replace("</ZL_LIST>", f"{CANCEL}</ZL_LIST>")
    assert check(fmt_of("I01", "2.0"), document(text)).invalid_in_both
