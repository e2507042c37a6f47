"""The embedded default: one process, subscribers in memory, nothing to connect to."""

from __future__ import annotations

from typing import Any

from realtime.base import Broker


class InProcessBroker(Broker):
    kind = "in-process"

    async def publish(self, channel: str, payload: dict[str, Any]) -> bool:
        self.fanout.dispatch(channel, payload)
        return True

    def status(self) -> str:
        return "in-process"
