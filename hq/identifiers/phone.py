"""Phone numbers, stored as E.164 (`+77011234567`).

Kazakh numbers arrive as `8 701 ...`, `+7 (701) ...`, `7701...` or without any prefix;
foreign ones need a `+`. `phonenumbers` (Google's libphonenumber metadata) decides what is
a valid number, with KZ as the default region.

The bulk import normalises millions of values, and phonenumbers costs ~20 µs a number.
Almost all of them are Kazakh mobiles, so a precompiled regex handles the unambiguous
Kazakh spellings. It only answers for 3-digit prefixes where phonenumbers itself accepts
every number (found by probing phonenumbers at import time), so it can never accept a
number the slow path would reject or give it a different key; everything else goes to
phonenumbers, whose answers are cached (`lru_cache`): the same fraud numbers recur
across cases.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from hq.identifiers._text import drop_chars
from hq.identifiers.base import IdentifierKind, Strength

DEFAULT_REGION = "KZ"
INVALID_REASON = "not a valid Kazakh or international phone number"

# Separators people type inside numbers; the fast path deletes them before matching.
_SEPARATORS = " \t\u00a0-()."

# `+7`, `8` (Kazakh trunk prefix), `7` or nothing, then a 10-digit national number that
# starts with 7 (all Kazakh numbers do; Russian ones start with 3, 4, 8 or 9).
_KZ_FAST = re.compile(r"(?:\+7|[78])?(7\d{9})")
_SHARED_ZONE = re.compile(r"7\d{10}")


def _valid_e164(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def parse_slow(text: str) -> str | None:
    """E.164 of `text` by phonenumbers, or None if it is not a valid number.

    Validity is `is_valid_number`, not `is_possible_number`: "possible" only checks the
    length, so a mistyped `+7 799 ...` (no such range) would become a key that links
    nothing and hides the typo. A rejected value is reported on its line and can be fixed.
    """
    if text.startswith("00"):
        # International prefix used all over Europe; no Kazakh number starts with 0.
        text = "+" + text[2:]
    e164 = _valid_e164(text)
    if e164 is None:
        compact = drop_chars(text, _SEPARATORS)
        if _SHARED_ZONE.fullmatch(compact):
            # `79161234567`: a Russian number with the shared +7 code but no `+`.
            # phonenumbers (region KZ) only strips a bare 7 before Kazakh numbers.
            e164 = _valid_e164("+" + compact)
    return e164


def _probe_fast_prefixes() -> frozenset[str]:
    """Kazakh 3-digit prefixes (`700`, `747`...) where phonenumbers accepts every number.

    KZ mobile and VoIP ranges are decided by the first three national digits in the
    metadata; fixed lines need five, so their prefixes fail some probe and stay on the
    slow path. 100 probes vary digits 4-5 exhaustively and the rest pseudo-randomly.
    """
    rng = random.Random(7)
    tails = [f"{i:02d}{rng.randrange(100_000):05d}" for i in range(100)]
    found: set[str] = set()
    for first3 in range(700, 800):
        prefix = str(first3)
        if all(parse_slow(f"+7{prefix}{tail}") == f"+7{prefix}{tail}" for tail in tails):
            found.add(prefix)
    return frozenset(found)


FAST_PREFIXES: frozenset[str] = _probe_fast_prefixes()


def parse_fast(text: str) -> str | None:
    """E.164 for the common Kazakh spellings without calling phonenumbers, else None."""
    match = _KZ_FAST.fullmatch(drop_chars(text, _SEPARATORS))
    if match is None:
        return None
    national = match.group(1)
    if national[:3] not in FAST_PREFIXES:
        return None
    return "+7" + national


parse_slow_cached = lru_cache(maxsize=1 << 16)(parse_slow)


def clean_phone(text: str) -> str | None:
    """E.164 of `text` (fast path first), or None if it is not a valid phone number.

    Only phonenumbers' answers are cached: the fast path costs less than a lookup in a
    big cache.
    """
    return parse_fast(text) or parse_slow_cached(text)


@lru_cache(maxsize=1 << 16)
def _caption_slow(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164), PhoneNumberFormat.INTERNATIONAL)


def phone_caption(e164: str) -> str:
    """International format, e.g. `+7 701 123 4567` (phonenumbers' own layout for KZ mobiles)."""
    if len(e164) == 12 and e164.startswith("+7") and e164[2:5] in FAST_PREFIXES:
        return f"+7 {e164[2:5]} {e164[5:8]} {e164[8:]}"
    return _caption_slow(e164)


class PhoneKind(IdentifierKind):
    """A phone number. PHONE strength: bank and police numbers are spoofed and victims
    share lines, so the linker checks phone hubs before trusting a shared number."""

    name = "phone"
    memoise = False  # the fast path is cheaper than a memo; phonenumbers' answers are cached

    def clean_text(self, text: str) -> str:
        e164 = clean_phone(text)
        if e164 is None:
            raise self.error(INVALID_REASON)
        return e164

    def caption(self, clean: str) -> str:
        return phone_caption(clean)

    def strength(self, clean: str) -> Strength:
        return Strength.PHONE
