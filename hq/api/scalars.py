"""Custom scalars. GraphQL's Int is 32-bit; tenge totals are not."""

from __future__ import annotations

from typing import NewType

import strawberry

from hq.api.errors import BadUserInput


def _parse_bigint(value: object) -> int:
    if isinstance(value, bool):
        raise BadUserInput("expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise BadUserInput("expected a whole number")


BigInt = strawberry.scalar(
    NewType("BigInt", int),
    serialize=int,
    parse_value=_parse_bigint,
    description="A whole number beyond 32 bits (amounts in tenge).",
)
