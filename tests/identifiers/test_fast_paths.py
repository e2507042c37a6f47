"""The parse path's shortcuts agree with the slow definitions they stand in for.

The bulk import parses millions of lines, so a few rules have a fast form next to the
plain one: the hashed text of a case is written out by hand instead of json.dumps, the
bulk path builds compact tuples straight from the validated fields, normalisation is
memoised, card numbers are Luhn-checked by table with a pre-keyed HMAC, Kazakh IBANs
are checked without building a schwifty object, and separators are deleted with
str.replace instead of str.translate. Each test here pits a fast form against its reference on awkward inputs.
"""

from __future__ import annotations

import datetime as dt
import hmac
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schwifty import IBAN
from stdnum import luhn

from hq.case_record import (
    CaseRecord,
    Compact,
    FieldError,
    hashed_text,
    hashed_text_reference,
    parse_case,
    parse_case_compact,
)
from hq.identifiers import KINDS, IdentifierError, normalise
from hq.identifiers._text import drop_chars
from hq.identifiers.card import card_key, luhn_valid
from hq.identifiers.iban import KZ_SHORTCUT, _check_digits, _kz_shortcut, _schwifty_accepts, is_iban
from regions import load_directory
from tests.identifiers.support import PEPPER

# Any text: quotes, backslashes, control characters, non-ASCII, surrogates.
texts = st.text(alphabet=st.characters(exclude_categories=()), max_size=30)
maybe_texts = st.none() | texts


@settings(max_examples=400, deadline=None)
@given(
    fields=st.tuples(texts, texts, maybe_texts, maybe_texts, st.dates(), maybe_texts, maybe_texts, texts,
                     st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=10**15)),
    victim=st.none() | st.tuples(maybe_texts, maybe_texts, maybe_texts),
    mentions=st.lists(st.tuples(st.sampled_from(["phone", "card", "iban"]), texts,
                                st.sampled_from(["suspect", "victim", "witness"]), texts), max_size=6),
)
def test_hashed_text_is_json_dumps(fields: tuple, victim: tuple | None, mentions: list) -> None:
    mentions = mentions + mentions[:1]  # a repeated row sorts the same way too
    assert hashed_text(*fields, victim, mentions) == hashed_text_reference(*fields, victim, mentions)


def test_hashed_text_of_a_plain_case() -> None:
    args = ("221561030000457", "KZ-61", None, "Turkistan city police", dt.date(2022, 6, 4), "190-2-4", None,
            "suspended", 16552000, 0, ("Д. С.", "+77021112233", None),
            [("phone", "+77471234567", "suspect", ""), ("card", "h0a", "suspect", 'x "y"\n')])
    assert hashed_text(*args) == hashed_text_reference(*args)


# --- one set of rules, two outputs -------------------------------------------------------

def _outcome(fn, *args, **kwargs):  # noqa: ANN001, ANN202
    try:
        return fn(*args, **kwargs)
    except FieldError as exc:
        return ("FieldError", exc.field, exc.reason)


SAMPLE = {
    "registration_number": "221561030000457", "region": "KZ-61", "unit": "Turkistan city police",
    "registered_at": "2022-06-04", "article": "190-2-4", "scheme": "fake_bank_call", "status": "suspended",
    "damage_kzt": 16552000, "recovered_kzt": 0,
    "victim": {"name": "D. S.", "phone": "+7 702 111 22 33", "iin": "8501 0140 0123"},
    "identifiers": [
        {"kind": "phone", "value": "8 (747) 123-45-67", "role": "suspect", "note": "called the victim"},
        {"kind": "card", "value": "4042 4386 0987 8024", "note": " received 2,500,000 "},
        {"kind": "phone", "value": "+77471234567", "note": "again"},
        {"kind": "telegram", "value": "id5014785358"},
        {"kind": "iban", "value": "KZ86125KZT5004100100"},
        {"kind": "ip", "value": "::ffff:10.0.0.1"}],
}
VARIANTS = [
    SAMPLE,
    {**SAMPLE, "victim": None, "identifiers": None, "unit": None, "scheme": None, "status": None},
    {**SAMPLE, "registration_number": "  22-15 "},
    {**SAMPLE, "registration_number": 221561030000457},
    {**SAMPLE, "region": "yuz"},
    {**SAMPLE, "region": "KZ-99"},
    {**SAMPLE, "unit": "x" * 201},
    {**SAMPLE, "registered_at": "2999-01-01"},
    {**SAMPLE, "damage_kzt": 2.0, "recovered_kzt": 2.5},
    {**SAMPLE, "damage_kzt": True},
    {**SAMPLE, "damage_kzt": -1},
    {**SAMPLE, "victim": {"iin": "85010140012"}},
    {**SAMPLE, "victim": {"phone": "12"}},
    {**SAMPLE, "identifiers": [{"kind": "card", "value": "4042 4386 0987 8025"}]},
    {**SAMPLE, "identifiers": [{"kind": "fax", "value": "1"}]},
    {**SAMPLE, "identifiers": [{"kind": "phone", "value": 87011234567, "role": "witness"}]},
    {**SAMPLE, "identifiers": [{"kind": "phone", "value": "87011234567", "role": "boss"}]},
    {**SAMPLE, "identifiers": [{"kind": "phone", "value": "87011234567", "note": 5}]},
    {**SAMPLE, "identifiers": ["87011234567"]},
    {**SAMPLE, "extra": 1},
    [SAMPLE],
]


