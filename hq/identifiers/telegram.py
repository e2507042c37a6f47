"""Telegram accounts: a numeric id and a @username are two different identifiers.

The numeric id never changes; a username can be dropped and taken by someone else, and an
account may have none. HQ cannot tell which id owns which username, so each is its own
key: `id5014785358` and `@somebuyer`. Usernames are case-insensitive in Telegram, so
they are lower-cased; `t.me`/`telegram.me` links are reduced to the username.
"""

from __future__ import annotations

import re

from hq.identifiers._text import strip_trailing
from hq.identifiers.base import IdentifierKind

# t.me/name, https://telegram.me/name/, t.me/s/name (channel preview), tg://resolve?domain=
_LINK = re.compile(
    r"(?:(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?:s/)?|tg://resolve\?domain=)",
    re.IGNORECASE,
)
# Ids are positive 64-bit integers; fewer than 5 digits is a typo, not an account.
_ID = re.compile(r"(?:id\s*)?([1-9][0-9]{4,15})", re.IGNORECASE)
# Telegram's rule: 5-32 characters of a-z, 0-9 and _, starting with a letter.
_USERNAME = re.compile(r"[a-z][a-z0-9_]{4,31}")
_PHONE_LIKE = re.compile(r"\+[0-9 ()\-]{7,}")


class TelegramKind(IdentifierKind):
    """A Telegram user, group or channel: `id<digits>` or `@username`."""

    name = "telegram"
    memoise = False  # a couple of regexes: cheaper than a memo lookup

    def clean_text(self, text: str) -> str:
        value = strip_trailing(text)
        link = _LINK.match(value)
        if link is not None:
            value = value[link.end() :]
            # Drop `?start=...`, message numbers (`/123`) and anything after the name.
            value = re.split(r"[/?#&]", value, maxsplit=1)[0]
            if value.startswith("+") or value.lower() in ("joinchat", "addstickers", "share"):
                raise self.error("an invite or service link, not an account")
        value = value.strip()
        id_match = _ID.fullmatch(value)
        if id_match is not None:
            return "id" + id_match.group(1)
        if _PHONE_LIKE.fullmatch(value):
            raise self.error(
                "looks like a phone number, not a Telegram id or username; use kind phone"
            )
        username = value.removeprefix("@").lower()
        if not _USERNAME.fullmatch(username):
            raise self.error(
                "expected a numeric id (id123...) or a username of 5-32 letters, digits"
                " and _ starting with a letter"
            )
        return "@" + username
