"""The tasking clock: `services.extras["clock"]` if a test (or a replay) put one there.

Deadlines and escalation compare against this clock only, so tests move time forward
instead of sleeping, and SQLite's naive datetimes are read back as UTC in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from hq.models import utcnow

Clock = Callable[[], dt.datetime]


def clock_of(services: Any) -> Clock:
    clock = getattr(services, "extras", {}).get("clock")
    return clock if clock is not None else utcnow


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Datetimes come back naive from SQLite; everything HQ stores is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
