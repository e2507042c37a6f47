"""IBANs, other bank accounts, e-wallets and crypto exchange accounts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schwifty import IBAN

from hq.identifiers import Strength, normalise

from tests.identifiers.support import PEPPER, error
KZ_IBAN = "KZ86125KZT5004100100"


@pytest.mark.parametrize(
    "raw",
    [
        "KZ86 125K ZT50 0410 0100",
        "KZ86125KZT5004100100",
        "kz86125kzt5004100100",
        "KZ86-125K-ZT50-0410-0100",
        "IBAN KZ86 125K ZT50 0410 0100.",
        "КZ86 125К ZT50 0410 0100",  # Cyrillic К typed on a Russian keyboard
    ],
)
def test_iban_spellings(raw: str) -> None:
    n = normalise("iban", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == (KZ_IBAN, "KZ86 125K ZT50 0410 0100", Strength.STRONG)


def test_foreign_iban() -> None:
    n = normalise("iban", "de89 3704 0044 0532 0130 00", pepper=PEPPER)
    assert (n.key, n.display) == ("DE89370400440532013000", "DE89 3704 0044 0532 0130 00")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("KZ87125KZT5004100100", "IBAN checksum is wrong"),
        ("KZ86125KZT500410010", "IBAN has the wrong length for country KZ"),
        ("XX86125KZT5004100100", "IBAN country code 'XX' is unknown"),
        ("KZ86!25KZT5004100100", "IBAN may contain only letters, digits, spaces and dashes"),
    ],
)
def test_invalid_ibans(raw: str, reason: str) -> None:
    assert error("iban", raw).reason == reason


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**13 - 1))
def test_generated_kz_ibans_roundtrip(account: int) -> None:
    iban = IBAN.generate("KZ", bank_code="125", account_code=f"{account:013d}")
    n = normalise("iban", iban.formatted.lower(), pepper=PEPPER)
    assert n.key == iban.compact and len(n.key) == 20
    assert normalise("iban", n.display, pepper=PEPPER).key == n.key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("40817-810-0-9999-1234567", "40817810099991234567"),
        ("40817 810 0 9999 1234567.", "40817810099991234567"),
        ("ab-123456", "AB123456"),
        ("KZ86 125K ZT50 0410 0100", KZ_IBAN),  # a valid IBAN: same key as the iban kind
        ("IBAN: KZ86 125K ZT50 0410 0100", KZ_IBAN),
        ("KZ87125KZT5004100100", "KZ87125KZT5004100100"),  # not an IBAN, still an account
    ],
)
def test_accounts(raw: str, key: str) -> None:
    n = normalise("account", raw, pepper=PEPPER)
    assert (n.key, n.strength) == (key, Strength.STRONG)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12345", "account number must have 6 to 34 letters and digits, not 5"),
        ("1" * 35, "account number must have 6 to 34 letters and digits, not 35"),
        ("ABCDEFGH", "account number has no digits"),
        ("счёт 1234567", "account number may contain only Latin letters, digits and separators"),
    ],
)
def test_invalid_accounts(raw: str, reason: str) -> None:
    assert error("account", raw).reason == reason


@pytest.mark.parametrize(
    ("raw", "key", "display"),
    [
        ("qiwi:+77011234567", "qiwi:+77011234567", "qiwi:+7 701 123 4567"),
        ("Kaspi: 8 701 123 45 67", "kaspi:+77011234567", "kaspi:+7 701 123 4567"),
        ("KASPI:87011234567.", "kaspi:+77011234567", "kaspi:+7 701 123 4567"),
        ("Kaspi Gold: 7011234567", "kaspi:+77011234567", "kaspi:+7 701 123 4567"),
        ("qiwi:79161234567", "qiwi:+79161234567", "qiwi:+7 916 123-45-67"),
        ("webmoney:Z123456789012", "webmoney:Z123456789012", "webmoney:Z123456789012"),
        ("WebMoney: z 1234-5678-9012", "webmoney:Z123456789012", "webmoney:Z123456789012"),
        ("Perfect Money: U1234567.", "perfectmoney:U1234567", "perfectmoney:U1234567"),
        ("yoomoney:4100 1178 1234 5678", "yoomoney:4100117812345678", "yoomoney:4100117812345678"),
        ("my-wallet_2:abc12345", "my-wallet_2:ABC12345", "my-wallet_2:ABC12345"),
    ],
)
def test_ewallets(raw: str, key: str, display: str) -> None:
    n = normalise("ewallet", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == (key, display, Strength.STRONG)
    assert normalise("ewallet", n.display, pepper=PEPPER).key == key


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("+77011234567", "expected provider:number, e.g. qiwi:+77011234567"),
        ("qiwi:", "expected provider:number, e.g. qiwi:+77011234567"),
        (":Z123456789012", "expected provider:number, e.g. qiwi:+77011234567"),
        (
            "web money!:Z123",
            "provider must be letters, digits, _ and - (e.g. kaspi, qiwi, webmoney)",
        ),
        ("qiwi:12", "wallet number must have at least 4 letters or digits"),
    ],
)
def test_invalid_ewallets(raw: str, reason: str) -> None:
    assert error("ewallet", raw).reason == reason


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("binance:123456789", "binance:123456789"),
        ("Binance : 123 456 789", "binance:123456789"),
        ("BYBIT:12345678.", "bybit:12345678"),
        ("okx:Ivan.Petrov@Mail.ru", "okx:ivan.petrov@mail.ru"),
        ("htx:AbCd1234", "htx:AbCd1234"),  # ids keep their case
    ],
)
def test_crypto_exchange_accounts(raw: str, key: str) -> None:
    n = normalise("crypto_exchange_account", raw, pepper=PEPPER)
    assert (n.key, n.strength) == (key, Strength.STRONG)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("123456789", "expected exchange:account, e.g. binance:123456789"),
        ("binance:", "expected exchange:account, e.g. binance:123456789"),
        ("bin@nce:123", "exchange name must be letters, digits, '.', '_' and '-'"),
    ],
)
def test_invalid_crypto_exchange_accounts(raw: str, reason: str) -> None:
    assert error("crypto_exchange_account", raw).reason == reason
