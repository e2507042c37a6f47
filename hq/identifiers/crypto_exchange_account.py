"""Accounts on crypto exchanges, written `exchange:account` (`binance:123456789`).

An account id is only unique within its exchange, so the exchange is part of the key.
The exchange is lower-cased; the account keeps its case (some exchanges use
case-sensitive ids) except e-mail logins, which are lower-cased.
"""

from __future__ import annotations

import re

from hq.identifiers._text import split_prefixed, strip_trailing
from hq.identifiers.base import IdentifierKind

_EXCHANGE = re.compile(r"[a-z0-9_.-]+")
_WHITESPACE = re.compile(r"\s+")


class CryptoExchangeAccountKind(IdentifierKind):
    """An exchange account: `exchange:uid`, `exchange:login` or `exchange:e-mail`."""

    name = "crypto_exchange_account"

    def clean_text(self, text: str) -> str:
        split = split_prefixed(text)
        if split is None:
            raise self.error("expected exchange:account, e.g. binance:123456789")
        exchange = _WHITESPACE.sub("", split[0]).lower()
        if not _EXCHANGE.fullmatch(exchange):
            raise self.error("exchange name must be letters, digits, '.', '_' and '-'")
        account = _WHITESPACE.sub("", strip_trailing(split[1], ". "))
        if not account:
            raise self.error("expected exchange:account, e.g. binance:123456789")
        if "@" in account:
            account = account.lower()
        return f"{exchange}:{account}"
