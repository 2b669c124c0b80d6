"""The federal НСИ ФОМС XML reader: columns, dates, encodings, and safe parsing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.refs import (
    DirectoryFileError,
    Entry,
    from_rows,
    is_directory_file,
    load_files,
    parse_federal_xml,
)

V006_ROWS = """
  <zap><IDUMP>1</IDUMP><UMPNAME>Стационарно</UMPNAME><DATEBEG>01.01.2011</DATEBEG><DATEEND/></zap>
  <zap><IDUMP>3</IDUMP><UMPNAME>Амбулаторно</UMPNAME><DATEBEG>01.01.2011</DATEBEG><DATEEND></DATEEND></zap>
  <zap><IDUMP>9</IDUMP><UMPNAME>Условие, выведенное из употребления</UMPNAME>
       <DATEBEG>01.01.2011</DATEBEG><DATEEND>31.12.2012</DATEEND></zap>
"""


def federal(rows: str = V006_ROWS, encoding: str = "windows-1251", prolog: str = "") -> bytes:
    """A federal directory file with the usual header."""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n{prolog}<packet>\n'
        "  <zglv><type>UslMp</type><version>2.1</version><date>01.01.2020</date></zglv>"
        f"{rows}</packet>\n"
    )
    return text.encode(encoding)


def test_a_federal_file_gives_codes_names_and_periods() -> None:
    directory = parse_federal_xml(federal(), "V006")
    assert directory.name == "V006"
    assert directory.title == "Классификатор условий оказания медицинской помощи"
    assert "версия 2.1" in directory.source and "от 01.01.2020" in directory.source
    assert [(e.code, e.name, e.begin, e.end) for e in directory] == [
        ("1", "Стационарно", date(2011, 1, 1), None),
        ("3", "Амбулаторно", date(2011, 1, 1), None),
        ("9", "Условие, выведенное из употребления", date(2011, 1, 1), date(2012, 12, 31)),
    ]


def test_a_retired_code_is_valid_inside_its_period_and_not_after() -> None:
    directory = parse_federal_xml(federal(), "V006")
    assert directory.valid(9, date(2012, 12, 31))
    assert not directory.valid(9, date(2013, 1, 1))
    assert not directory.valid(9, date(2010, 12, 31))
    assert directory.valid(3, date(2025, 11, 3))


def test_windows_1251_and_utf_8_files_read_the_same() -> None:
    cp1251 = parse_federal_xml(federal(encoding="windows-1251"), "V006")
    utf8 = parse_federal_xml(federal(encoding="utf-8"), "V006")
    assert list(cp1251) == list(utf8)
    assert cp1251.get(1).name == "Стационарно"  # type: ignore[union-attr]


def test_iso_dates_and_rows_written_as_attributes_are_read() -> None:
    rows = (
        '<zap IDVMP="13" VMPNAME="первичная специализированная медико-санитарная помощь"'
        ' DATEBEG="2013-01-01" DATEEND=""/>'
    )
    directory = parse_federal_xml(federal(rows), "V008")
    assert directory.get(13) is not None
    assert directory.get(13).begin == date(2013, 1, 1)  # type: ignore[union-attr]


def test_field_names_are_matched_whatever_their_case() -> None:
    rows = "<zap><IDDoc>14</IDDoc><DocName>Паспорт гражданина Российской Федерации</DocName>"
    rows += "<DocSer>99 99</DocSer><DATEBEG>01.01.2011</DATEBEG><DATEEND/></zap>"
    directory = parse_federal_xml(federal(rows), "F011")
    assert directory.get(14).name == "Паспорт гражданина Российской Федерации"  # type: ignore[union-attr]


def test_f014_is_keyed_by_the_basis_code_the_rules_use() -> None:
    rows = (
        "<zap><Kod>1</Kod><IDVID>1</IDVID><Naim>Наличие ошибок в реквизитах счета</Naim>"
        "<Osn>5.1.1</Osn><Komment/><KodPG/><DATEBEG>01.01.2011</DATEBEG><DATEEND/></zap>"
    )
    directory = parse_federal_xml(federal(rows), "F014")
    assert directory.valid("5.1.1") and not directory.valid("1")
    forced = parse_federal_xml(federal(rows), "F014", columns=("Kod", "Naim"))
    assert forced.valid(1)


def test_the_directory_name_comes_from_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "V006_2024-01-01.xml"
    path.write_bytes(federal())
    assert parse_federal_xml(path).name == "V006"
    with pytest.raises(DirectoryFileError, match="имя справочника не задано"):
        parse_federal_xml(federal())
    with pytest.raises(DirectoryFileError, match="не похоже"):
        parse_federal_xml(federal(), "V6")


def test_a_bad_date_names_the_file_the_row_and_the_field() -> None:
    rows = V006_ROWS.replace("31.12.2012", "31.02.2012")
    with pytest.raises(DirectoryFileError) as caught:
        parse_federal_xml(federal(rows), "V006", label="V006.xml")
    assert str(caught.value) == (
        "V006.xml, запись 3, DATEEND (код 9): несуществующая дата «31.02.2012»"
    )
    rows = V006_ROWS.replace("01.01.2011", "2011/01/01", 1)
    with pytest.raises(DirectoryFileError, match=r"запись 1, DATEBEG \(код 1\): неверная дата"):
        parse_federal_xml(federal(rows), "V006")


def test_a_row_without_a_code_or_ending_before_it_begins_is_refused() -> None:
    rows = V006_ROWS.replace("<IDUMP>3</IDUMP>", "<IDUMP></IDUMP>")
    with pytest.raises(DirectoryFileError, match=r"запись 2: пустой код \(IDUMP\)"):
        parse_federal_xml(federal(rows), "V006")
    rows = V006_ROWS.replace("31.12.2012", "31.12.2010")
    with pytest.raises(DirectoryFileError, match=r"запись 3 .*раньше даты начала"):
        parse_federal_xml(federal(rows), "V006")


def test_a_file_without_rows_or_a_code_column_is_refused() -> None:
    with pytest.raises(DirectoryFileError, match="нет ни одной записи"):
        parse_federal_xml(federal(""), "V006")
    with pytest.raises(DirectoryFileError, match="не найден столбец кода"):
        parse_federal_xml(federal("<zap><NAME>x</NAME></zap>"), "V006")


def test_malformed_xml_is_refused_with_the_file_name() -> None:
    with pytest.raises(DirectoryFileError, match=r"^V006\.xml: XML не читается"):
        parse_federal_xml(b"<packet><zap></packet>", "V006")


def test_a_dtd_is_refused() -> None:
    prolog = "<!DOCTYPE packet [<!ELEMENT packet ANY>]>\n"
    with pytest.raises(DirectoryFileError, match="DTD"):
        parse_federal_xml(federal(prolog=prolog), "V006")


def test_entity_expansion_and_external_entities_are_refused() -> None:
    bomb = '<!DOCTYPE packet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
    with pytest.raises(DirectoryFileError, match="DTD"):
        parse_federal_xml(federal(V006_ROWS.replace("Стационарно", "&b;"), prolog=bomb), "V006")
    external = '<!DOCTYPE packet [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    with pytest.raises(DirectoryFileError, match="DTD"):
        parse_federal_xml(federal(V006_ROWS.replace("Стационарно", "&x;"), prolog=external), "V006")


def test_a_dtd_is_refused_even_where_a_byte_search_cannot_see_it() -> None:
    data = federal(prolog="<!DOCTYPE packet [<!ELEMENT packet ANY>]>\n", encoding="utf-8")
    utf16 = data.decode("utf-8").replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
    with pytest.raises(DirectoryFileError, match="DTD"):
        parse_federal_xml(utf16, "V006")


def test_load_files_reads_xml_and_csv_and_refuses_anything_else(tmp_path: Path) -> None:
    xml = tmp_path / "V006.xml"
    xml.write_bytes(federal())
    csv = tmp_path / "V014.csv"
    csv.write_text("# source: x\ncode,name,begin,end\n1,Экстренная,2013-01-01,\n", encoding="utf-8")
    assert [d.name for d in load_files([xml, csv])] == ["V006", "V014"]
    with pytest.raises(DirectoryFileError, match=r"уже есть в V006\.xml"):
        load_files([xml, xml])
    other = tmp_path / "V006.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(DirectoryFileError, match=r"V006\.txt: ожидается"):
        load_files([other])
    with pytest.raises(DirectoryFileError, match="не читается"):
        load_files([tmp_path / "V009.xml"])


def test_directory_files_are_told_from_the_participant_registry() -> None:
    assert is_directory_file(Path("V006.xml")) and is_directory_file(Path("f014_2021.XML"))
    assert is_directory_file(Path("V021.csv"))
    assert not is_directory_file(Path("participants_64.csv"))
    assert not is_directory_file(Path("V0061.xml")) and not is_directory_file(Path("V006.zip"))


def test_directories_are_rebuilt_from_stored_rows() -> None:
    rows = [
        ("V006", Entry("1", "Стационарно", date(2011, 1, 1))),
        ("v014", Entry("3", "Плановая", date(2013, 1, 1))),
        ("V006", Entry("9", "Выведенное", date(2011, 1, 1), date(2012, 12, 31))),
    ]
    v006, v014 = from_rows(rows, source="база данных")
    assert (v006.name, len(v006), v014.name) == ("V006", 2, "V014")
    assert v006.title == "Классификатор условий оказания медицинской помощи"
    assert v006.source == "база данных"
    assert not v006.valid(9, date(2013, 1, 1))
