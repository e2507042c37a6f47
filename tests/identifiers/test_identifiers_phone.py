"""Phone and WhatsApp numbers: Kazakh spellings, foreign numbers, and the fast path."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hq.identifiers import IdentifierError, Strength, normalise
from hq.identifiers.phone import FAST_PREFIXES, clean_phone, parse_fast, parse_slow, phone_caption

from tests.identifiers.support import PEPPER


@pytest.mark.parametrize(
    "raw",
    [
        "8 701 123 45 67",
        "+7 (701) 123-45-67",
        "7701 123 4567",
        "77011234567",
        "+77011234567",
        "701 123 45 67",
        "7011234567",
        "8(701)1234567.",
        "8-701-123-45-67...",
        " 8 (701) 123 45 67 ",
        "+7 701 123 4567",
        "8.701.123.45.67",
        "тел. 8 701 123 45 67",  # phonenumbers path: a label in front
    ],
)
def test_kazakh_mobile_spellings_give_one_key(raw: str) -> None:
    n = normalise("phone", raw, pepper=PEPPER)
    assert n.key == "+77011234567"
    assert n.display == "+7 701 123 4567"
    assert n.strength is Strength.PHONE


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("+998 90 123 45 67", "+998901234567"),  # Uzbekistan
        ("00998 90 123 45 67", "+998901234567"),  # 00 international prefix
        ("+7 916 123-45-67", "+79161234567"),  # Russia shares +7
        ("8 916 123 45 67", "+79161234567"),
        ("7 916 123 45 67", "+79161234567"),  # Russian habit: 7 without +
        ("+7 7172 12 34 56", "+77172123456"),  # Astana landline: phonenumbers path
        ("8 (727) 250 12 34", "+77272501234"),  # Almaty landline
        ("+44 20 7946 0958", "+442079460958"),
        ("+86 138 0013 8000", "+8613800138000"),
    ],
)
def test_landlines_and_foreign_numbers(raw: str, key: str) -> None:
    assert normalise("phone", raw, pepper=PEPPER).key == key


def test_foreign_caption_is_international_format() -> None:
    assert normalise("phone", "+998901234567", pepper=PEPPER).display == "+998 90 123 45 67"
    assert normalise("phone", "+79161234567", pepper=PEPPER).display == "+7 916 123-45-67"


@pytest.mark.parametrize(
    "raw",
    [
        "12345",
        "8 701 123 45",  # too short
        "8 701 123 45 678 9",  # too long
        "+7 799 123 45 67",  # no such Kazakh range
        "+7 600 123 45 67",
        "not a phone",
        "@SomeBuyer",
        "+999 123 456 789",  # no such country code
    ],
)
def test_invalid_numbers(raw: str) -> None:
    with pytest.raises(IdentifierError) as info:
        normalise("phone", raw, pepper=PEPPER)
    assert info.value.kind == "phone"
    assert info.value.reason == "not a valid Kazakh or international phone number"


def test_fast_prefixes_are_the_kazakh_mobile_ranges() -> None:
    assert {
        "700",
        "701",
        "702",
        "705",
        "707",
        "747",
        "771",
        "775",
        "776",
        "777",
        "778",
    } <= FAST_PREFIXES
    assert all(p.startswith("7") and len(p) == 3 for p in FAST_PREFIXES)
    assert "717" not in FAST_PREFIXES  # Astana landlines need 5 digits to decide
    assert "727" not in FAST_PREFIXES


def test_fast_path_is_taken_for_common_spellings() -> None:
    assert parse_fast("8 701 123 45 67") == "+77011234567"
    assert parse_fast("+7 (747) 123-45-67.") == "+77471234567"
    assert parse_fast("+7 7172 12 34 56") is None  # landline: left to phonenumbers
    assert parse_fast("+7 916 123 45 67") is None
    assert parse_fast("+8 701 123 45 67") is None  # +870 is Inmarsat, not KZ


# Hypothesis: any 7xx national number in any of the usual spellings.
_separator = st.sampled_from(["", "", "", " ", "-", ".", "(", ")", " - "])
_trunk = st.sampled_from(["", "8", "7", "+7", "+7 ", "8 ", "+ 7", "8(", "+7("])
_national = st.builds(
    lambda head, tail: f"{head}{tail:07d}",
    st.one_of(st.sampled_from(sorted(FAST_PREFIXES)), st.integers(700, 799).map(str)),
    st.integers(0, 9_999_999),
)


@st.composite
def kazakh_spellings(draw: st.DrawFn) -> tuple[str, str]:
    national = draw(_national)
    seps = draw(st.lists(_separator, min_size=len(national), max_size=len(national)))
    body = "".join(d + s for d, s in zip(national, seps, strict=True))
    trailer = draw(st.sampled_from(["", ".", "..", " "]))
    return national, draw(_trunk) + body + trailer


@settings(max_examples=4000, deadline=None)
@given(kazakh_spellings())
def test_fast_path_agrees_with_phonenumbers(sample: tuple[str, str]) -> None:
    national, raw = sample
    fast = parse_fast(raw)
    slow = parse_slow(raw)
    if fast is not None:
        assert fast == slow == "+7" + national
    if national[:3] in FAST_PREFIXES and slow is not None:
        # Whenever phonenumbers reads it as this number, the fast path did too.
        assert fast == slow
    assert clean_phone(raw) == slow


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(sorted(FAST_PREFIXES)), st.integers(0, 9_999_999))
def test_fast_caption_matches_phonenumbers(prefix: str, tail: int) -> None:
    e164 = f"+7{prefix}{tail:07d}"
    expected = phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    assert phone_caption(e164) == expected


def test_every_fast_prefix_number_is_valid_for_phonenumbers() -> None:
    rng = random.Random(1)
    for prefix in FAST_PREFIXES:
        for _ in range(200):
            e164 = f"+7{prefix}{rng.randrange(10_000_000):07d}"
            number = phonenumbers.parse(e164)
            assert phonenumbers.is_valid_number(number), e164
            assert phonenumbers.region_code_for_number(number) == "KZ"


@pytest.mark.parametrize(
    "raw",
    [
        "8 701 123 45 67",
        "+77011234567",
        "https://wa.me/77011234567",
        "wa.me/77011234567/",
        "http://api.whatsapp.com/send?phone=77011234567&text=hello",
        "https://api.whatsapp.com/send/?text=hi&phone=%2B77011234567".replace("%2B", "+"),
    ],
)
def test_whatsapp_spellings(raw: str) -> None:
    n = normalise("whatsapp", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == ("+77011234567", "+7 701 123 4567", Strength.PHONE)


def test_whatsapp_foreign_link_and_invalid() -> None:
    assert normalise("whatsapp", "wa.me/998901234567", pepper=PEPPER).key == "+998901234567"
    with pytest.raises(IdentifierError) as info:
        normalise("whatsapp", "wa.me/12", pepper=PEPPER)
    assert info.value.kind == "whatsapp"
    assert info.value.reason == "not a valid Kazakh or international phone number"
