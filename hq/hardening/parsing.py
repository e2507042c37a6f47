"""Malformed request bodies get a 400 with a reason, never a 500.

Strawberry's HTTP view assumes the JSON body is an object and that JSON decoding only
raises JSONDecodeError; a body like `"text"`, `7`, deeply nested arrays (RecursionError)
or a non-string operationName slipped through as 500s. This mixin for the GraphQL router
checks the shape first and turns every decoding failure into a clean 400.
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException  # what strawberry's HTTP view raises and turns into a response


class SafeParsing:
    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError, TypeError) as exc:  # too deep, bad UTF-8, …
            raise json.JSONDecodeError(f"unreadable JSON ({exc.__class__.__name__})", "", 0) from None

    async def parse_http_body(self, request: Any) -> Any:
        try:
            data = await super().parse_http_body(request)  # type: ignore[misc]
        except HTTPException:
            raise
        except (AttributeError, TypeError, ValueError, RecursionError, UnicodeError):
            raise HTTPException(400, "the request body must be a JSON object with a `query` string") from None
        items = data if isinstance(data, list) else [data]
        for item in items:
            name = getattr(item, "operation_name", None)
            if name is not None and not isinstance(name, str):
                raise HTTPException(400, "the GraphQL operation's `operationName` must be a string or null")
        return data
