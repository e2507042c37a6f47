"""Redis pub/sub between app instances, with a reconnect loop that never gives up.

One pub/sub connection per process carries every channel this process listens to; the
local fan-out hands messages to subscribers. If Redis goes away, `publish` returns False
at once (callers have already committed their data, so nothing is lost), `status()` says
"down", and the reader reconnects with backoff. After every (re)connect each subscription
gets RESYNC, so consumers re-read what they might have missed and live push resumes by
itself. Channels are namespaced by `prefix` so several deployments (or test runs) can share
one Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from typing import Any

import redis.asyncio as aioredis

from realtime.base import Broker, Subscription

log = logging.getLogger(__name__)

HEARTBEAT_CHANNEL = "__hq_broker_heartbeat__"


class RedisBroker(Broker):
    kind = "redis"

    def __init__(self, url: str, *, prefix: str = "hq", ping_interval: float = 2.0,
                 max_backoff: float = 2.0) -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._up = False
        self._cmd_lock = asyncio.Lock()
        self._confirm: dict[str, asyncio.Future[None]] = {}
        self.last_error: str | None = None
        self.connects = 0

    # --- naming -------------------------------------------------------------------------
    def _full(self, channel: str) -> str:
        return f"{self.prefix}:{channel}"

    def _short(self, full: str) -> str:
        return full[len(self.prefix) + 1:]

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(self.url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self._reader = asyncio.create_task(self._run(), name="redis-broker-reader")
        # Give a reachable Redis a moment so the first requests are pushed live.
        deadline = time.monotonic() + 2.0
        while not self._up and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self._close_pubsub()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
        self._up = False

    def status(self) -> str:
        return "ok" if self._up else "down"

    # --- API ----------------------------------------------------------------------------
    async def publish(self, channel: str, payload: dict[str, Any]) -> bool:
        if not self._up or self._client is None:
            return False  # known down: don't make the writer wait; RESYNC covers the gap
        body = json.dumps(payload, separators=(",", ":"))
        for attempt in (1, 2):  # a pooled connection may be stale after Redis restarted: retry once
            try:
                await self._client.publish(self._full(channel), body)
                return True
            except (aioredis.RedisError, OSError) as exc:
                if attempt == 2 or not isinstance(exc, (aioredis.ConnectionError, OSError)):
                    self.last_error = f"{exc.__class__.__name__}: {exc}"
                    log.warning("redis publish failed: %s", self.last_error)
                    return False
        return False

    async def _attach(self, sub: Subscription) -> None:
        first = self.fanout.add(sub)
        if first and self._up:
            await self._subscribe_upstream(sub.channel)

    async def _detach(self, sub: Subscription) -> None:
        last = self.fanout.remove(sub)
        if last and self._up and self._pubsub is not None:
            with contextlib.suppress(Exception):
                async with self._cmd_lock:
                    await self._pubsub.unsubscribe(self._full(sub.channel))

    async def _subscribe_upstream(self, channel: str) -> None:
        """SUBSCRIBE and wait until Redis confirms, so later publishes cannot be missed."""
        full = self._full(channel)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirm[full] = fut
        try:
            async with self._cmd_lock:
                await self._pubsub.subscribe(full)
            await asyncio.wait_for(asyncio.shield(fut), timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - the reconnect loop resubscribes and RESYNCs
            log.warning("redis subscribe %s not confirmed: %s", channel, exc)
        finally:
            self._confirm.pop(full, None)

    # --- reader -------------------------------------------------------------------------
    async def _close_pubsub(self) -> None:
        ps, self._pubsub = self._pubsub, None
        if ps is not None:
            with contextlib.suppress(Exception):
                await ps.aclose()

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            connects = self.connects
            try:
                await self._connect_and_read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                if self._up:
                    log.warning("redis broker lost its connection: %s", exc)
                self.last_error = f"{exc.__class__.__name__}: {exc}"
            self._up = False
            await self._close_pubsub()
            if self.connects != connects:
                backoff = 0.05  # we had been connected: retry quickly first
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(self.max_backoff, backoff * 2)

    async def _connect_and_read(self) -> None:
        assert self._client is not None
        self._pubsub = self._client.pubsub()
        subscribed = {self._full(HEARTBEAT_CHANNEL)} | {self._full(c) for c in self.fanout.channels}
        pending = set(subscribed)
        await self._pubsub.subscribe(*sorted(subscribed))
        last_seen = last_ping = time.monotonic()
        while True:
            msg = await self._pubsub.get_message(timeout=min(1.0, self.ping_interval))
            now = time.monotonic()
            if msg is not None:
                last_seen = now
                self._handle(msg, pending)
            if not self._up and not pending:
                missing = {self._full(c) for c in self.fanout.channels} - subscribed
                if missing:  # attached while we were connecting
                    subscribed |= missing
                    pending |= missing
                    async with self._cmd_lock:
                        await self._pubsub.subscribe(*sorted(missing))
                else:
                    # From here on _attach subscribes upstream itself (no await in between).
                    self._up = True
                    self.connects += 1
                    self.last_error = None
                    log.info("redis broker connected (%s)", self.url)
                    self.fanout.resync_all()  # whatever was published while we were away
            if now - last_ping >= self.ping_interval:
                last_ping = now
                async with self._cmd_lock:
                    await self._pubsub.ping()
            if now - last_seen > 3 * self.ping_interval + 1:
                raise ConnectionError("no answer from redis to pings")

    def _handle(self, msg: dict[str, Any], pending: set[str]) -> None:
        kind = msg.get("type")
        channel = msg.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        if kind == "subscribe":
            pending.discard(channel)
            fut = self._confirm.get(channel)
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        if kind != "message" or channel is None:
            return
        short = self._short(channel)
        if short == HEARTBEAT_CHANNEL:
            return
        try:
            payload = json.loads(msg["data"])
        except (TypeError, ValueError):
            log.warning("ignoring non-JSON message on %s", channel)
            return
        if isinstance(payload, dict):
            self.fanout.dispatch(short, payload)
