"""Real servers for tasking tests: uvicorn on free 127.0.0.1 ports, real websockets, real Redis.

`servers` starts the real app in-process (uvicorn.Server in the test's event loop) so the
test can reach its services (the clock, the escalator); `FeedClient` speaks
graphql-transport-ws with the `websockets` library, exactly like `hq agent`.
Nothing here mocks the database or the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from hq.db import make_engine, make_sessionmaker
from hq.settings import Settings
from tests.conftest import REDIS_URL, Tokens, make_settings, make_tokens, need_redis

REPO = Path(__file__).resolve().parents[2]
FEED = """subscription($unit: String!, $since: Int!) { taskFeed(unit: $unit, since: $since) {
  id kind unit change reason task { id state targetUnit senderUnit kind text batchId } } }"""
ISSUE = """mutation($input: IssueTaskInput!) { issueTask(input: $input) { id state targetUnit batchId } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll (no fixed sleeps): return the predicate's truthy value or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


class LiveServer:
    """The real app served by uvicorn on a free port, inside the test's event loop."""

    def __init__(self, settings: Settings) -> None:
        from hq.app import create_app

        self.settings = settings
        self.port = free_port()
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, ws="websockets",
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.task: asyncio.Task[None] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def services(self) -> Any:
        return self.app.state.services

    async def start(self) -> "LiveServer":
        self.task = asyncio.create_task(self.server.serve())
        await wait_until(lambda: self.server.started or self.task.done(), 20, "uvicorn to start")  # type: ignore[union-attr]
        if self.task.done():
            self.task.result()
        return self

    async def stop(self) -> None:
        if self.task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(self.task, 15)
        self.task = None

    async def gql(self, query: str, token: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.http, timeout=30) as c:
            r = await c.post("/graphql", json={"query": query, "variables": variables or {}},
                             headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()

    async def ok(self, query: str, token: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.gql(query, token, variables)
        assert "errors" not in body, body
        return body["data"]

    async def issue(self, token: str, targets: list[str], text: str = "find the card holder",
                    case: str = "221561030000457", **extra: Any) -> list[dict[str, Any]]:
        data = await self.ok(ISSUE, token, {"input": {"kind": extra.pop("kind", "find_and_bring"),
                                                      "targetUnits": targets, "text": text,
                                                      "caseRegistrationNumber": case, **extra}})
        return data["issueTask"]


class FeedClient:
    """A graphql-transport-ws client following one unit's feed; events land in `events`."""

    def __init__(self, url: str, token: str, *, answer_pings: bool = True) -> None:
        self.url = url
        self.token = token
        self.answer_pings = answer_pings
        self.ws: Any = None
        self.events: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self.results: dict[str, Any] = {}
        self.close_code: int | None = None
        self.pings = 0
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> "FeedClient":
        self.ws = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {"token": self.token}}))
        ack = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        self._reader = asyncio.create_task(self._read())
        return self

    async def subscribe(self, unit: str, since: int = 0, op: str = "feed") -> None:
        await self.ws.send(json.dumps({"id": op, "type": "subscribe",
                                       "payload": {"query": FEED, "variables": {"unit": unit, "since": since}}}))

    async def mutate(self, op: str, query: str, variables: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"id": op, "type": "subscribe",
                                       "payload": {"query": query, "variables": variables}}))

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "ping":
                    self.pings += 1
                    if self.answer_pings:
                        await self.ws.send(json.dumps({"type": "pong"}))
                elif kind == "next" and msg.get("id") == "feed":
                    payload = msg["payload"]
                    if payload.get("errors"):
                        self.errors.append(payload["errors"])
                    else:
                        self.events.append(payload["data"]["taskFeed"])
                elif kind == "next":
                    self.results[msg["id"]] = msg["payload"]
                elif kind == "error":
                    self.errors.append(msg.get("payload"))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code if self.ws is not None else None

    @property
    def ids(self) -> list[int]:
        return [e["id"] for e in self.events]

    @property
    def task_ids(self) -> list[int]:
        return [e["task"]["id"] for e in self.events]

    async def wait_events(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        await wait_until(lambda: len(self.events) >= n, timeout, f"{n} events (have {len(self.events)})")
        return self.events

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5)


async def seed(db_url: str) -> Tokens:
    """Tokens for every role, and the case the tasks refer to."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    tokens = await make_tokens(sessions)
    from hq.importer import import_lines
    from regions import load_directory
    from tests.conftest import PEPPER
    from tests.helpers import case, jsonl

    lines = jsonl(case("221561030000457", "KZ-61", ("card", "4042 4386 0987 8024")),
                  case("221561030000458", "KZ-23", ("phone", "+7 701 123 45 67"))).splitlines()
    await import_lines(sessions, lines, "seed", load_directory(), PEPPER.encode())
    await engine.dispose()
    return tokens


@pytest.fixture
def redis_prefix() -> str:
    return f"hqtest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def servers() -> AsyncIterator[Callable[..., Awaitable[LiveServer]]]:
    """Factory: `await servers(db_url, redis_url=..., **settings)` starts one more app."""
    started: list[LiveServer] = []

    async def start(db_url: str, **extra: Any) -> LiveServer:
        extra.setdefault("ws_heartbeat_interval", 0)
        server = LiveServer(make_settings(db_url, **extra))
        started.append(server)
        return await server.start()

    yield start
    for s in reversed(started):
        await s.stop()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., Awaitable[FeedClient]]]:
    opened: list[FeedClient] = []

    async def connect(url: str, token: str, **kw: Any) -> FeedClient:
        c = FeedClient(url, token, **kw)
        opened.append(c)
        return await c.connect()

    yield connect
    for c in opened:
        await c.close()


@pytest.fixture
def shared_redis() -> str:
    return need_redis()


class RedisProcess:
    """A private redis-server on a free port, so stopping it disturbs no other test."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def private_redis() -> Any:
    import shutil

    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    need_redis()  # same rules as the shared one: required under HQ_REQUIRE_SERVICES=1
    r = RedisProcess()
    r.start()
    yield r
    r.stop()


def subprocess_env(db_url: str, **extra: str) -> dict[str, str]:
    from tests.conftest import PEPPER

    env = {**os.environ, "HQ_DATABASE_URL": db_url, "HQ_TOKEN_PEPPER": PEPPER, "HQ_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(REPO)}
    env.pop("HQ_REDIS_URL", None)
    env.update(extra)
    return env


def start_subprocess_server(db_url: str, port: int, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hq.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=subprocess_env(db_url, **extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_http(url: str, timeout: float = 20.0) -> None:
    async def up() -> bool:
        try:
            async with httpx.AsyncClient(timeout=1) as c:
                return (await c.get(url + "/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until(up, timeout, f"{url} to answer")


_ = REDIS_URL
