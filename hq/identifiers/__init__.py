"""Identifier kinds: turn the values regions type into keys that link cases.

One module per kind, each a small `IdentifierKind` class (validate, clean, key, caption,
strength), registered in `KINDS` under the name the case export uses. `normalise` is
the one entry point the import and the API need.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from hq.identifiers.account import AccountKind
from hq.identifiers.base import IdentifierError, IdentifierKind, Normalised, NormalisedFields, Strength
from hq.identifiers.card import CardKind, make_card
from hq.identifiers.crypto_exchange_account import CryptoExchangeAccountKind
from hq.identifiers.crypto_wallet import CryptoWalletKind
from hq.identifiers.email import EmailKind
from hq.identifiers.ewallet import EwalletKind
from hq.identifiers.iban import IbanKind
from hq.identifiers.iin import IinKind, make_iin
from hq.identifiers.imei import ImeiKind
from hq.identifiers.instagram import InstagramKind
from hq.identifiers.ip import IpKind
from hq.identifiers.phone import PhoneKind
from hq.identifiers.social import SocialKind
from hq.identifiers.telegram import TelegramKind
from hq.identifiers.url import UrlKind
from hq.identifiers.whatsapp import WhatsappKind

__all__ = [
    "KINDS",
    "IdentifierError",
    "IdentifierKind",
    "Normalised",
    "NormalisedFields",
    "Strength",
    "get_kind",
    "make_card",
    "make_iin",
    "normalise",
    "normalise_fields",
]

KINDS: dict[str, IdentifierKind] = {
    kind.name: kind
    for kind in (
        PhoneKind(),
        CardKind(),
        IbanKind(),
        AccountKind(),
        TelegramKind(),
        WhatsappKind(),
        InstagramKind(),
        SocialKind(),
        EwalletKind(),
        IpKind(),
        CryptoWalletKind(),
        CryptoExchangeAccountKind(),
        ImeiKind(),
        IinKind(),
        EmailKind(),
        UrlKind(),
    )
}


def get_kind(name: str) -> IdentifierKind:
    """The kind registered under `name`; IdentifierError for an unknown kind."""
    kind = KINDS.get(name)
    if kind is None:
        raise IdentifierError(name, "unknown identifier kind; expected one of " + ", ".join(KINDS))
    return kind


def normalise(kind: str, raw: str, *, pepper: bytes) -> Normalised:
    """Clean `raw` as an identifier of `kind`: its key, display form and strength."""
    return Normalised.from_fields(normalise_fields(kind, raw, pepper=pepper))


class _Rejected(NamedTuple):
    """A memoised IdentifierError: raised afresh on every hit (no shared traceback)."""

    kind: str
    reason: str


@lru_cache(maxsize=1 << 15)
def _memoised(kind: str, raw: str, pepper: bytes) -> NormalisedFields | _Rejected:
    try:
        return KINDS[kind].fields(raw, pepper)
    except IdentifierError as exc:
        return _Rejected(exc.kind, exc.reason)


def normalise_fields(kind: str, raw: str, *, pepper: bytes) -> NormalisedFields:
    """`normalise` as a plain (kind, key, display, strength value) tuple.

    Memoised by (kind, value, pepper) where that pays (`IdentifierKind.memoise`): ring
    members mention each other's accounts and a few login IPs recur across thousands of
    cases. The pepper is part of the memo key because a kind's key may depend on it.
    """
    impl = KINDS.get(kind) if kind.__class__ is str else None
    if impl is None:
        return get_kind(kind).fields(raw, pepper)  # an unknown kind's error
    if impl.memoise and raw.__class__ is str and pepper.__class__ is bytes:
        result = _memoised(kind, raw, pepper)
        if result.__class__ is _Rejected:
            raise IdentifierError(result.kind, result.reason)
        return result  # type: ignore[return-value]
    return impl.fields(raw, pepper)
