"""IBANs (KZ: 20 characters, and foreign), checked by schwifty.

Kazakh bank accounts are IBANs, and the IBAN check digits catch almost every typo, so a
mistyped account is rejected instead of silently becoming a key that links nothing.
Stored compact and upper-case (`KZ86125KZT5004100100`), shown grouped by four.
"""

from __future__ import annotations

import random
import re
import string

from schwifty import IBAN, registry
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)

from hq.identifiers._text import drop_chars, latin_upper, strip_trailing
from hq.identifiers.base import IdentifierError, IdentifierKind

_SEPARATORS = " \t\u00a0-."
_LABEL = re.compile(r"IBAN[:\s]*")
_ALNUM = re.compile(r"[A-Z0-9]+")


def compact_iban(text: str) -> str:
    """Upper-case, Cyrillic look-alikes mapped, `IBAN` label and separators removed."""
    text = latin_upper(strip_trailing(text))
    label = _LABEL.match(text)
    if label is not None:
        text = text[label.end() :]
    return drop_chars(text, _SEPARATORS)


# Kazakh IBANs without building a schwifty IBAN (~10 µs each; they are most of the IBANs
# and the bulk import sees millions). schwifty decides an IBAN by its characters, the
# country's length and BBAN format (the spec in its registry, used here as is) and then
# the ISO 7064 mod 97-10 check digits. For a value that has KZ's length and format,
# only the check digits are left, computed here as schwifty computes them (letters count
# A=10 ... Z=35). The shortcut only ever answers "valid": anything else, and every error
# message, is schwifty's. A probe at import compares it with schwifty and turns it off if
# they disagree.
_KZ = registry.get_iban_spec("KZ")
_KZ_ASCII = re.compile(r"KZ[0-9]{2}[0-9A-Z]+")
_LETTER_VALUES = {ord(c): str(i) for i, c in enumerate(string.ascii_uppercase, start=10)}


def _check_digits(bban: str, country: str) -> str:
    return f"{98 - int((bban + country).translate(_LETTER_VALUES)) * 100 % 97:02d}"


def _kz_shortcut(compact: str) -> bool:
    return (
        len(compact) == _KZ.iban_length
        and _KZ_ASCII.fullmatch(compact) is not None
        and _KZ.regex.match(compact[4:]) is not None
        and compact[2:4] == _check_digits(compact[4:], "KZ")
    )


def _schwifty_accepts(compact: str) -> bool:
    try:
        IBAN(compact)
    except SchwiftyException:
        return False
    return True


def _probe_kz_shortcut() -> bool:
    """True if the shortcut agrees with schwifty on random Kazakh IBANs with every pair of
    check digits (one right, 99 wrong) and on single-character typos."""
    rng = random.Random(13)
    for _ in range(8):
        valid = str(IBAN.random("KZ", random=rng, use_registry=False))
        probes = [valid[:2] + f"{cd:02d}" + valid[4:] for cd in range(100)]
        for _ in range(25):
            i = rng.randrange(len(valid))
            probes.append(valid[:i] + rng.choice(string.digits + string.ascii_uppercase) + valid[i + 1 :])
        if not _kz_shortcut(valid) or any(_kz_shortcut(p) != _schwifty_accepts(p) for p in probes):
            return False
    return True


KZ_SHORTCUT: bool = _probe_kz_shortcut()


def check_iban(kind: str, compact: str) -> str:
    """The compact IBAN if schwifty accepts it; else IdentifierError with the reason."""
    if not _ALNUM.fullmatch(compact):
        raise IdentifierError(kind, "IBAN may contain only letters, digits, spaces and dashes")
    if KZ_SHORTCUT and _kz_shortcut(compact):
        return compact  # what IBAN(compact).compact gives for letters and digits
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
    if compact[:1].isdigit():
        # schwifty's first check wants two letters, and no digit upper-cases to a letter
        # or is whitespace (which it strips): account numbers like 40817... never pass.
        return False
    if KZ_SHORTCUT and _kz_shortcut(compact):
        return True
    return _schwifty_accepts(compact)


class IbanKind(IdentifierKind):
    """An International Bank Account Number."""

    name = "iban"

    def clean_text(self, text: str) -> str:
        return check_iban(self.name, compact_iban(text))

    def caption(self, clean: str) -> str:
        return " ".join(clean[i : i + 4] for i in range(0, len(clean), 4))
