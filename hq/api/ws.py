"""graphql-transport-ws with HQ's authentication: the token travels in connection_init.

A connection whose init payload carries no valid token is closed with 4401, before any
subscription can start, so nothing is streamed to an unknown client.

Heartbeat: once acknowledged, the server sends a protocol `ping` every
HQ_WS_HEARTBEAT_INTERVAL seconds and closes with 4408 a connection that has not sent
anything (a `pong` at least) within HQ_WS_HEARTBEAT_TIMEOUT of it, so dead clients free
their feed listeners; clients in turn treat a server silent for several intervals as dead.

Limits (hq/hardening/wslimits.py): connection_init within HQ_WS_INIT_TIMEOUT (else 4408),
at most HQ_WS_MAX_CONNECTIONS per principal (else 4029), messages up to
HQ_WS_MAX_MESSAGE_BYTES (else 4413), and bad tokens count towards the per-address
failed-authentication limit (4429 once exceeded).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from hq.auth import authenticate, bearer
from hq.hardening import wslimits
from hq.hardening.guard import auth_failures_exceeded, note_auth_failure


def token_from_params(params: Any) -> str | None:
    if not isinstance(params, dict):
        return None
    for key in ("token", "authToken"):
        if isinstance(params.get(key), str):
            return params[key]
    for key in ("Authorization", "authorization"):
        if isinstance(params.get(key), str):
            return bearer(params[key]) or params[key]
    headers = params.get("headers")
    if isinstance(headers, dict):
        return token_from_params(headers)
    return None


HEARTBEAT_CLOSE_CODE = 4408


class AuthenticatedTransportWS(BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
    last_heard: float = 0.0
    heartbeat_task: "asyncio.Task[None] | None" = None

    ws_slot: int | None = None  # principal id holding one of its HQ_WS_MAX_CONNECTIONS slots

    async def handle_message(self, message: Any) -> None:
        self.last_heard = time.monotonic()
        if wslimits.too_large(self.context.services, message):
            limit = self.context.services.settings.ws_max_message_bytes
            await self.websocket.close(code=wslimits.MESSAGE_TOO_LARGE, reason=f"message larger than {limit} bytes")
            return
        await super().handle_message(message)

    def start_heartbeat(self) -> None:
        settings = self.context.services.settings
        interval = float(getattr(settings, "ws_heartbeat_interval", 0) or 0)
        if interval > 0 and self.heartbeat_task is None:
            timeout = float(getattr(settings, "ws_heartbeat_timeout", 10.0))
            self.heartbeat_task = asyncio.create_task(self._heartbeat(interval, timeout))

    async def _heartbeat(self, interval: float, timeout: float) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(interval)
                sent = time.monotonic()
                await self.send_message({"type": "ping"})
                await asyncio.sleep(timeout)
                if self.last_heard < sent:
                    await self.websocket.close(code=HEARTBEAT_CLOSE_CODE, reason="heartbeat timeout: no pong")
                    return

    async def shutdown(self) -> None:
        if self.ws_slot is not None:
            wslimits.release(self.context.services, self.ws_slot)
            self.ws_slot = None
        if self.heartbeat_task is not None:
            self.heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.heartbeat_task
        await super().shutdown()

    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_init_received:
            await super().handle_connection_init(message)  # strawberry closes with 4429
            return
        ctx = self.context
        payload = message.get("payload") or {}
        token = token_from_params(payload)
        caller = None
        if token is not None:
            if await auth_failures_exceeded(ctx.services, ctx.client):
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                self.connection_init_received = True
                await self.websocket.close(code=4429, reason="too many failed authentications; retry later")
                return
            async with ctx.services.sessions() as s:
                caller = await authenticate(s, token, ctx.services.settings.pepper)
            if caller is None:
                await note_auth_failure(ctx.services, ctx.client)
        if caller is None:
            if self.connection_init_timeout_task:
                self.connection_init_timeout_task.cancel()
            self.connection_init_received = True
            await self.websocket.close(code=4401, reason="Unauthorized: missing or invalid token")
            return
        ctx.caller_or_none = caller
        if not wslimits.acquire(ctx.services, caller.principal_id):
            if self.connection_init_timeout_task:
                self.connection_init_timeout_task.cancel()
            self.connection_init_received = True
            await self.websocket.close(code=wslimits.TOO_MANY_CONNECTIONS,
                                       reason="too many websocket connections for this principal")
            return
        self.ws_slot = caller.principal_id
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.start_heartbeat()
