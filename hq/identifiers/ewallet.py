"""E-wallets, written `provider:number` (`qiwi:+77011234567`, `webmoney:Z123456789012`).

A wallet number means nothing without its provider, so the provider is part of the key.
Many wallets (Kaspi, QIWI, Onay) are opened on a phone number; when the number reads as
a phone it is normalised like one, so `Kaspi: 8 701 123 45 67` and `kaspi:+77011234567`
are the same wallet. Other wallet ids keep only their letters and digits, upper-cased.
"""

from __future__ import annotations

import re

from hq.identifiers._text import split_prefixed, strip_trailing, upper_alnum
from hq.identifiers.base import IdentifierKind
from hq.identifiers.phone import clean_phone, phone_caption

KNOWN_PROVIDERS: frozenset[str] = frozenset(
    {"kaspi", "qiwi", "webmoney", "yoomoney", "payeer", "perfectmoney", "paypal", "onay", "halyk"}
)
# Other spellings of the known providers (after lower-casing and removing spaces).
PROVIDER_ALIASES: dict[str, str] = {
    "kaspi.kz": "kaspi",
    "kaspigold": "kaspi",
    "киви": "qiwi",
    "каспи": "kaspi",
    "wm": "webmoney",
    "yandexmoney": "yoomoney",
    "yandex.money": "yoomoney",
    "юmoney": "yoomoney",
    "pm": "perfectmoney",
    "halykbank": "halyk",
}
_PROVIDER = re.compile(r"[a-z0-9_-]+")
_PHONE_LIKE = re.compile(r"\+?[0-9 ()\-.]{10,20}")


class EwalletKind(IdentifierKind):
    """An e-wallet: provider (known or `[a-z0-9_-]+`) and the wallet's number."""

    name = "ewallet"

    def clean_text(self, text: str) -> str:
        split = split_prefixed(text)
        if split is None:
            raise self.error("expected provider:number, e.g. qiwi:+77011234567")
        provider = split[0].lower().replace(" ", "")
        provider = PROVIDER_ALIASES.get(provider, provider)
        if not _PROVIDER.fullmatch(provider):
            raise self.error(
                "provider must be letters, digits, _ and - (e.g. kaspi, qiwi, webmoney)"
            )
        number = strip_trailing(split[1])
        if _PHONE_LIKE.fullmatch(number):
            e164 = clean_phone(number)
            if e164 is not None:
                return f"{provider}:{e164}"
        wallet = upper_alnum(number)
        if len(wallet) < 4:
            raise self.error("wallet number must have at least 4 letters or digits")
        return f"{provider}:{wallet}"

    def caption(self, clean: str) -> str:
        provider, _, number = clean.partition(":")
        if number.startswith("+"):
            return f"{provider}:{phone_caption(number)}"
        return clean