def compact_record(r: CaseRecord) -> Compact:
    """A CaseRecord in the bulk path's compact form, field by field: the reference."""
    victim = None if r.victim is None else (r.victim.name, r.victim.phone, r.victim.iin)
    mentions = tuple((m.identifier.kind, m.identifier.key, m.identifier.display, m.identifier.strength.value,
                      m.role, m.note) for m in r.mentions)
    return (r.registration_number, r.region_code, r.unit_id, r.unit_name, r.registered_at, r.article, r.scheme,
            r.status, r.damage_kzt, r.recovered_kzt, victim, mentions, r.content_hash())


@pytest.mark.parametrize("obj", VARIANTS)
def test_compact_parse_is_the_compacted_record(obj: object) -> None:
    directory = load_directory()
    record = _outcome(parse_case, obj, directory, pepper=PEPPER)
    expected = record if isinstance(record, tuple) else compact_record(record)
    assert _outcome(parse_case_compact, obj, directory, pepper=PEPPER) == expected


# --- memoised normalisation ---------------------------------------------------------------

def _kind_outcome(kind: str, raw: object, pepper: bytes) -> object:
    try:
        return KINDS[kind].normalise(raw, pepper=pepper)  # type: ignore[arg-type]
    except IdentifierError as exc:
        return ("IdentifierError", exc.kind, exc.reason)


def _memo_outcome(kind: str, raw: object, pepper: bytes) -> object:
    try:
        return normalise(kind, raw, pepper=pepper)  # type: ignore[arg-type]
    except IdentifierError as exc:
        return ("IdentifierError", exc.kind, exc.reason)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_memoised_normalise_is_the_kind_itself(kind: str) -> None:
    values = ["4042 4386 0987 8024", "8 701 123 45 67", "KZ86125KZT5004100100", "10.0.0.1", "", "  ", "x",
              "@SomeBuyer", "qiwi:+77011234567", "850101300120", "4042 4386 0987 8025", 12345]
    for pepper in (PEPPER, b"another pepper", PEPPER):  # card keys must follow the pepper
        for raw in values + values:  # the second round is answered by the memo
            assert _memo_outcome(kind, raw, pepper) == _kind_outcome(kind, raw, pepper)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fields_is_clean_key_caption_strength(kind: str) -> None:
    # fields() skips calling the key/caption defaults; the long way round must agree.
    impl = KINDS[kind]
    for raw in ["4042 4386 0987 8024", "8 701 123 45 67", "KZ86125KZT5004100100", "10.0.0.1", "@SomeBuyer",
                "qiwi:+77011234567", "850101300120", "https://Shop.kz/Path/", "a@b.kz", "binance:123456"]:
        try:
            clean = impl.clean(raw)
        except IdentifierError:
            continue
        expected = (impl.name, impl.key(clean, PEPPER), impl.caption(clean), impl.strength(clean).value)
        assert impl.fields(raw, PEPPER) == expected


def test_what_is_never_memoised() -> None:
    assert not KINDS["iin"].memoise  # valid birth dates depend on today
    assert not KINDS["card"].memoise  # full card numbers must not linger in a memo


