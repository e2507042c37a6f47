"""Liaison events ride on tasking's event log, cursor and broker (hq.tasking.events/feed).

Why reuse: that log already hands out ids in commit order (no late-commit gap), replays
from any cursor and streams live across instances through the broker. A liaison's feed
is simply the events whose feed key is `liaison:org:<org>`; senders and HQ follow
`liaison:unit:<unit>` and `liaison:hq`. The `liaison:` prefix can never be a unit id, so
these events never appear in a unit's `taskFeed` (which accepts directory units only).
The `task_id` column carries the request id.

Payloads carry ids and state only, never the request's content: the subscription
re-reads the request through the caller's view, so no card number or case detail is
copied into the shared log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hq.auth import Caller
from hq.liaison.access import HQ_UNIT
from hq.liaison.models import LiaisonRequest
from hq.models import Role
from hq.tasking.events import Appended, NewEvent, announce, append_events

HQ_FEED = "liaison:hq"


def org_feed(org_id: str) -> str:
    return f"liaison:org:{org_id}"


def unit_feed_key(unit_id: str) -> str:
    return HQ_FEED if unit_id == HQ_UNIT else f"liaison:unit:{unit_id}"


def feed_key(caller: Caller) -> str | None:
    """The one feed a caller follows: derived from the token, never from an argument."""
    if caller.role is Role.LIAISON and caller.org_id:
        return org_feed(caller.org_id)
    if caller.role is Role.REGIONAL_OFFICER and caller.unit_id:
        return unit_feed_key(caller.unit_id)
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN, Role.PROSECUTOR):
        return HQ_FEED
    return None


def event(req: LiaisonRequest, key: str, kind: str, change: str, **extra: Any) -> NewEvent:
    payload = {"request_id": req.id, "change": change, "state": req.state, **extra}
    return NewEvent(unit_id=key, task_id=req.id, kind=kind, payload=payload)


def to_org(req: LiaisonRequest, kind: str, change: str, **extra: Any) -> NewEvent:
    return event(req, org_feed(req.org_id), kind, change, **extra)


def to_sender(req: LiaisonRequest, kind: str, change: str, **extra: Any) -> list[NewEvent]:
    """The sending unit's feed; for an overdue escalation HQ as well (once, if HQ sent it)."""
    keys = [unit_feed_key(req.sender_unit_id)]
    if kind == "request_escalated" and HQ_FEED not in keys:
        keys.append(HQ_FEED)
    return [event(req, k, kind, change, **extra) for k in keys]


async def append(session: AsyncSession, events: list[NewEvent], now: dt.datetime) -> Appended:
    """Append last in the transaction (see hq.tasking.events for why)."""
    return await append_events(session, events, now)


async def publish(services: Any, appended: Appended) -> None:
    """After commit: wake every instance's feed hub."""
    await announce(services.broker, appended)
