"""Start and stop tasking's moving parts with the app: broker, feed hub, escalator.

Kept out of hq/app.py so the app only calls `start_realtime` in its lifespan and reads
`broker_status` in /readyz.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hq.tasking.clock import clock_of
from hq.tasking.escalation import Escalator
from hq.tasking.events import Appended, announce
from hq.tasking.feed import FeedHub
from realtime import make_broker


async def start_realtime(services: Any) -> Callable[[], Awaitable[None]]:
    """Create and start the broker (Services.broker), the feed hub and the escalator."""
    settings = services.settings
    broker = make_broker(settings.redis_url, prefix=settings.redis_prefix)
    await broker.start()  # never fails because Redis is down: it keeps reconnecting
    services.broker = broker
    hub = FeedHub(services.sessions, broker, poll_interval=settings.feed_poll_interval)
    await hub.start()
    services.extras["feed_hub"] = hub

    async def _announce(appended: Appended) -> None:
        await announce(broker, appended)

    escalator = Escalator(services.sessions, lambda: clock_of(services), settings.task_delivery_timeout,
                          settings.escalation_interval, _announce)
    escalator.start()
    services.extras["escalator"] = escalator

    async def stop() -> None:
        await escalator.stop()
        await hub.stop()
        await broker.stop()

    return stop


def broker_status(services: Any) -> tuple[str, bool]:
    """(text for /readyz, degraded?): "in-process", "ok", or "down: <last error>"."""
    broker = services.broker
    if broker is None:
        return "not started", True
    status = broker.status()
    if status == "down":
        err = getattr(broker, "last_error", None)
        return (f"down: {err}" if err else "down"), True
    return status, False
