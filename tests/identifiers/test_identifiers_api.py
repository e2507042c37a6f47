"""The package's public surface: registry, errors, the Normalised record."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from hq.identifiers import (
    KINDS,
    IdentifierError,
    IdentifierKind,
    Normalised,
    Strength,
    get_kind,
    normalise,
)

from tests.identifiers.support import PEPPER

EXPORT_KINDS = [
    "phone",
    "card",
    "iban",
    "account",
    "telegram",
    "whatsapp",
    "instagram",
    "social",
    "ewallet",
    "ip",
    "crypto_wallet",
    "crypto_exchange_account",
    "imei",
    "iin",
    "email",
    "url",
]


def test_registry_has_exactly_the_export_kinds() -> None:
    assert list(KINDS) == EXPORT_KINDS
    for name, kind in KINDS.items():
        assert isinstance(kind, IdentifierKind)
        assert kind.name == name
        assert get_kind(name) is kind


def test_unknown_kind() -> None:
    with pytest.raises(IdentifierError) as info:
        get_kind("fax")
    assert info.value.kind == "fax"
    assert info.value.reason.startswith("unknown identifier kind; expected one of phone, card,")
    with pytest.raises(IdentifierError) as info:
        normalise("fax", "123", pepper=PEPPER)
    assert info.value.kind == "fax"


def test_error_shape() -> None:
    err = IdentifierError("card", "card number fails the Luhn check")
    assert isinstance(err, ValueError)
    assert (err.kind, err.reason) == ("card", "card number fails the Luhn check")
    assert str(err) == "card: card number fails the Luhn check"
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.kind, copy.reason, str(copy)) == (err.kind, err.reason, str(err))


@pytest.mark.parametrize("kind", EXPORT_KINDS)
@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_empty_values_are_errors(kind: str, raw: str) -> None:
    with pytest.raises(IdentifierError) as info:
        normalise(kind, raw, pepper=PEPPER)
    assert (info.value.kind, info.value.reason) == (kind, "value is empty")


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_overlong_values_are_errors(kind: str) -> None:
    with pytest.raises(IdentifierError) as info:
        normalise(kind, "1" * 5000, pepper=PEPPER)
    assert info.value.kind == kind


def test_non_string_is_an_error() -> None:
    with pytest.raises(IdentifierError) as info:
        normalise("phone", 77011234567, pepper=PEPPER)  # type: ignore[arg-type]
    assert info.value.reason == "value must be a string"


def test_normalised_record() -> None:
    n = normalise("phone", "8 701 123 45 67", pepper=PEPPER)
    assert n == Normalised("phone", "+77011234567", "+7 701 123 4567", Strength.PHONE)
    assert n.strength == "phone"  # str enum: stores as its value
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.key = "x"  # type: ignore[misc]
    assert not hasattr(n, "__dict__")  # slots


def test_validate_is_clean_without_raising() -> None:
    assert get_kind("card").validate("4042 4386 0987 8024") is True
    assert get_kind("card").validate("4042 4386 0987 8025") is False
    assert get_kind("phone").validate("") is False


# Representative valid values for every kind, used for the stored-width and idempotence checks.
SAMPLES: dict[str, list[str]] = {
    "phone": ["8 (747) 123-45-67", "+998 90 123 45 67", "+7 7172 12 34 56"],
    "card": ["4042 4386 0987 8024"],
    "iban": ["KZ86 125K ZT50 0410 0100", "DE89 3704 0044 0532 0130 00"],
    "account": ["40817-810-0-9999-1234567", "kz86125kzt5004100100"],
    "telegram": ["id5014785358", "https://t.me/SomeBuyer/"],
    "whatsapp": ["wa.me/77011234567", "+998 90 123 45 67"],
    "instagram": ["https://www.instagram.com/Some.Shop?igsh=x"],
    "social": ["https://www.vk.com/Some.Profile/", "m.facebook.com/profile.php?id=100012"],
    "ewallet": ["Kaspi: 8 701 123 45 67", "webmoney:z123456789012"],
    "ip": ["185.12.3.4", "2001:0db8::0001"],
    "crypto_wallet": [
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    ],
    "crypto_exchange_account": ["Binance: 123 456 789"],
    "imei": ["35-209900-176148-1"],
    "iin": ["850101400120"],
    "email": ["Ivan.Petrov@Gmail.com"],
    "url": ["https://www.shop-kaspi.kz/pay/", "https://пример.қаз/путь"],
}


def test_every_kind_has_samples() -> None:
    assert sorted(SAMPLES) == sorted(EXPORT_KINDS)


@pytest.mark.parametrize(("kind", "raw"), [(k, r) for k, rs in SAMPLES.items() for r in rs])
def test_normalise_is_idempotent(kind: str, raw: str) -> None:
    """The key of a key is the key; where the caption is not masked, so is the caption's."""
    first = normalise(kind, raw, pepper=PEPPER)
    assert first.kind == kind
    assert 0 < len(first.key) <= 200 and 0 < len(first.display) <= 200
    if kind != "card":  # a card's key is a hash and its caption is masked, by design
        assert normalise(kind, first.key, pepper=PEPPER).key == first.key
        assert normalise(kind, first.display, pepper=PEPPER).key == first.key
