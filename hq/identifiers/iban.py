"""IBANs (KZ: 20 characters, and foreign), checked by schwifty.

Kazakh bank accounts are IBANs, and the IBAN check digits catch almost every typo, so a
mistyped account is rejected instead of silently becoming a key that links nothing.
Stored compact and upper-case (`KZ86125KZT5004100100`), shown grouped by four.
"""

from __future__ import annotations

import re

from schwifty import IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)

from hq.identifiers._text import latin_upper, strip_trailing
from hq.identifiers.base import IdentifierError, IdentifierKind

_SEPARATORS = str.maketrans("", "", " \t\u00a0-.")
_LABEL = re.compile(r"IBAN[:\s]*")
_ALNUM = re.compile(r"[A-Z0-9]+")


def compact_iban(text: str) -> str:
    """Upper-case, Cyrillic look-alikes mapped, `IBAN` label and separators removed."""
    text = latin_upper(strip_trailing(text))
    label = _LABEL.match(text)
    if label is not None:
        text = text[label.end() :]
    return text.translate(_SEPARATORS)


def check_iban(kind: str, compact: str) -> str:
    """The compact IBAN if schwifty accepts it; else IdentifierError with the reason."""
    if not _ALNUM.fullmatch(compact):
        raise IdentifierError(kind, "IBAN may contain only letters, digits, spaces and dashes")
    try:
        return IBAN(compact).compact
    except InvalidChecksumDigits:
        raise IdentifierError(kind, "IBAN checksum is wrong") from None
    except InvalidLength:
        raise IdentifierError(
            kind, f"IBAN has the wrong length for country {compact[:2]}"
        ) from None
    except InvalidCountryCode:
        raise IdentifierError(kind, f"IBAN country code {compact[:2]!r} is unknown") from None
    except SchwiftyException:
        raise IdentifierError(kind, "IBAN has the wrong format for its country") from None


def is_iban(compact: str) -> bool:
    """True if `compact` (already compacted) is a valid IBAN."""
    try:
        IBAN(compact)
    except SchwiftyException:
        return False
    return True


class IbanKind(IdentifierKind):
    """An International Bank Account Number."""

    name = "iban"

    def clean_text(self, text: str) -> str:
        return check_iban(self.name, compact_iban(text))

    def caption(self, clean: str) -> str:
        return " ".join(clean[i : i + 4] for i in range(0, len(clean), 4))
