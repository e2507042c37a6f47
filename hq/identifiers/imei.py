"""Device IMEIs: the handset used for the calls, which outlives the SIM cards.

A valid IMEI is 15 digits with a Luhn check digit (python-stdnum's `imei`). Operators'
records often carry the 16-digit IMEISV instead (14 digits + 2-digit software version,
no check digit); it names the same device, so it is reduced to the 14 digits plus the
computed check digit, and matches the 15-digit form. 14 digits alone are rejected: a
missing check digit cannot be told from a missing digit.
"""

from __future__ import annotations

import re

from stdnum import imei, luhn

from hq.identifiers._text import drop_chars
from hq.identifiers.base import IdentifierKind

_SEPARATORS = " \t\u00a0-/."
_DIGITS = re.compile(r"[0-9]+")


class ImeiKind(IdentifierKind):
    """A 15-digit IMEI (a 16-digit IMEISV is reduced to it)."""

    name = "imei"

    def clean_text(self, text: str) -> str:
        digits = drop_chars(text, _SEPARATORS)
        if not _DIGITS.fullmatch(digits):
            raise self.error("IMEI may contain only digits, spaces, dashes and slashes")
        if len(digits) == 16:
            body = digits[:14]
            return body + luhn.calc_check_digit(body)
        if len(digits) != 15:
            raise self.error(f"IMEI must have 15 digits (or 16 for IMEISV), not {len(digits)}")
        if not imei.is_valid(digits):
            raise self.error("IMEI fails the Luhn check")
        return digits
