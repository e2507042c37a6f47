"""Fixed-window rate limits: per principal (requests) and per client address (failed logins).

In memory by default (one process); shared through Redis when HQ_REDIS_URL is set, using
INCR + EXPIRE so every instance counts against the same window. If Redis fails the
limiter falls back to its in-memory window rather than refusing service.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

log = logging.getLogger(__name__)


class MemoryLimiter:
    def __init__(self) -> None:
        self.windows: dict[str, tuple[float, int]] = {}

    def _window(self, key: str, window: float) -> tuple[float, int]:
        now = time.monotonic()
        start, count = self.windows.get(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        return start, count

    async def count(self, key: str, window: float) -> tuple[int, float]:
        """(hits so far in the current window, seconds until it resets)."""
        start, count = self._window(key, window)
        return count, max(window - (time.monotonic() - start), 0.0)

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        start, count = self._window(key, window)
        if len(self.windows) > 50_000:  # forget finished windows now and then
            now = time.monotonic()
            self.windows = {k: v for k, v in self.windows.items() if now - v[0] < window}
        self.windows[key] = (start, count + 1)
        return count + 1, max(window - (time.monotonic() - start), 0.0)


class RedisLimiter:
    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis

        self.redis: Any = redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.prefix = prefix
        self.fallback = MemoryLimiter()

    async def count(self, key: str, window: float) -> tuple[int, float]:
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(f"{self.prefix}:{key}")
            pipe.pttl(f"{self.prefix}:{key}")
            raw, ttl = await pipe.execute()
            return int(raw or 0), max(ttl, 0) / 1000
        except Exception as exc:  # noqa: BLE001 - a limiter outage must not become an outage
            log.warning("rate limiter: Redis unavailable (%s); counting in memory", exc.__class__.__name__)
            return await self.fallback.count(key, window)

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        name = f"{self.prefix}:{key}"
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.incr(name)
            pipe.pttl(name)
            count, ttl = await pipe.execute()
            if ttl < 0:  # first hit of a window (or a key that lost its expiry)
                await self.redis.pexpire(name, int(window * 1000))
                ttl = int(window * 1000)
            return int(count), ttl / 1000
        except Exception as exc:  # noqa: BLE001
            log.warning("rate limiter: Redis unavailable (%s); counting in memory", exc.__class__.__name__)
            return await self.fallback.hit(key, window)

    async def close(self) -> None:
        try:
            await self.redis.aclose()
        except Exception:  # noqa: BLE001
            pass


Limiter = MemoryLimiter | RedisLimiter


def limiter_for(services: Any) -> Limiter:
    """The app's limiter, created on first use and kept in services.extras."""
    lim = services.extras.get("limiter")
    if lim is None:
        s = services.settings
        lim = RedisLimiter(s.redis_url, f"{s.redis_prefix}:rl") if s.redis_url else MemoryLimiter()
        services.extras["limiter"] = lim
    return lim


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
