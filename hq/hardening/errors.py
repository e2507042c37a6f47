"""Database outages become clean, coded errors instead of 500s or masked internals.

`classify` recognises "the database is down / restarting", "read-only" and "full" from
SQLAlchemy, asyncpg, aiosqlite and OS errors. `ServiceErrors` rewrites such GraphQL
errors to SERVICE_UNAVAILABLE with `extensions.reason`, and notes storage failures so
/readyz reports them (see readiness.py). Errors graphql-core raises itself (syntax,
validation, variable coercion) get GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED or
BAD_USER_INPUT, so every error a client sees carries a code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

UNAVAILABLE, READ_ONLY, FULL = "database_unavailable", "database_read_only", "database_full"
MESSAGES = {
    UNAVAILABLE: "the database is unavailable; nothing was changed by the failed step, retry shortly",
    READ_ONLY: "the database is read-only; writes are refused until an operator fixes it",
    FULL: "the database disk is full; writes are refused until an operator frees space",
}
_READ_ONLY = ("readonly database", "read-only transaction", "read only transaction")
_FULL = ("database or disk is full", "no space left on device", "could not extend file", "disk full")
_DOWN_TYPES = ("ConnectionDoesNotExistError", "CannotConnectNowError", "AdminShutdownError",
               "ConnectionFailureError", "InterfaceError", "PostgresConnectionError",
               "ConnectionRejectionError", "TooManyConnectionsError", "CrashShutdownError",
               "DisconnectionError", "TimeoutError", "ServerClosedConnectionError",
               "InternalClientError")  # asyncpg: protocol state broken by a dropped connection


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]


def classify(exc: BaseException) -> str | None:
    """The kind of storage failure behind `exc`, or None if it is not one."""
    down = False
    for e in _chain(exc):
        text = str(e).lower()
        state = str(getattr(e, "sqlstate", "") or getattr(e, "pgcode", "") or "")
        if state == "25006" or any(t in text for t in _READ_ONLY):
            return READ_ONLY
        if state in ("53100", "53000") or any(t in text for t in _FULL):
            return FULL
        if (isinstance(e, (ConnectionError, OSError, TimeoutError)) or type(e).__name__ in _DOWN_TYPES
                or state.startswith(("08", "57P")) or "connection was closed" in text
                or "connection is closed" in text or "database is locked" in text
                or "unable to open database file" in text or "disk i/o error" in text):
            down = True
    return UNAVAILABLE if down else None


def note_storage_failure(services: Any, reason: str) -> None:
    if reason in (READ_ONLY, FULL):
        services.extras["storage_failure"] = (time.monotonic(), reason)


def _request_code(message: str) -> str:
    """A stable code for graphql-core's own syntax, validation and variable errors."""
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


class ServiceErrors(SchemaExtension):
    """Put after MaskErrors in the list: it rewrites outage errors before masking runs,
    and gives graphql-core's syntax and validation errors a stable code."""

    def on_operation(self) -> Iterator[None]:
        yield
        for err in self.execution_context.pre_execution_errors or []:  # validation: same objects as returned
            coercion = isinstance(err.original_error, (GraphQLError, TypeError, ValueError))
            if (err.original_error is None or coercion) and not (err.extensions or {}).get("code"):
                err.extensions = {**(err.extensions or {}), "code": _request_code(err.message)}
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        out: list[GraphQLError] = []
        for err in errors:
            original = err.original_error
            reason = classify(original) if original is not None and not isinstance(original, GraphQLError) else None
            if reason is None:
                if original is None and not (err.extensions or {}).get("code"):
                    err.extensions = {**(err.extensions or {}), "code": _request_code(err.message)}
                out.append(err)
                continue
            services = getattr(self.execution_context.context, "services", None)
            if services is not None:
                note_storage_failure(services, reason)
            out.append(GraphQLError(MESSAGES[reason], err.nodes, path=err.path,
                                    extensions={"code": "SERVICE_UNAVAILABLE", "reason": reason}))
        result.errors = out  # type: ignore[union-attr]
