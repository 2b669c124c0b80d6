"""Directory and Directories: codes, dates, and loud failures for missing directories."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.refs import Directories, Directory, DirectoryNotLoaded, Entry, code_key
from omsx.errors import ConfigError

V006 = Directory(
    "v006",
    [
        Entry("1", "Стационарно", date(2011, 1, 1)),
        Entry("4", "Вне медицинской организации", date(2013, 1, 1)),
        Entry("9", "Выведенное из употребления", date(2011, 1, 1), date(2012, 12, 31)),
    ],
    title="Классификатор условий оказания медицинской помощи",
    source="test",
)
V002 = Directory(
    "V002",
    [
        Entry("136", "старое наименование", date(2013, 7, 8), date(2017, 12, 11)),
        Entry("136", "новое наименование", date(2017, 12, 12)),
    ],
)


def test_a_code_is_valid_only_inside_its_period_with_both_ends_inclusive() -> None:
    assert V006.valid("9", date(2011, 1, 1))
    assert V006.valid("9", date(2012, 12, 31))
    assert not V006.valid("9", date(2013, 1, 1))
    assert not V006.valid("4", date(2012, 12, 31))
    assert V006.valid("4", date(2025, 11, 3))


def test_without_a_date_any_known_code_is_valid_and_unknown_ones_are_not() -> None:
    assert V006.valid("9")
    assert not V006.valid("7")
    assert not V006.valid("")


def test_numeric_codes_match_as_numbers_whatever_their_spelling() -> None:
    assert V006.valid(1) and V006.valid("01") and V006.valid(" 1 ")
    assert code_key("03") == code_key(3) == "3"
    assert code_key("1.0") != code_key("1")
    assert code_key("5.1.1.") == code_key("5.1.1") == "5.1.1"


def test_a_code_renamed_on_a_date_answers_with_the_row_in_force() -> None:
    assert V002.get(136, date(2017, 1, 1)).name == "старое наименование"  # type: ignore[union-attr]
    assert V002.get("136", date(2018, 1, 1)).name == "новое наименование"  # type: ignore[union-attr]
    assert V002.get(136).name == "новое наименование"  # type: ignore[union-attr]
    assert V002.get(136, date(2010, 1, 1)) is None
    assert V002.valid(136, date(2017, 12, 11)) and V002.valid(136, date(2017, 12, 12))


def test_a_directory_is_sized_iterated_and_searched_by_code() -> None:
    assert V006.name == "V006"
    assert len(V006) == 3
    assert [entry.code for entry in V006] == ["1", "4", "9"]
    assert "4" in V006 and 4 in V006 and "5" not in V006 and None not in V006


def test_an_entry_ending_before_it_begins_is_refused() -> None:
    with pytest.raises(ValueError, match="раньше даты начала"):
        Entry("1", "x", date(2020, 1, 2), date(2020, 1, 1))


def test_a_malformed_directory_name_is_refused() -> None:
    with pytest.raises(ValueError, match="V006"):
        Directory("V6", [])


def test_asking_about_a_directory_that_is_not_loaded_is_a_lookup_error() -> None:
    refs = Directories([V006])
    assert refs.known("V006") and refs.known("v006")
    assert not refs.known("V018")
    with pytest.raises(DirectoryNotLoaded, match="V018") as caught:
        refs.valid("V018", "1")
    assert isinstance(caught.value, LookupError)
    with pytest.raises(LookupError):
        refs.get("M001")


def test_directories_answer_by_name_code_and_date() -> None:
    refs = Directories([V006, V002])
    assert refs.valid("V006", 1, date(2021, 4, 5))
    assert not refs.valid("V006", 9, date(2021, 4, 5))
    assert refs.names() == ["V002", "V006"]
    assert [directory.name for directory in refs] == ["V002", "V006"]
    assert len(refs) == 2 and "V002" in refs and "V021" not in refs


def test_a_loaded_directory_replaces_the_one_of_the_same_name_unless_told_not_to() -> None:
    refs = Directories([V006])
    newer = Directory("V006", [Entry("1", "Стационарно")])
    with pytest.raises(ConfigError, match="уже загружен"):
        refs.add(newer, replace=False)
    assert refs.get("V006") is V006
    refs.add(newer)
    assert refs.get("V006") is newer
    with pytest.raises(ConfigError):
        Directories([V006, newer])


def test_each_seed_call_gives_an_independent_set() -> None:
    first, second = Directories.seed(), Directories.seed()
    first.add(Directory("V006", [Entry("1", "x")]))
    assert second.get("V006") is not first.get("V006")
    assert second.valid("V006", 4, date(2021, 4, 5))
