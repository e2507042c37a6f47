"""Instagram accounts, keyed by the lower-cased username.

Usernames are case-insensitive and limited to 30 characters of a-z, 0-9, `.` and `_`.
Profile links (`instagram.com/name/`, with `?igsh=` share tracking) are reduced to the
name; post and reel links are rejected because they do not name the account.
"""

from __future__ import annotations

import re

from hq.identifiers._text import strip_trailing
from hq.identifiers.base import IdentifierKind

_LINK = re.compile(
    r"(?:https?://)?(?:www\.|m\.)?(?:instagram\.com|instagr\.am)(?:/|(?=[?#])|$)", re.IGNORECASE
)
_USERNAME = re.compile(r"[a-z0-9._]{1,30}")
_NOT_PROFILES = frozenset({"p", "reel", "reels", "tv", "explore", "accounts", "direct"})


class InstagramKind(IdentifierKind):
    """An Instagram account: `@name`, `name` or a profile link."""

    name = "instagram"
    memoise = False  # a couple of regexes: cheaper than a memo lookup

    def clean_text(self, text: str) -> str:
        value = text
        link = _LINK.match(value)
        if link is not None:
            parts = [p for p in re.split(r"[/?#]", value[link.end() :]) if p]
            if parts[:1] == ["stories"] and len(parts) > 1:
                parts = parts[1:]
            if not parts or parts[0].lower() in _NOT_PROFILES:
                raise self.error("link does not name a profile (a post, reel or page link?)")
            value = parts[0]
        # A username cannot end with a dot, so trailing dots are sentence punctuation.
        username = strip_trailing(value.strip()).removeprefix("@").lower()
        if not _USERNAME.fullmatch(username):
            raise self.error("username must be 1-30 letters, digits, dots and underscores")
        return username

    def caption(self, clean: str) -> str:
        return "@" + clean
