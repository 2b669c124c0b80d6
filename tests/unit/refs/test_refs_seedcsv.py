"""The seed CSV format: a source line, a fixed header, dates, and errors naming the line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.refs import DirectoryFileError, parse_csv

GOOD = """# source: test data, not an official copy
# title: Тестовый справочник
code,name,begin,end
1,"Стационарно, круглосуточно",2011-01-01,
2,Выведенный,01.01.2011,31.12.2012
"""


def test_a_seed_csv_gives_rows_title_and_source() -> None:
    directory = parse_csv(GOOD, "V006")
    assert directory.name == "V006"
    assert directory.source == "test data, not an official copy"
    assert directory.title == "Тестовый справочник"
    assert [(e.code, e.name, e.begin, e.end) for e in directory] == [
        ("1", "Стационарно, круглосуточно", date(2011, 1, 1), None),
        ("2", "Выведенный", date(2011, 1, 1), date(2012, 12, 31)),
    ]


def test_the_name_comes_from_the_file_and_the_title_from_the_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "V014.csv"
    path.write_text(
        "# source: x\ncode,name,begin,end\n1,Экстренная,2013-01-01,\n", encoding="utf-8-sig"
    )
    directory = parse_csv(path)
    assert directory.name == "V014"
    assert directory.title == "Классификатор форм оказания медицинской помощи"


def test_a_csv_without_its_source_line_is_refused() -> None:
    with pytest.raises(DirectoryFileError, match=r"V006\.csv, строка 1: .*# source"):
        parse_csv("code,name,begin,end\n1,x,,\n", "V006")


def test_a_csv_with_another_header_is_refused() -> None:
    with pytest.raises(DirectoryFileError, match="строка 2: заголовок"):
        parse_csv("# source: x\nid,name,begin,end\n", "V006")


def test_a_bad_date_names_the_file_the_line_and_the_code() -> None:
    text = "# source: x\ncode,name,begin,end\n1,a,2011-01-01,\n2,b,2011-13-01,\n"
    with pytest.raises(
        DirectoryFileError, match=r"V006\.csv, строка 4 \(код 2\): несуществующая дата"
    ):
        parse_csv(text, "V006")
    with pytest.raises(DirectoryFileError, match=r"нужно ДД\.ММ\.ГГГГ"):
        parse_csv("# source: x\ncode,name,begin,end\n1,a,1/1/2011,\n", "V006")


def test_a_row_with_the_wrong_number_of_fields_is_refused() -> None:
    with pytest.raises(DirectoryFileError, match="строка 3: нужно 4 поля, а их 5"):
        parse_csv("# source: x\ncode,name,begin,end\n1,a,b,,\n", "V006")


def test_a_csv_without_a_directory_name_is_refused() -> None:
    with pytest.raises(DirectoryFileError, match="не задано имя"):
        parse_csv(GOOD)
