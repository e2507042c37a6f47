"""Who may make this HTTP request: token check, failed-login limit, per-principal limit.

Order matters: an address that has failed authentication HQ_AUTH_FAILURE_LIMIT times in
the window is refused (429) before its token is even looked up, so guessing is slow; a
valid caller then spends one unit of its per-principal budget (HQ_RATE_LIMIT_REQUESTS).
A database outage while checking the token is a 503 with Retry-After, never a 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from hq.auth import Caller, authenticate
from hq.hardening.errors import classify
from hq.hardening.ratelimit import limiter_for, retry_after

UNAUTHORISED = "missing, invalid, expired or revoked API token; send Authorization: Bearer <token>"


async def auth_failures_exceeded(services: Any, client: str) -> float:
    """Seconds to wait if `client` is over its failed-authentication budget, else 0."""
    s = services.settings
    if not s.auth_failure_limit:
        return 0.0
    n, reset = await limiter_for(services).count(f"authfail:{client}", s.auth_failure_window)
    return max(reset, 1.0) if n >= s.auth_failure_limit else 0.0


async def note_auth_failure(services: Any, client: str) -> None:
    s = services.settings
    if s.auth_failure_limit:
        await limiter_for(services).hit(f"authfail:{client}", s.auth_failure_window)


async def principal_over_limit(services: Any, caller: Caller) -> float:
    s = services.settings
    if not s.rate_limit_requests:
        return 0.0
    n, reset = await limiter_for(services).hit(f"principal:{caller.principal_id}", s.rate_limit_window)
    return max(reset, 1.0) if n > s.rate_limit_requests else 0.0


async def lookup(services: Any, token: str) -> Caller | None:
    try:
        async with services.sessions() as session:
            return await authenticate(session, token, services.settings.pepper)
    except Exception as exc:
        if classify(exc) is None:
            raise
        raise HTTPException(503, "the database is unavailable; retry shortly",
                            headers={"Retry-After": "2"}) from None


async def authenticate_request(services: Any, token: str | None, client: str) -> Caller:
    caller = None
    if token:
        wait = await auth_failures_exceeded(services, client)
        if wait:
            raise HTTPException(429, "too many failed authentications from this address; retry later",
                                headers={"Retry-After": retry_after(wait)})
        caller = await lookup(services, token)
        if caller is None:
            await note_auth_failure(services, client)
    if caller is None:
        raise HTTPException(401, UNAUTHORISED, headers={"WWW-Authenticate": "Bearer"})
    wait = await principal_over_limit(services, caller)
    if wait:
        s = services.settings
        raise HTTPException(429, f"rate limit exceeded: at most {s.rate_limit_requests} requests per "
                                 f"{s.rate_limit_window:g} s for one principal",
                            headers={"Retry-After": retry_after(wait)})
    return caller
