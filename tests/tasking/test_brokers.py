"""The generic broker API (shared with the analyst console): publish/subscribe, Redis across instances."""

from __future__ import annotations

import asyncio

from realtime import InProcessBroker, RedisBroker, is_resync
from tests.tasking.conftest import wait_until


async def test_in_process_publish_subscribe() -> None:
    b = InProcessBroker()
    await b.start()
    async with b.subscribe("mec.updated") as sub:
        assert await b.publish("mec.updated", {"ids": [1, 2]})
        assert await asyncio.wait_for(sub.get(), 2) == {"ids": [1, 2]}
    assert b.status() == "in-process"


async def test_redis_between_two_brokers_and_resync_after_restart(private_redis, redis_prefix) -> None:
    a, b = RedisBroker(private_redis.url, prefix=redis_prefix), RedisBroker(private_redis.url, prefix=redis_prefix)
    await a.start()
    await b.start()
    try:
        assert a.status() == b.status() == "ok"
        async with b.subscribe("chan") as sub:
            assert await a.publish("chan", {"n": 1})
            assert await asyncio.wait_for(sub.get(), 5) == {"n": 1}
            private_redis.stop()
            await wait_until(lambda: a.status() == "down" and b.status() == "down", 15, "both to see Redis down")
            assert not await a.publish("chan", {"n": 2})  # returns at once, does not hang
            private_redis.start()
            await wait_until(lambda: a.status() == "ok" and b.status() == "ok", 15, "reconnection")
            assert is_resync(await asyncio.wait_for(sub.get(), 5))  # "you may have missed something"
            assert await a.publish("chan", {"n": 3})
            assert await asyncio.wait_for(sub.get(), 5) == {"n": 3}
    finally:
        await a.stop()
        await b.stop()
