"""Hardening fixtures: an app with chosen settings, a live uvicorn server, helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from tests.conftest import PEPPER, Api, make_settings


@contextlib.asynccontextmanager
async def app_api(db_url: str, **overrides: Any) -> AsyncIterator[Api]:
    """The real ASGI app with extra settings, driven through httpx."""
    from hq.app import create_app

    app = create_app(make_settings(db_url, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hq.test") as client:
            api = Api(client)
            api.app = app  # type: ignore[attr-defined]
            yield api


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_server(db_url: str, *, log_path: str | None = None, **env: str) -> Iterator[str]:
    """`hq serve` in a subprocess on a free port; yields its base URL."""
    port = free_port()
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "hq.cli", "serve", "--port", str(port)],
        env={**os.environ, "HQ_DATABASE_URL": db_url, "HQ_TOKEN_PEPPER": PEPPER, "HQ_REDIS_URL": "", **env},
        stdout=out, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
        else:
            raise RuntimeError("server did not start in 30 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            out.close()  # type: ignore[union-attr]


def gql_errors(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code", "?") for e in body.get("errors", [])]


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")
