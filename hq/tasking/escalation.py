"""Deadlines: a task not delivered in time, or overdue, escalates once for each reason.

Escalation is an event to the sender unit and to the target region's head unit, and the
task then shows in `overdueTasks`. The sweep reads time from an injected clock, so tests
move time instead of sleeping. Several app instances may sweep at once: each escalation
is a conditional UPDATE (`… WHERE escalated_at IS NULL`), so only one of them wins and
the events are appended once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq.tasking.clock import Clock
from hq.tasking.events import Appended, NewEvent, append_events
from hq.tasking.models import FINAL_STATES, Task, TaskState
from hq.tasking.snapshot import task_snapshot
from hq.periodic import Periodic


OPEN_STATES = tuple(s.value for s in TaskState if s.value not in FINAL_STATES)


def undelivered(now: dt.datetime, timeout: dt.timedelta) -> ColumnElement[bool]:
    return and_(Task.state == TaskState.ISSUED.value, Task.issued_at <= now - timeout)


def overdue(now: dt.datetime) -> ColumnElement[bool]:
    return and_(Task.state.in_(OPEN_STATES), Task.deadline.is_not(None), Task.deadline <= now)


def late(now: dt.datetime, timeout: dt.timedelta) -> ColumnElement[bool]:
    """Open tasks that are overdue or still undelivered after the delivery timeout."""
    return or_(undelivered(now, timeout), overdue(now))


async def escalate_due(session: AsyncSession, now: dt.datetime, delivery_timeout: dt.timedelta) -> Appended:
    """Escalate what is due at `now`, in the caller's transaction; returns the events appended."""
    reasons = (
        ("not_delivered", Task.undelivered_escalated_at, undelivered(now, delivery_timeout)),
        ("overdue", Task.overdue_escalated_at, overdue(now)),
    )
    events: list[NewEvent] = []
    for reason, column, condition in reasons:
        ids = (await session.execute(
            select(Task.id).where(condition, column.is_(None)).order_by(Task.id)
        )).scalars().all()
        for task_id in ids:
            res = await session.execute(
                update(Task).where(Task.id == task_id, column.is_(None), condition)
                .values({column.key: now})
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:
                continue  # another instance escalated it, or it moved on meanwhile
            task = (await session.execute(
                select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
            )).scalar_one()
            payload = {"task": task_snapshot(task), "reason": reason}
            for unit in dict.fromkeys(u for u in (task.sender_unit_id, task.escalation_unit_id) if u):
                events.append(NewEvent(unit_id=unit, task_id=task.id, kind="task_escalated", payload=payload))
    return await append_events(session, events, now)


class Escalator(Periodic):
    """Runs `escalate_due` every `interval` seconds and announces what it appended."""

    name = "task-escalator"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], Clock],
                 delivery_timeout: float, interval: float,
                 announce: Callable[[Appended], Awaitable[None]]) -> None:
        self.sessions = sessions
        self.clock = clock
        self.delivery_timeout = dt.timedelta(seconds=delivery_timeout)
        super().__init__(interval)
        self.announce = announce

    async def sweep(self) -> Appended:
        now = self.clock()()
        async with self.sessions.begin() as s:
            appended = await escalate_due(s, now, self.delivery_timeout)
        if appended:
            await self.announce(appended)
        return appended