def test_memoised_error_is_raised_afresh() -> None:
    assert KINDS["iban"].memoise
    errors = []
    for _ in range(2):
        with pytest.raises(IdentifierError) as info:
            normalise("iban", "KZ00125KZT5004100100", pepper=PEPPER)
        errors.append(info.value)
    assert errors[0] is not errors[1]
    assert (errors[1].kind, errors[1].reason, errors[1].args) == ("iban", "IBAN checksum is wrong",
                                                                  ("iban", "IBAN checksum is wrong"))


@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_victim_iin_whitespace_rule(text: str) -> None:
    # case_record drops whitespace from a victim IIN with str.split(): the same characters
    # as str.isspace(), which the rule was first written with.
    assert "".join(text.split()) == "".join(ch for ch in text if not ch.isspace())


# --- cards ----------------------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=25))
def test_luhn_table_is_stdnum(digits: str) -> None:
    assert luhn_valid(digits) == (luhn.checksum(digits) == 0)


def test_luhn_table_on_every_single_digit_typo() -> None:
    pan = "4042438609878024"
    for i in range(len(pan)):
        for d in "0123456789":
            typo = pan[:i] + d + pan[i + 1:]
            assert luhn_valid(typo) == (luhn.checksum(typo) == 0)


@settings(max_examples=200, deadline=None)
@given(pan=st.text(alphabet="0123456789", min_size=13, max_size=19),
       pepper=st.binary(min_size=0, max_size=100))
def test_card_key_is_the_one_shot_hmac(pan: str, pepper: bytes) -> None:
    expected = "h" + hmac.digest(pepper, pan.encode("ascii"), "sha256").hex()[:32]
    assert card_key(pan, pepper) == expected
    assert card_key(pan, bytearray(pepper)) == expected


# --- IBANs ----------------------------------------------------------------------------------

def test_kz_shortcut_is_on() -> None:
    assert KZ_SHORTCUT  # the import-time probe found it agreeing with schwifty


@settings(max_examples=500, deadline=None)
@given(bban=st.text(alphabet=string.digits + string.ascii_uppercase, min_size=14, max_size=18),
       digits_first=st.booleans(), right_check=st.booleans(), check=st.integers(min_value=0, max_value=99))
def test_kz_shortcut_agrees_with_schwifty(bban: str, digits_first: bool, right_check: bool, check: int) -> None:
    if digits_first:
        bban = "".join(str(ord(c) % 10) for c in bban[:3]) + bban[3:]
    cd = _check_digits(bban, "KZ") if right_check else f"{check:02d}"
    compact = "KZ" + cd + bban
    if _kz_shortcut(compact):
        assert _schwifty_accepts(compact)
        assert IBAN(compact).compact == compact
    if len(compact) == 20 and digits_first:  # KZ's own shape: the shortcut decides alone
        assert _kz_shortcut(compact) == _schwifty_accepts(compact)


@pytest.mark.parametrize("kind", ["iban", "account"])
@settings(max_examples=100, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_iban_kinds_agree_with_schwifty_on_kazakh_ibans(kind: str, seed: int) -> None:
    iban = str(IBAN.random("KZ", random=random.Random(seed), use_registry=False))
    spaced = " ".join(iban[i:i + 4] for i in range(0, 20, 4))
    assert normalise(kind, spaced, pepper=PEPPER).key == iban
    typo = iban[:5] + ("0" if iban[5] != "0" else "1") + iban[6:]
    assert is_iban(typo) == _schwifty_accepts(typo)


def test_no_digit_can_start_an_iban() -> None:
    # is_iban answers False for a value starting with a digit without asking schwifty,
    # whose first check wants [A-Z]{2} after stripping whitespace and upper-casing.
    for code in range(0x110000):
        ch = chr(code)
        if ch.isdigit():
            assert ch.upper() == ch and not ch.isspace() and not ("A" <= ch <= "Z")
    for compact in ["40817000000000012345", "4", "٣KZ86125KZT5004100100", "12KZ86125KZT5004100100"]:
        assert is_iban(compact) == _schwifty_accepts(compact) is False


# --- separators -----------------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(" \t\u00a0-().\\/0123456789AКz_") | st.characters(), max_size=40),
       chars=st.sampled_from([" \t\u00a0-.", " \t\u00a0-/.", " \t\u00a0-()."]))
def test_drop_chars_is_translate(text: str, chars: str) -> None:
    assert drop_chars(text, chars) == text.translate(str.maketrans("", "", chars))
