"""Profiles on social networks other than Telegram, WhatsApp and Instagram (VK, OK,
Facebook, TikTok, X...), keyed like `vk.com/some.profile`.

Normalised as a URL (see `url.py`: scheme, `www.`, tracking query and trailing slash
dropped; `facebook.com/profile.php?id=` kept), plus two rules for profiles: the whole key
is lower-cased, because profile names on these networks are case-insensitive, and a link
must name a profile, so a bare host is rejected.
"""

from __future__ import annotations

from hq.identifiers.base import IdentifierKind
from hq.identifiers.url import url_key


class SocialKind(IdentifierKind):
    """A social-network profile link."""

    name = "social"

    def clean_text(self, text: str) -> str:
        key = url_key(self.name, text).lower()
        if "/" not in key:
            raise self.error("a profile link needs the profile's path, e.g. vk.com/some.profile")
        return key
