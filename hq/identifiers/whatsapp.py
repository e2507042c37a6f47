"""WhatsApp accounts, which are phone numbers: keyed by E.164 like the `phone` kind.

Besides every phone spelling, `wa.me/77011234567` and `api.whatsapp.com/send?phone=`
links are accepted. Those links carry the full international number without `+`.
"""

from __future__ import annotations

import re

from hq.identifiers.phone import INVALID_REASON, PhoneKind, clean_phone

_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?(?:wa\.me/|(?:api\.)?whatsapp\.com/send/?\?(?:[^#]*&)?phone=)"
    r"\+?([0-9]{6,15})",
    re.IGNORECASE,
)


class WhatsappKind(PhoneKind):
    """A WhatsApp number. PHONE strength, for the same hub reasons as phone numbers."""

    name = "whatsapp"

    def clean_text(self, text: str) -> str:
        link = _LINK.match(text)
        if link is not None:
            digits = link.group(1)
            # International by definition; fall back to a Kazakh reading (`wa.me/8701...`).
            e164 = clean_phone("+" + digits) or clean_phone(digits)
        else:
            e164 = clean_phone(text)
        if e164 is None:
            raise self.error(INVALID_REASON)
        return e164

