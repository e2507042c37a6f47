"""Websocket limits: connection-init timeout, connections per principal, message size,
and the failed-login limit on connection_init."""

from __future__ import annotations

import asyncio
import json

import pytest
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hq.auth import create_principal
from hq.db import make_engine, make_sessionmaker
from tests.conftest import PEPPER, make_settings

PROTO = ["graphql-transport-ws"]


def _token(url: str, role: str = "hq_analyst") -> str:
    async def make() -> str:
        engine = make_engine(url)
        async with make_sessionmaker(engine).begin() as s:
            _, token = await create_principal(s, name="ws", role=role, pepper=PEPPER.encode())
        await engine.dispose()
        return token

    return asyncio.run(make())


def _client(url: str, **overrides: object) -> TestClient:
    from hq.app import create_app

    return TestClient(create_app(make_settings(url, ws_heartbeat_interval=0, **overrides)))


def _closed_with(ws, code: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_json()
    assert closed.value.code == code, closed.value


def _init(ws, token: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    ws.send_json({"type": "connection_init", "payload": {"token": token}})
    return ws.receive_json()


def test_connection_init_timeout(sqlite_url) -> None:
    with _client(sqlite_url, ws_init_timeout=0.3) as c, c.websocket_connect("/graphql", subprotocols=PROTO) as ws:
        _closed_with(ws, 4408)


def test_connections_per_principal_are_limited(sqlite_url) -> None:
    token, other = _token(sqlite_url), _token(sqlite_url)
    with _client(sqlite_url, ws_max_connections=2) as c:
        with c.websocket_connect("/graphql", subprotocols=PROTO) as a, \
             c.websocket_connect("/graphql", subprotocols=PROTO) as b:
            assert _init(a, token)["type"] == "connection_ack"
            assert _init(b, token)["type"] == "connection_ack"
            with c.websocket_connect("/graphql", subprotocols=PROTO) as third:
                third.send_json({"type": "connection_init", "payload": {"token": token}})
                _closed_with(third, 4029)
            with c.websocket_connect("/graphql", subprotocols=PROTO) as d:
                assert _init(d, other)["type"] == "connection_ack"  # another principal is not affected
        # the two closed connections gave their slots back
        with c.websocket_connect("/graphql", subprotocols=PROTO) as again:
            assert _init(again, token)["type"] == "connection_ack"


def test_message_size_is_limited(sqlite_url) -> None:
    token = _token(sqlite_url)
    with _client(sqlite_url, ws_max_message_bytes=4096) as c, \
         c.websocket_connect("/graphql", subprotocols=PROTO) as ws:
        assert _init(ws, token)["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ me { role } }"}})
        assert ws.receive_json()["payload"]["data"]["me"]["role"] == "hq_analyst"
        ws.send_text(json.dumps({"id": "2", "type": "subscribe",
                                 "payload": {"query": "{ me { role } }", "variables": {"pad": "x" * 10_000}}}))
        _closed_with(ws, 4413)


def test_failed_logins_over_websocket_count_too(sqlite_url) -> None:
    with _client(sqlite_url, auth_failure_limit=2) as c:
        for _ in range(2):
            with c.websocket_connect("/graphql", subprotocols=PROTO) as ws:
                ws.send_json({"type": "connection_init", "payload": {"token": "hq_guess_1234567890"}})
                _closed_with(ws, 4401)
        with c.websocket_connect("/graphql", subprotocols=PROTO) as ws:
            ws.send_json({"type": "connection_init", "payload": {"token": "hq_guess_1234567890"}})
            _closed_with(ws, 4429)
