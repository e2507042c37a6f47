"""A task as a JSON-ready dict: what events carry and what the API renders.

Events store the snapshot of the task at the time of the event, so a replay shows what
a unit was told then, and the API builds its Task objects from the same dict.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hq.tasking.clock import as_utc
from hq.tasking.models import Task


def _iso(value: dt.datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value is not None else None


def task_snapshot(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "batch_id": task.batch_id,
        "kind": task.kind,
        "state": task.state,
        "sender_unit": task.sender_unit_id,
        "target_unit": task.target_unit_id,
        "escalation_unit": task.escalation_unit_id,
        "case_number": task.case_number,
        "mec_id": task.mec_id,
        "text": task.text,
        "priority": task.priority,
        "deadline": _iso(task.deadline),
        "attachments": list(task.attachments or []),
        "refusal_reason": task.refusal_reason,
        "result": task.result,
        "issued_at": _iso(task.issued_at),
        "delivered_at": _iso(task.delivered_at),
        "accepted_at": _iso(task.accepted_at),
        "started_at": _iso(task.started_at),
        "finished_at": _iso(task.finished_at),
        "undelivered_escalated_at": _iso(task.undelivered_escalated_at),
        "overdue_escalated_at": _iso(task.overdue_escalated_at),
    }
