"""Execution discipline per receiving unit: how many tasks, how fast accepted, how many on time.

- count: tasks addressed to the unit;
- median_seconds_to_accept: over tasks accepted so far (issued_at → accepted_at);
- done_on_time_share: of tasks with a deadline that are done or whose deadline has passed
  (cancelled ones left out), the share done by the deadline; None when there are none yet.
Computed in Python over the unit's rows: task volumes are small next to cases.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.tasking.clock import as_utc
from hq.tasking.models import FINAL_STATES, Task, TaskState


@dataclass(slots=True)
class UnitFigures:
    unit: str
    count: int = 0
    open: int = 0
    accepted: int = 0
    done: int = 0
    refused: int = 0
    overdue: int = 0
    median_seconds_to_accept: float | None = None
    done_on_time_share: float | None = None


async def unit_discipline(session: AsyncSession, now: dt.datetime, units: list[str] | None = None) -> list[UnitFigures]:
    q = select(Task.target_unit_id, Task.state, Task.issued_at, Task.accepted_at, Task.finished_at, Task.deadline)
    if units is not None:
        q = q.where(Task.target_unit_id.in_(units))
    figures: dict[str, UnitFigures] = {}
    waits: dict[str, list[float]] = {}
    judged: dict[str, list[bool]] = {}
    for unit, state, issued, accepted, finished, deadline in await session.execute(q):
        f = figures.setdefault(unit, UnitFigures(unit))
        f.count += 1
        issued, accepted, finished, deadline = map(as_utc, (issued, accepted, finished, deadline))
        if state not in FINAL_STATES:
            f.open += 1
        if accepted is not None:
            f.accepted += 1
            waits.setdefault(unit, []).append((accepted - issued).total_seconds())
        if state == TaskState.DONE.value:
            f.done += 1
        if state == TaskState.REFUSED.value:
            f.refused += 1
        if deadline is not None and state not in FINAL_STATES and deadline <= now:
            f.overdue += 1
        if deadline is not None and state != TaskState.CANCELLED.value:
            if state == TaskState.DONE.value:
                judged.setdefault(unit, []).append(finished is not None and finished <= deadline)
            elif deadline <= now:
                judged.setdefault(unit, []).append(False)
    for unit, f in figures.items():
        if waits.get(unit):
            f.median_seconds_to_accept = statistics.median(waits[unit])
        if judged.get(unit):
            f.done_on_time_share = sum(judged[unit]) / len(judged[unit])
    return [figures[u] for u in sorted(figures)]
