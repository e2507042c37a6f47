"""graphql-transport-ws with HQ's authentication: the token travels in connection_init.

A connection whose init payload carries no valid token is closed with 4401, before any
subscription can start, so nothing is streamed to an unknown client.
"""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from hq.auth import authenticate, bearer


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


class AuthenticatedTransportWS(BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_init_received:
            await super().handle_connection_init(message)  # strawberry closes with 4429
            return
        ctx = self.context
        payload = message.get("payload") or {}
        token = token_from_params(payload)
        caller = None
        if token is not None:
            async with ctx.services.sessions() as s:
                caller = await authenticate(s, token, ctx.services.settings.pepper)
        if caller is None:
            if self.connection_init_timeout_task:
                self.connection_init_timeout_task.cancel()
            self.connection_init_received = True
            await self.websocket.close(code=4401, reason="Unauthorized: missing or invalid token")
            return
        ctx.caller_or_none = caller
        await super().handle_connection_init(message)
