"""Bank card numbers (PANs), which HQ links on but never stores.

Design: a full card number in the database would make HQ a PCI-DSS cardholder-data
environment and a target. So the stored key is `"h"` + the first 32 hex digits (128 bits)
of HMAC-SHA256(pepper, PAN). The same card typed any way gives the same key, so cases
still link, but the key does not reveal the card. A plain hash would not do: there are
only ~10^9 PANs per BIN, and a leaked table could be brute-forced in minutes; the pepper
is a server secret kept outside the database, so the table alone is useless.

What people see is the masked form PCI-DSS allows to display: the first 6 digits (BIN,
which names the issuing bank) and the last 4, e.g. `4042 43** **** 8024`. That is enough
for an investigator to tell cards apart and to know which bank to ask.
"""

from __future__ import annotations

import hmac
import random
import re
from functools import lru_cache

from stdnum import luhn

from hq.identifiers._text import drop_chars
from hq.identifiers.base import IdentifierKind

_SEPARATORS = " \t\u00a0-."
_DIGITS = re.compile(r"[0-9]+")


def _group4(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def mask_pan(pan: str) -> str:
    """`4042438609878024` -> `4042 43** **** 8024` (BIN and last four digits only)."""
    if len(pan) == 16:  # the common case, without the generic grouping
        return f"{pan[:4]} {pan[4:6]}** **** {pan[12:]}"
    return _group4(pan[:6] + "*" * (len(pan) - 10) + pan[-4:])


@lru_cache(maxsize=8)
def _keyed_hmac(pepper: bytes) -> hmac.HMAC:
    """An HMAC that has absorbed the pepper: copying it skips the key setup on every card."""
    return hmac.new(pepper, digestmod="sha256")


def card_key(pan: str, pepper: bytes) -> str:
    """The stored key: HMAC-SHA256 of the PAN under the server pepper, 128 bits in hex."""
    if pepper.__class__ is not bytes:  # not a cache key (bytearray...): the one-shot form
        return "h" + hmac.digest(pepper, pan.encode("ascii"), "sha256").hex()[:32]
    mac = _keyed_hmac(pepper).copy()
    mac.update(pan.encode("ascii"))
    return "h" + mac.hexdigest()[:32]


# Luhn: every second digit from the right is doubled, and a two-digit product counts as
# the sum of its digits (2*7 = 14 -> 5): 0123456789 become 0246813579.
_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_valid(digits: str) -> bool:
    """`stdnum.luhn.checksum(digits) == 0` for ASCII digits, in C-level string operations
    (the digits' sum is the sum of their bytes less 48 each): several times faster."""
    summed = digits[::-2] + digits[-2::-2].translate(_DOUBLED)
    return (sum(summed.encode()) - 48 * len(summed)) % 10 == 0


def make_card(prefix: str, rng: random.Random) -> str:
    """A random 16-digit PAN that passes the Luhn check, starting with `prefix` (demo data)."""
    if not _DIGITS.fullmatch(prefix) or len(prefix) > 15:
        raise ValueError("prefix must be 1 to 15 digits")
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(15 - len(prefix)))
    return body + luhn.calc_check_digit(body)


class CardKind(IdentifierKind):
    """A payment card number: 13-19 digits with a valid Luhn check digit."""

    name = "card"
    memoise = False  # a memo would keep full card numbers in memory for the process's life

    def clean_text(self, text: str) -> str:
        pan = drop_chars(text, _SEPARATORS)
        if not _DIGITS.fullmatch(pan):
            raise self.error("card number may contain only digits, spaces, dashes and dots")
        if not 13 <= len(pan) <= 19:
            raise self.error(f"card number must have 13 to 19 digits, not {len(pan)}")
        if not luhn_valid(pan):
            raise self.error("card number fails the Luhn check")
        return pan

    def key(self, clean: str, pepper: bytes) -> str:
        return card_key(clean, pepper)

    def caption(self, clean: str) -> str:
        return mask_pan(clean)
