"""Check numbers of SNILS and ENP: compute, validate, format.

SNILS (the pension-fund number, 9 digits + 2 check digits): the 9 digits weighted 9..1
from the left are summed; a sum below 100 is the check number, 100 and 101 give 00,
a larger sum is taken mod 101 (and a remainder of 100 gives 00 again). The check
applies to numbers above 001-001-998 only; the generator never makes smaller ones.

ENP (the 16-digit unified policy number): the last digit checks the first 15 as the
FFOMS methodology describes it: the digits in odd positions counted from the right
form a number that is doubled, the digits in even positions are written in front of
it, all digits of the result are summed, and the check digit brings the sum up to a
multiple of 10. Doubling a whole number carries exactly where doubling each digit
would (digits 5–9), so this equals the Luhn algorithm over the 15 digits — the tests
check both ways agree. The reference folder has no official test vector, so treat
the ENP check as the generator's convention until a vector confirms it.
"""

from __future__ import annotations

import operator

_SNILS_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, 1)
SNILS_MIN_CHECKED = 1_001_998
"""Numbers up to 001-001-998 carry no check number."""


def snils_check(digits9: str) -> str:
    """The two check digits of a 9-digit SNILS body."""
    total = sum(map(operator.mul, map(int, digits9), _SNILS_WEIGHTS))
    if total < 100:
        check = total
    elif total in (100, 101):
        check = 0
    else:
        check = total % 101
        if check == 100:
            check = 0
    return f"{check:02d}"


def make_snils(body: int) -> str:
    """11 digits: the body (above :data:`SNILS_MIN_CHECKED`) and its check number."""
    digits9 = f"{body:09d}"
    return digits9 + snils_check(digits9)


def snils_valid(snils: str) -> bool:
    """Whether an 11-digit (or formatted ``XXX-XXX-XXX YY``) SNILS has a valid check number."""
    digits = snils.replace("-", "").replace(" ", "")
    if len(digits) != 11 or not digits.isdigit():
        return False
    if int(digits[:9]) <= SNILS_MIN_CHECKED:
        return True
    return snils_check(digits[:9]) == digits[9:]


def format_snils(snils: str) -> str:
    """``12345678901`` → ``123-456-789 01`` (the L-file and IDDOKT spelling)."""
    return f"{snils[0:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:11]}"


def spoil_snils(snils: str) -> str:
    """The same 9 digits with a wrong check number (for the planted 004F.00.1570 defect)."""
    wrong = (int(snils[9:]) + 37) % 101
    if wrong == 100 or f"{wrong:02d}" == snils_check(snils[:9]):
        wrong = (wrong + 1) % 100
    return snils[:9] + f"{wrong:02d}"


def enp_check(digits15: str) -> str:
    """The ENP check digit of 15 digits, as the methodology describes it."""
    reversed_digits = digits15[::-1]
    odd = reversed_digits[0::2]
    even = reversed_digits[1::2]
    number = even + str(int(odd) * 2)
    total = sum(map(int, number))
    return str((10 - total % 10) % 10)


def make_enp(region: str, body: int) -> str:
    """16 digits: the 2-digit region, 13 digits of ``body`` and the check digit."""
    digits15 = f"{region}{body % 10**13:013d}"
    return digits15 + enp_check(digits15)


def enp_valid(enp: str) -> bool:
    """Whether a 16-digit ENP has a valid check digit."""
    return len(enp) == 16 and enp.isdigit() and enp_check(enp[:15]) == enp[15]
