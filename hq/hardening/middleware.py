"""ASGI guard in front of everything: a request id on every request, and a body size cap.

- X-Request-ID: a caller's id (1-64 of [A-Za-z0-9._-]) is kept, otherwise one is made;
  it is put in scope["state"]["request_id"] (the GraphQL context and audit use it) and
  echoed on the response.
- Bodies larger than HQ_MAX_BODY_BYTES get 413: at once from Content-Length, without
  reading the body, or as soon as a chunked body passes the limit.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_RID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class BodyTooLarge(Exception):
    pass


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


async def _refuse(send: Send, status: int, code: str, message: str, rid: str, **extra: Any) -> None:
    body = json.dumps({"detail": message, "code": code, **extra}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", rid.encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", b"").decode("latin-1")
        rid = given if _RID.match(given) else uuid.uuid4().hex
        state = scope.get("state")
        if not isinstance(state, dict):
            state = scope["state"] = {}
        state["request_id"] = rid
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await _refuse(send, 400, "BAD_REQUEST", "Content-Length is not a number", rid)
                return
            if int(length) > self.max_body:
                await _refuse(send, 413, "PAYLOAD_TOO_LARGE",
                              f"request body of {int(length)} bytes exceeds the limit of {self.max_body}",
                              rid, max=self.max_body)
                return
        started = False
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tagged_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send, 413, "PAYLOAD_TOO_LARGE",
                              f"request body exceeds the limit of {self.max_body} bytes", rid, max=self.max_body)
