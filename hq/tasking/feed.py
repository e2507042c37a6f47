"""Replay-then-live delivery of a unit's events, with no gap and no duplicate at the seam.

One `FeedHub` per process listens to the broker's wake-ups and, for each, reads the new
events once from the database (`id > hub cursor`, all units; ids are commit-ordered, see
hq.tasking.events) and hands them to the local listeners of each unit. A thousand
websocket clients therefore cost one query per wake-up, not a thousand.

A subscriber (`unit_feed`) registers its listener BEFORE replaying from the database, so
anything committed after the replay's snapshot reaches the listener; it then drops live
events with id <= the last one replayed. If a listener overflows (a stalled client), it is
told so and re-reads from the database. If the broker is down, wake-ups stop: the hub
also polls every `poll_interval` seconds (0 = never) and re-reads on the broker's RESYNC,
so push resumes by itself when Redis returns; clients that reconnect replay anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq.tasking.events import WAKE_CHANNEL, FeedEvent, last_event_id, read_events
from realtime import Broker, is_resync

log = logging.getLogger(__name__)

LAGGED = object()  # a listener's queue overflowed: re-read from the database
REPLAY_PAGE = 500


class Listener:
    def __init__(self, unit: str, maxsize: int = 5000) -> None:
        self.unit = unit
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.lagged = False

    def put(self, item: FeedEvent) -> None:
        if self.lagged:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.lagged = True
            # make room for the marker: the subscriber will re-read from the database
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(LAGGED)


class FeedHub:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], broker: Broker, *,
                 poll_interval: float = 5.0) -> None:
        self.sessions = sessions
        self.broker = broker
        self.poll_interval = poll_interval
        self.cursor = 0
        self.listeners: dict[str, set[Listener]] = {}
        self._sub: Any = None
        self._task: asyncio.Task[None] | None = None
        self.reads = 0

    async def start(self) -> None:
        self._sub = self.broker.subscribe(WAKE_CHANNEL)
        await self._sub.__aenter__()  # subscribe first, then read where we stand
        try:
            async with self.sessions() as s:
                self.cursor = await last_event_id(s)
        except Exception as exc:  # noqa: BLE001 - start anyway; reads from 0 until the database answers
            log.warning("feed hub could not read the last event id: %s", exc)
        self._task = asyncio.create_task(self._run(), name="feed-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            await self._sub.close()

    def listen(self, unit: str) -> Listener:
        listener = Listener(unit)
        self.listeners.setdefault(unit, set()).add(listener)
        return listener

    def unlisten(self, listener: Listener) -> None:
        group = self.listeners.get(listener.unit)
        if group is not None:
            group.discard(listener)
            if not group:
                del self.listeners[listener.unit]

    async def _next_wake(self) -> dict[str, Any] | None:
        timeout = self.poll_interval if self.poll_interval > 0 else None
        try:
            return await asyncio.wait_for(self._sub.get(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return None  # poll

    def _wants_read(self, msg: dict[str, Any] | None) -> bool:
        if msg is None or is_resync(msg):
            return True
        return int(msg.get("id", 0)) > self.cursor

    async def _run(self) -> None:
        retry = False
        while True:
            msg = await self._next_wake()
            need = retry or self._wants_read(msg)
            while (more := self._sub.get_nowait()) is not None:  # coalesce a burst into one read
                need = self._wants_read(more) or need
            if not need:
                continue
            try:
                await self.catch_up()
                retry = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - database hiccup: try again on the next wake/poll
                log.warning("feed hub could not read events: %s", exc)
                retry = True
                await asyncio.sleep(0.2)

    async def catch_up(self) -> None:
        """Read every committed event after the hub's cursor and hand it to listeners."""
        while True:
            async with self.sessions() as s:
                events = await read_events(s, after=self.cursor, limit=REPLAY_PAGE * 4)
            self.reads += 1
            for ev in events:
                for listener in list(self.listeners.get(ev.unit_id, ())):
                    listener.put(ev)
                self.cursor = ev.id
            if len(events) < REPLAY_PAGE * 4:
                return


async def unit_feed(hub: FeedHub, unit: str, since: int) -> AsyncIterator[FeedEvent]:
    """Everything for `unit` after `since`: first from the database, then live."""
    listener = hub.listen(unit)  # before the replay: nothing committed later can be missed
    last = since
    try:
        while True:  # replay, and again after a lag
            listener.lagged = False  # before reading: what arrives from now on is queued
            while not listener.queue.empty():
                listener.queue.get_nowait()  # committed before the read below: it replays them
            while True:
                async with hub.sessions() as s:
                    page = await read_events(s, after=last, unit=unit, limit=REPLAY_PAGE)
                for ev in page:
                    yield ev
                    last = ev.id
                if len(page) < REPLAY_PAGE:
                    break
            while True:
                item = await listener.queue.get()
                if item is LAGGED:
                    break
                if item.id <= last:
                    continue  # already replayed: the seam
                yield item
                last = item.id
    finally:
        hub.unlisten(listener)
