"""IMEIs, Kazakh IINs and crypto wallet addresses."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from hq.identifiers import IdentifierError, Strength, make_iin, normalise
from hq.identifiers.iin import check_digit

from tests.identifiers.support import PEPPER, error


# --- imei -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "352099001761481",
        "35-209900-176148-1",
        "35 209900 176148 1",
        "35/209900/176148/1",
        "352099001761481.",
    ],
)
def test_imei(raw: str) -> None:
    n = normalise("imei", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == ("352099001761481", "352099001761481", Strength.STRONG)


def test_imeisv_is_reduced_to_the_imei() -> None:
    # 14-digit TAC+serial, then software version 23 instead of a check digit.
    assert normalise("imei", "35209900176148 23", pepper=PEPPER).key == "352099001761481"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("352099001761482", "IMEI fails the Luhn check"),
        ("35209900176148", "IMEI must have 15 digits (or 16 for IMEISV), not 14"),
        ("3520990017614", "IMEI must have 15 digits (or 16 for IMEISV), not 13"),
        ("IMEI 352099001761481", "IMEI may contain only digits, spaces, dashes and slashes"),
    ],
)
def test_imei_invalid(raw: str, reason: str) -> None:
    assert error("imei", raw).reason == reason


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**14 - 1))
def test_any_luhn_imei_is_accepted(body: int) -> None:
    digits = f"{body:014d}"
    imei = digits + luhn.calc_check_digit(digits)
    spaced = f"{imei[:2]}-{imei[2:8]}-{imei[8:14]}-{imei[14]}"
    assert normalise("imei", spaced, pepper=PEPPER).key == imei


# --- iin ------------------------------------------------------------------------------


def _weighted(first11: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(first11, weights, strict=True)) % 11


W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
HEADS = [f"8501014{s:04d}" for s in range(10_000)]


def test_check_digit_first_round() -> None:
    assert check_digit("85010140012") == 0
    for first11 in HEADS[:500]:
        if _weighted(first11, W1) != 10:
            assert check_digit(first11) == _weighted(first11, W1)


def test_check_digit_second_round_and_impossible() -> None:
    second = [h for h in HEADS if _weighted(h, W1) == 10 and _weighted(h, W2) != 10]
    impossible = [h for h in HEADS if _weighted(h, W1) == 10 and _weighted(h, W2) == 10]
    assert second and impossible
    for first11 in second:
        assert check_digit(first11) == _weighted(first11, W2)
    for first11 in impossible:
        assert check_digit(first11) is None
        for last in "0123456789":  # no 12th digit makes it valid
            assert not normalise_ok("iin", first11 + last)


def normalise_ok(kind: str, raw: str) -> bool:
    try:
        normalise(kind, raw, pepper=PEPPER)
    except IdentifierError:
        return False
    return True


@pytest.mark.parametrize(
    "raw", ["850101400120", "850101 400120", "8501-0140-0120", "850101400120."]
)
def test_iin(raw: str) -> None:
    n = normalise("iin", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == ("850101400120", "850101400120", Strength.STRONG)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("850101400123", "IIN check digit is wrong"),
        ("85010140012", "IIN must be exactly 12 digits"),
        ("8501014001201", "IIN must be exactly 12 digits"),
        ("850101700120", "IIN digit 7 (century and sex) must be 0-6"),
        ("851301400120", "IIN does not start with a valid birth date (YYMMDD)"),
        ("850230400120", "IIN does not start with a valid birth date (YYMMDD)"),
        ("990101500120", "IIN does not start with a valid birth date (YYMMDD)"),  # born in 2099
    ],
)
def test_iin_invalid(raw: str, reason: str) -> None:
    assert error("iin", raw).reason == reason


def test_iin_leap_day() -> None:
    assert normalise("iin", make_iin(date(2000, 2, 29), "F", 1), pepper=PEPPER).key.startswith(
        "0002296"
    )
    # 29 Feb 1900 does not exist; with century digit 3 (1900s) it is rejected.
    bad = "0002293" + "0001"
    digit = check_digit(bad)
    if digit is not None:
        assert (
            error("iin", bad + str(digit)).reason
            == "IIN does not start with a valid birth date (YYMMDD)"
        )


@settings(max_examples=1000, deadline=None)
@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date.today()),
    st.sampled_from(["M", "F", "male", "female"]),
    st.integers(0, 9999),
)
def test_make_iin_is_valid(born: date, sex: str, serial: int) -> None:
    iin = make_iin(born, sex, serial)
    assert normalise("iin", iin, pepper=PEPPER).key == iin
    assert iin[:6] == born.strftime("%y%m%d")
    male = sex.upper().startswith("M")
    assert (
        iin[6]
        == {(19, True): "3", (19, False): "4", (20, True): "5", (20, False): "6"}[
            (born.year // 100, male)
        ]
    )


def test_make_iin_arguments() -> None:
    with pytest.raises(ValueError):
        make_iin(date(1990, 1, 1), "X", 1)
    with pytest.raises(ValueError):
        make_iin(date(1990, 1, 1), "M", 10_000)


# --- crypto_wallet --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
        (
            "bitcoin:3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy?amount=0.1",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        ),
        (
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        ),
        (
            "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        ),
        (
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
        ),
        (
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "0x52908400098527886e0f7030069857d2e4169ee7",
        ),
        (
            "0x52908400098527886e0f7030069857d2e4169ee7.",
            "0x52908400098527886e0f7030069857d2e4169ee7",
        ),
        ("TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL", "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL"),
        (
            "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1",
            "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1",
        ),  # Litecoin: generic
    ],
)
def test_crypto_wallets(raw: str, key: str) -> None:
    n = normalise("crypto_wallet", raw, pepper=PEPPER)
    assert (n.key, n.strength) == (key, Strength.STRONG)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "Bitcoin address checksum is wrong"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp", "Bitcoin address checksum is wrong"),
        (
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3298",
            "Bitcoin address checksum is wrong",
        ),
        ("bc1qb!", "Bitcoin bech32 address has the wrong length or characters"),
        ("TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeM", "TRON address checksum is wrong"),
        (
            "0x52908400098527886E0F7030069857D2E4169EE",
            "Ethereum/EVM address must be 0x and 40 hex digits",
        ),
        ("shortwallet", "wallet address must be 20-100 Latin letters and digits"),
    ],
)
def test_crypto_wallets_invalid(raw: str, reason: str) -> None:
    assert error("crypto_wallet", raw).reason == reason
