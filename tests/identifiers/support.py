"""What every identifier test file needs: a pepper and a helper that expects an error."""

from __future__ import annotations

import pytest

from hq.identifiers import IdentifierError, normalise

PEPPER = b"test-pepper"


def error(kind: str, raw: str) -> IdentifierError:
    with pytest.raises(IdentifierError) as info:
        normalise(kind, raw, pepper=PEPPER)
    assert info.value.kind == kind
    return info.value
