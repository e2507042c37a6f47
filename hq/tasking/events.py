"""The durable event log behind `taskFeed`, with a cursor that cannot skip an event.

Why not a sequence: PostgreSQL hands out sequence values at INSERT time, not at commit
time. Transaction A takes id 7, B takes id 8, B commits, a reader reads "id > 6", gets 8
and moves its cursor to 8; then A commits and event 7 is never seen by that reader.

The design here: ids come from one counter row (`feed_counter`), which the writing
transaction UPDATEs (`last_id = last_id + n`) as its LAST statement before COMMIT. The row
lock is held until commit, so the next writer cannot get an id before this one has
committed (or rolled back). Ids are therefore handed out in commit order, and at any
moment the committed events are exactly 1..N for some N (minus ids of rolled-back
transactions, which never become visible at all). A reader at cursor C that reads
"id > C" sees a prefix; anything that commits later gets a larger id than anything it saw.
The lock is held only for the counter update, one multi-row INSERT and the COMMIT, so it
costs little; it is always taken after every other lock (task rows, the case write lock),
so it cannot take part in a deadlock. On SQLite, writers are serialised anyway and the
same code gives the same guarantee.

The global id is the cursor for every unit's feed: a unit's feed is the subsequence of
events whose `unit_id` is that unit. After commit, writers publish a wake-up
("events up to N exist") through the broker; the broker never carries the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hq.tasking.clock import as_utc
from hq.tasking.models import FeedCounter, TaskEvent

WAKE_CHANNEL = "tasks.events"


@dataclass(frozen=True, slots=True)
class NewEvent:
    unit_id: str
    task_id: int
    kind: str  # task_issued | task_changed | task_escalated
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedEvent:
    id: int
    unit_id: str
    task_id: int
    kind: str
    payload: dict[str, Any]
    created_at: str


@dataclass(slots=True)
class Appended:
    """What a transaction appended, to announce after it commits."""

    ids: list[int]
    units: list[str]

    def __bool__(self) -> bool:
        return bool(self.ids)


async def append_events(session: AsyncSession, events: Sequence[NewEvent], now: Any) -> Appended:
    """Give `events` the next ids and insert them. Call last in the transaction, then commit."""
    if not events:
        return Appended([], [])
    n = len(events)
    last = (
        await session.execute(
            update(FeedCounter).where(FeedCounter.id == 1)
            .values(last_id=FeedCounter.last_id + n).returning(FeedCounter.last_id)
        )
    ).scalar_one()
    first = int(last) - n + 1
    rows = [
        {"id": first + i, "unit_id": e.unit_id, "task_id": e.task_id, "kind": e.kind,
         "payload": e.payload, "created_at": now}
        for i, e in enumerate(events)
    ]
    await session.execute(insert(TaskEvent), rows)
    return Appended([r["id"] for r in rows], sorted({e.unit_id for e in events}))


async def begin_write(session: AsyncSession) -> None:
    """On SQLite, take the database write lock up front (like BEGIN IMMEDIATE).

    A WAL reader that later tries to write after another writer committed fails at once
    with SQLITE_BUSY instead of waiting; writing first makes it wait its turn. On
    PostgreSQL this does nothing: there the counter must be the LAST lock taken.
    """
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        await session.execute(update(FeedCounter).where(FeedCounter.id == 1).values(last_id=FeedCounter.last_id))


def _feed_event(row: TaskEvent) -> FeedEvent:
    created = as_utc(row.created_at)
    return FeedEvent(id=row.id, unit_id=row.unit_id, task_id=row.task_id, kind=row.kind,
                     payload=row.payload, created_at=created.isoformat() if created else "")


async def read_events(session: AsyncSession, *, after: int, unit: str | None = None,
                      limit: int = 1000) -> list[FeedEvent]:
    """Committed events with id > after (of one unit, or all), oldest first."""
    q = select(TaskEvent).where(TaskEvent.id > after)
    if unit is not None:
        q = q.where(TaskEvent.unit_id == unit)
    rows = (await session.execute(q.order_by(TaskEvent.id).limit(limit))).scalars().all()
    return [_feed_event(r) for r in rows]


async def last_event_id(session: AsyncSession) -> int:
    return int((await session.execute(select(func.coalesce(func.max(TaskEvent.id), 0)))).scalar_one())


def wake_message(appended: Appended) -> dict[str, Any]:
    return {"id": max(appended.ids), "units": appended.units}


async def announce(broker: Any, appended: Appended | Iterable[Appended]) -> None:
    """After COMMIT: wake up every process's feed hub. Losing this costs latency only."""
    items = [appended] if isinstance(appended, Appended) else list(appended)
    ids = [i for a in items for i in a.ids]
    if not ids or broker is None:
        return
    units = sorted({u for a in items for u in a.units})
    await broker.publish(WAKE_CHANNEL, {"id": max(ids), "units": units})
