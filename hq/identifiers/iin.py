"""Kazakh IINs (individual identification numbers), 12 digits.

Layout: YYMMDD birth date, one digit for century and sex (1/2: 1800s, 3/4: 1900s, 5/6:
2000s, odd = male; 0 is used for some foreign citizens), four serial digits and a check
digit. python-stdnum has no Kazakh module, so the check digit is computed here: weights
1..11 over the first 11 digits, mod 11; if that gives 10, weights 3..11,1,2; if it is 10
again the number cannot be an IIN. The date is checked too: 1 in 11 random typos would
otherwise pass the check digit.
"""

from __future__ import annotations

import re
from datetime import date

from hq.identifiers._text import drop_chars
from hq.identifiers.base import IdentifierKind

_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_SEPARATORS = " \t\u00a0-."
_IIN = re.compile(r"[0-9]{12}")
_CENTURY = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}


def check_digit(first11: str) -> int | None:
    """The 12th digit for these 11 digits, or None if no digit is possible."""
    digits = [int(c) for c in first11]
    for weights in (_WEIGHTS_1, _WEIGHTS_2):
        result = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if result != 10:
            return result
    return None


def birth_date(iin: str) -> date | None:
    """The birth date in a 12-digit IIN, or None if it is not a real date.

    With century digit 0 the century is unknown: any year that makes the date valid.
    Dates in the future are not birth dates.
    """
    yy, mm, dd = int(iin[0:2]), int(iin[2:4]), int(iin[4:6])
    centuries = (_CENTURY[iin[6]],) if iin[6] in _CENTURY else (1900, 2000)
    for century in centuries:
        try:
            born = date(century + yy, mm, dd)
        except ValueError:
            continue
        if born <= date.today():
            return born
    return None


def make_iin(birth: date, sex: str, serial: int) -> str:
    """A valid IIN for a person born on `birth`, sex "M" or "F", serial 0-9999 (demo data).

    About 1 serial in 11 has no possible check digit; the next serial is used instead.
    """
    if not 1800 <= birth.year <= 2099:
        raise ValueError("birth year must be 1800-2099")
    sex = sex.upper()[:1]
    if sex not in ("M", "F"):
        raise ValueError('sex must be "M" or "F"')
    if not 0 <= serial <= 9999:
        raise ValueError("serial must be 0-9999")
    century_digit = {1800: 1, 1900: 3, 2000: 5}[birth.year // 100 * 100] + (sex == "F")
    head = f"{birth:%y%m%d}{century_digit}"
    for attempt in range(10_000):
        first11 = f"{head}{(serial + attempt) % 10_000:04d}"
        digit = check_digit(first11)
        if digit is not None:
            return f"{first11}{digit}"
    raise AssertionError("unreachable: some serial always has a check digit")


class IinKind(IdentifierKind):
    """A Kazakh IIN: 12 digits, valid birth date and century digit, valid check digit."""

    name = "iin"
    memoise = False  # a birth date must not be in the future: the answer depends on today

    def clean_text(self, text: str) -> str:
        iin = drop_chars(text, _SEPARATORS)
        if not _IIN.fullmatch(iin):
            raise self.error("IIN must be exactly 12 digits")
        if iin[6] not in "0123456":
            raise self.error("IIN digit 7 (century and sex) must be 0-6")
        if birth_date(iin) is None:
            raise self.error("IIN does not start with a valid birth date (YYMMDD)")
        if check_digit(iin[:11]) != int(iin[11]):
            raise self.error("IIN check digit is wrong")
        return iin
