from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.generator.checksums import (
    enp_check,
    enp_valid,
    format_snils,
    make_enp,
    make_snils,
    snils_check,
    snils_valid,
    spoil_snils,
)


def luhn_check_digit(digits: str) -> str:
    """The textbook Luhn check digit, for comparison."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2 == 0:
            d = d * 2 - 9 if d >= 5 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def test_the_published_snils_example_has_check_number_95() -> None:
    assert snils_check("112233445") == "95"
    assert snils_valid("112-233-445 95")


@pytest.mark.parametrize(
    ("total", "check"),
    [(19, "19"), (99, "99"), (100, "00"), (101, "00"), (150, "49"), (201, "00"), (303, "00")],
)
def test_snils_check_numbers_follow_the_weighted_sum_rule(total: int, check: str) -> None:
    assert snils_check(_body_with_sum(total)) == check


def _body_with_sum(total: int) -> str:
    """Nine digits whose weighted sum (weights 9…1) is ``total``."""
    digits = []
    for weight in range(9, 0, -1):
        d = min(9, total // weight)
        digits.append(d)
        total -= d * weight
    assert total == 0
    return "".join(map(str, digits))


@given(st.integers(min_value=1_001_999, max_value=999_999_999))
def test_made_snils_are_valid_and_spoiled_ones_are_not(body: int) -> None:
    snils = make_snils(body)
    assert snils_valid(snils)
    assert snils_valid(format_snils(snils))
    assert not snils_valid(spoil_snils(snils))
    assert spoil_snils(snils)[:9] == snils[:9]


def test_formatted_snils_has_the_l_file_spelling() -> None:
    assert format_snils("11223344595") == "112-233-445 95"


@given(st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_the_enp_check_digit_equals_luhn(digits: str) -> None:
    assert enp_check(digits) == luhn_check_digit(digits)


@given(st.integers(min_value=0, max_value=10**13 - 1))
def test_made_enp_have_16_digits_the_region_and_a_valid_check_digit(body: int) -> None:
    enp = make_enp("64", body)
    assert len(enp) == 16 and enp.startswith("64") and enp_valid(enp)
    wrong = enp[:15] + str((int(enp[15]) + 1) % 10)
    assert not enp_valid(wrong)
