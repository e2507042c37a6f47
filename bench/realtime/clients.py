"""Many graphql-transport-ws clients in one process, each following one unit's feed.

Each records, per task id, the wall-clock time its event arrived; the server reports the
commit time in the X-HQ-Committed-At header of the issuing mutation (same machine, same
clock), so latency = arrival - commit.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets

FEED = ('subscription($u: String!, $s: Int!) { taskFeed(unit: $u, since: $s) '
        '{ id kind task { id targetUnit } } }')


class Client:
    def __init__(self, url: str, token: str, unit: str) -> None:
        self.url, self.token, self.unit = url, token, unit
        self.arrivals: dict[int, float] = {}
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.got = asyncio.Event()

    async def connect(self, since: int) -> None:
        self.ws = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                                           open_timeout=60, ping_interval=None, max_queue=None)
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {"token": self.token}}))
        ack = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
        assert ack["type"] == "connection_ack", ack
        await self.ws.send(json.dumps({"id": "f", "type": "subscribe",
                                       "payload": {"query": FEED, "variables": {"u": self.unit, "s": since}}}))
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time()
                msg = json.loads(raw)
                if msg.get("type") == "next":
                    ev = msg["payload"]["data"]["taskFeed"]
                    if ev["kind"] == "task_issued":
                        self.arrivals[ev["task"]["id"]] = now
                        self.got.set()
                elif msg.get("type") == "ping":
                    await self.ws.send('{"type":"pong"}')
        except websockets.ConnectionClosed:
            pass

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


async def connect_all(clients: list[Client], since: int, batch: int = 100) -> float:
    started = time.monotonic()
    for i in range(0, len(clients), batch):
        await asyncio.gather(*(c.connect(since) for c in clients[i:i + batch]))
    return time.monotonic() - started
