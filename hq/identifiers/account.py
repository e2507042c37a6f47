"""Bank account numbers that are not (or not written as) IBANs.

Foreign and legacy accounts, e-money accounts and partial statements use all sorts of
layouts, so only the letters and digits are kept, upper-cased. A value that is a valid
IBAN gets exactly the key the `iban` kind gives it, so the two can be matched.
"""

from __future__ import annotations

import re

from hq.identifiers._text import latin_upper, strip_trailing
from hq.identifiers.base import IdentifierKind
from hq.identifiers.iban import compact_iban, is_iban

_SEPARATORS = re.compile(r"[\W_]+")
_ALNUM = re.compile(r"[A-Z0-9]+")


class AccountKind(IdentifierKind):
    """A bank account number: 6-34 Latin letters and digits (34 is the IBAN maximum)."""

    name = "account"

    def clean_text(self, text: str) -> str:
        iban = compact_iban(text)
        if is_iban(iban):
            return iban
        account = _SEPARATORS.sub("", latin_upper(strip_trailing(text)))
        if not _ALNUM.fullmatch(account):
            raise self.error("account number may contain only Latin letters, digits and separators")
        if not 6 <= len(account) <= 34:
            raise self.error(
                f"account number must have 6 to 34 letters and digits, not {len(account)}"
            )
        if not any(c.isdigit() for c in account):
            raise self.error("account number has no digits")
        return account
