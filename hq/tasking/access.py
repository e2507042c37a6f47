"""Who may see and do what with tasks, decided on the caller, in one place.

- hq_analyst, admin: see every task and every unit's feed; act as unit `hq` (or the unit
  their token is bound to); may cancel any open task;
- prosecutor: read everything, act on nothing;
- regional_officer: tasks addressed to or sent by their own unit (plus, read-only, the
  tasks escalated to their unit as the region's head); only their own unit's feed;
- liaison: nothing.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, true

from hq.access import Forbidden
from hq.auth import Caller
from hq.models import Role
from hq.tasking.models import Task

HQ_UNIT = "hq"


def acting_unit(caller: Caller) -> str | None:
    """The unit a caller sends and receives tasks as; None for read-only roles."""
    if caller.role is Role.REGIONAL_OFFICER:
        return caller.unit_id
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN):
        return caller.unit_id or HQ_UNIT
    return None


def require_reader(caller: Caller) -> None:
    if caller.role is Role.LIAISON:
        raise Forbidden("liaisons have no access to tasks")


def require_actor(caller: Caller) -> str:
    unit = acting_unit(caller)
    if unit is None:
        raise Forbidden(f"role {caller.role.value} cannot issue or act on tasks")
    return unit


def task_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN, Role.PROSECUTOR):
        return true()
    if caller.role is Role.REGIONAL_OFFICER and caller.unit_id:
        u = caller.unit_id
        escalated = or_(Task.undelivered_escalated_at.is_not(None), Task.overdue_escalated_at.is_not(None))
        return or_(Task.target_unit_id == u, Task.sender_unit_id == u,
                   and_(Task.escalation_unit_id == u, escalated))
    return false()


def require_feed(caller: Caller, unit: str) -> None:
    """A regional officer may follow only their own unit's feed: a forged unit is refused."""
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN, Role.PROSECUTOR):
        return
    if caller.role is Role.REGIONAL_OFFICER and caller.unit_id == unit:
        return
    if caller.role is Role.REGIONAL_OFFICER:
        raise Forbidden(f"you are unit {caller.unit_id}; you cannot follow the feed of {unit}", "unit")
    raise Forbidden(f"role {caller.role.value} has no task feed", "unit")


def require_receiver(caller: Caller, task: Task) -> None:
    """Acknowledge, accept, start, complete, refuse: the addressed unit only."""
    unit = require_actor(caller)
    if caller.role is Role.ADMIN or unit == task.target_unit_id:
        return
    raise Forbidden(f"task {task.id} is addressed to {task.target_unit_id}, not to {unit}", "id")


def require_canceller(caller: Caller, task: Task) -> None:
    unit = require_actor(caller)
    if caller.is_hq or unit == task.sender_unit_id:
        return
    raise Forbidden(f"only the sender ({task.sender_unit_id}) or HQ can cancel task {task.id}", "id")
