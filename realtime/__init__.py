"""Brokers that wake subscribers up across processes: in-process (default) or Redis.

Generic on purpose: tasking's event feed and the analyst console's multi-episode-case
updates both use `publish(channel, payload)` / `subscribe(channel)`; see realtime.base.
"""

from realtime.base import RESYNC, Broker, Subscription
from realtime.inprocess import InProcessBroker
from realtime.redis_broker import RedisBroker


def make_broker(redis_url: str, *, prefix: str = "hq") -> Broker:
    """The Redis broker when a URL is configured, else the in-process one."""
    if redis_url:
        return RedisBroker(redis_url, prefix=prefix)
    return InProcessBroker()


def is_resync(payload: dict) -> bool:  # type: ignore[type-arg]
    return payload.get("type") == RESYNC["type"]


__all__ = ["RESYNC", "Broker", "InProcessBroker", "RedisBroker", "Subscription", "is_resync", "make_broker"]
