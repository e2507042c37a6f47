"""Websocket limits: connections per principal, and the size of one message.

Connections are counted per process (a principal connected to two instances may hold
twice the limit; each instance still bounds its own memory). The message size is checked
on the decoded message here and, in bytes before decoding, by uvicorn's ws_max_size,
which `hq serve` sets from the same HQ_WS_MAX_MESSAGE_BYTES.
"""

from __future__ import annotations

import json
from typing import Any

TOO_MANY_CONNECTIONS = 4029
MESSAGE_TOO_LARGE = 4413


def acquire(services: Any, principal_id: int) -> bool:
    limit = services.settings.ws_max_connections
    counts: dict[int, int] = services.extras.setdefault("ws_connections", {})
    if limit and counts.get(principal_id, 0) >= limit:
        return False
    counts[principal_id] = counts.get(principal_id, 0) + 1
    return True


def release(services: Any, principal_id: int) -> None:
    counts: dict[int, int] = services.extras.setdefault("ws_connections", {})
    left = counts.get(principal_id, 0) - 1
    if left > 0:
        counts[principal_id] = left
    else:
        counts.pop(principal_id, None)


def too_large(services: Any, message: Any) -> bool:
    limit = services.settings.ws_max_message_bytes
    if not limit:
        return False
    try:
        size = len(json.dumps(message, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return False
    return size > limit
