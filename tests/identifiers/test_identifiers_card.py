"""Cards: matched by an HMAC key, shown masked, never stored in full."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from hq.identifiers import IdentifierError, Strength, make_card, normalise

from tests.identifiers.support import PEPPER
PAN = "4042438609878024"


@pytest.mark.parametrize(
    "raw",
    [
        "4042 4386 0987 8024",
        "4042438609878024",
        "4042-4386-0987-8024",
        "4042.4386.0987.8024.",
        " 4042 4386 09878024 ",
    ],
)
def test_spellings_give_one_key(raw: str) -> None:
    n = normalise("card", raw, pepper=PEPPER)
    expected = "h" + hmac.new(PEPPER, PAN.encode(), hashlib.sha256).hexdigest()[:32]
    assert n.key == expected
    assert n.display == "4042 43** **** 8024"
    assert n.strength is Strength.STRONG


def test_full_number_is_not_in_anything_stored() -> None:
    n = normalise("card", PAN, pepper=PEPPER)
    for stored in (n.key, n.display):
        assert PAN not in stored.replace(" ", "")
        assert "860987" not in stored.replace(" ", "")  # the hidden middle digits
    assert len(n.key) == 33


def test_key_depends_on_pepper() -> None:
    a = normalise("card", PAN, pepper=b"pepper-a").key
    b = normalise("card", PAN, pepper=b"pepper-b").key
    assert a != b
    # And it is not a plain (unpeppered) hash of the PAN.
    assert a[1:] != hashlib.sha256(PAN.encode()).hexdigest()[:32]


def test_other_lengths_are_masked_too() -> None:
    amex = "378282246310005"  # 15 digits
    assert normalise("card", amex, pepper=PEPPER).display == "3782 82** ***0 005"
    nineteen = make_card_of_length(19)
    assert normalise("card", nineteen, pepper=PEPPER).display.count("*") == 9


def make_card_of_length(length: int) -> str:
    body = "6" * (length - 1)
    return body + luhn.calc_check_digit(body)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("4042 4386 0987 8025", "card number fails the Luhn check"),
        ("4042 4386 0987 80", "card number fails the Luhn check"),  # 14 digits is a valid length
        ("4042 4386 098", "card number must have 13 to 19 digits, not 11"),
        ("4042 4386 0987 8024 1234", "card number must have 13 to 19 digits, not 20"),
        ("4042 43** **** 8024", "card number may contain only digits, spaces, dashes and dots"),
        ("card 4042438609878024", "card number may contain only digits, spaces, dashes and dots"),
    ],
)
def test_invalid_cards(raw: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as info:
        normalise("card", raw, pepper=PEPPER)
    assert (info.value.kind, info.value.reason) == ("card", reason)


@settings(max_examples=500, deadline=None)
@given(
    st.randoms(use_true_random=False),
    st.lists(st.sampled_from(["", "", " ", "-", ".", "  "]), min_size=16, max_size=16),
)
def test_key_is_stable_under_random_spacing(rng: random.Random, seps: list[str]) -> None:
    pan = make_card("4", rng)
    spaced = "".join(d + s for d, s in zip(pan, seps, strict=True))
    assert normalise("card", spaced, pepper=PEPPER) == normalise("card", pan, pepper=PEPPER)


def test_make_card() -> None:
    rng = random.Random(42)
    cards = {make_card("440043", rng) for _ in range(200)}
    assert len(cards) == 200
    for pan in cards:
        assert len(pan) == 16 and pan.startswith("440043") and luhn.is_valid(pan)
        assert normalise("card", pan, pepper=PEPPER).display.startswith("4400 43")
    assert make_card("4", random.Random(1)) == make_card("4", random.Random(1))
    with pytest.raises(ValueError):
        make_card("44x", rng)
