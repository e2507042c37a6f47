"""The parse path's shortcuts agree with the slow definitions they stand in for.

The bulk import parses millions of lines, so a few rules have a fast form next to the
plain one: the hashed text of a case is written out by hand instead of json.dumps.
Each test here pits a fast form against its reference on awkward inputs.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from hq.case_record import hashed_text, hashed_text_reference

# Any text: quotes, backslashes, control characters, non-ASCII, surrogates.
texts = st.text(alphabet=st.characters(exclude_categories=()), max_size=30)
maybe_texts = st.none() | texts


@settings(max_examples=400, deadline=None)
@given(
    fields=st.tuples(texts, texts, maybe_texts, maybe_texts, st.dates(), maybe_texts, maybe_texts, texts,
                     st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=10**15)),
    victim=st.none() | st.tuples(maybe_texts, maybe_texts, maybe_texts),
    mentions=st.lists(st.tuples(st.sampled_from(["phone", "card", "iban"]), texts,
                                st.sampled_from(["suspect", "victim", "witness"]), maybe_texts), max_size=6),
)
def test_hashed_text_is_json_dumps(fields: tuple, victim: tuple | None, mentions: list) -> None:
    mentions = mentions + mentions[:1]  # a repeated row sorts the same way too
    assert hashed_text(*fields, victim, mentions) == hashed_text_reference(*fields, victim, mentions)


def test_hashed_text_of_a_plain_case() -> None:
    args = ("221561030000457", "KZ-61", None, "Turkistan city police", dt.date(2022, 6, 4), "190-2-4", None,
            "suspended", 16552000, 0, ("Д. С.", "+77021112233", None),
            [("phone", "+77471234567", "suspect", None), ("card", "h0a", "suspect", 'x "y"\n')])
    assert hashed_text(*args) == hashed_text_reference(*args)
