"""E-mail addresses, lower-cased.

The local part is case-sensitive in theory and case-insensitive at every real provider,
so the whole address is lower-cased. Provider-specific aliasing (Gmail dots, `+tags`) is
deliberately not undone: that would merge addresses on providers with other rules. The
domain is IDNA-encoded like in `url.py`, so Cyrillic domains match their punycode.
"""

from __future__ import annotations

import re

import idna

from hq.identifiers._text import strip_trailing
from hq.identifiers.base import IdentifierKind

_LOCAL = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}")


class EmailKind(IdentifierKind):
    """An e-mail address: one `@`, a local part and a domain with a dot."""

    name = "email"

    def clean_text(self, text: str) -> str:
        value = strip_trailing(text.lower().removeprefix("mailto:"), ". ")
        local, at, domain = value.partition("@")
        if not at or "@" in domain:
            raise self.error("e-mail address must contain exactly one @")
        if not _LOCAL.fullmatch(local):
            raise self.error("e-mail address has an invalid part before the @")
        if "." not in domain:
            raise self.error("e-mail domain must contain a dot")
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise self.error(f"e-mail domain {domain!r} is not valid") from None
        return f"{local}@{domain}"
