"""The broker contract: publish a small JSON dict on a channel, subscribe to a channel.

A broker carries wake-up calls ("event 42 is in the database"), never the data of record:
the database is the source of truth, so a lost message costs latency, not correctness.
To make that recoverable every subscription may receive `RESYNC` ("you may have missed
messages; re-read your source"), sent after the broker (re)connects and when a slow
subscriber's queue overflowed. Consumers treat RESYNC like a wake-up with no id.

Within one process, all subscribers of a channel share one upstream subscription
(`LocalFanout`), so 1,000 websocket clients cost one Redis subscription, not 1,000.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

RESYNC: dict[str, Any] = {"type": "resync"}
"""Delivered to a subscription when messages may have been lost: re-read the source of truth."""

DEFAULT_QUEUE_SIZE = 10_000


class Subscription:
    """One consumer's view of one channel: an async iterator of payload dicts."""

    def __init__(self, broker: "Broker", channel: str, maxsize: int = DEFAULT_QUEUE_SIZE) -> None:
        self.broker = broker
        self.channel = channel
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self._overflowed = False
        self.closed = False

    def put(self, payload: dict[str, Any]) -> None:
        """Called by the broker. Never blocks: an overflowing queue turns into one RESYNC."""
        if self._overflowed:
            return
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            self._overflowed = True

    async def get(self) -> dict[str, Any]:
        if self._overflowed and self._queue.empty():
            self._overflowed = False
            return dict(RESYNC)
        return await self._queue.get()

    def get_nowait(self) -> dict[str, Any] | None:
        """The next queued payload, or None if there is none right now."""
        if self._queue.empty():
            if self._overflowed:
                self._overflowed = False
                return dict(RESYNC)
            return None
        return self._queue.get_nowait()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while not self.closed:
            yield await self.get()

    async def __aenter__(self) -> "Subscription":
        await self.broker._attach(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.broker._detach(self)


class LocalFanout:
    """channel -> the subscriptions of this process."""

    def __init__(self) -> None:
        self.subs: dict[str, set[Subscription]] = {}

    def add(self, sub: Subscription) -> bool:
        """Register; True if this is the channel's first local subscriber."""
        subs = self.subs.setdefault(sub.channel, set())
        subs.add(sub)
        return len(subs) == 1

    def remove(self, sub: Subscription) -> bool:
        """Unregister; True if the channel has no local subscriber left."""
        subs = self.subs.get(sub.channel)
        if not subs:
            return False
        subs.discard(sub)
        if not subs:
            del self.subs[sub.channel]
            return True
        return False

    def dispatch(self, channel: str, payload: dict[str, Any]) -> int:
        subs = self.subs.get(channel)
        if not subs:
            return 0
        for sub in list(subs):
            sub.put(payload)
        return len(subs)

    def resync_all(self) -> None:
        for subs in self.subs.values():
            for sub in list(subs):
                sub.put(dict(RESYNC))

    @property
    def channels(self) -> list[str]:
        return list(self.subs)


class Broker(abc.ABC):
    """publish(channel, payload) / subscribe(channel): the only API callers need."""

    kind: str = "abstract"

    def __init__(self) -> None:
        self.fanout = LocalFanout()

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect (if there is anything to connect to). Never fails because a server is down."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Disconnect and stop background tasks."""

    @abc.abstractmethod
    async def publish(self, channel: str, payload: dict[str, Any]) -> bool:
        """Send to every subscriber in every process; False if the broker could not take it."""

    def subscribe(self, channel: str, *, maxsize: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        """Use as `async with broker.subscribe(ch) as sub: async for msg in sub: ...`.

        When `__aenter__` returns the subscription is live (if the broker is up): anything
        published afterwards reaches it. Subscribe first, then read the source of truth.
        """
        return Subscription(self, channel, maxsize)

    @abc.abstractmethod
    def status(self) -> str:
        """"in-process", "ok" or "down" (for /readyz)."""

    async def _attach(self, sub: Subscription) -> None:
        self.fanout.add(sub)

    async def _detach(self, sub: Subscription) -> None:
        self.fanout.remove(sub)
