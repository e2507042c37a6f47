"""GraphQL errors with a stable `extensions.code` and the field at fault.

Clients branch on the code, never on the message text. Anything unexpected is logged
with its stack trace on the server and reaches the client only as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class ApiError(GraphQLError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        extensions: dict[str, Any] = {"code": self.code}
        if field is not None:
            extensions["field"] = field
        extensions.update(extra)
        super().__init__(message, extensions=extensions)


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class ForbiddenError(ApiError):
    code = "FORBIDDEN"


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class NotFound(ApiError):
    code = "NOT_FOUND"


class Conflict(ApiError):
    code = "CONFLICT"
