"""Issuing tasks and moving them through their states, each with its events, in one transaction.

Every function runs inside the caller's transaction, locks the task row it changes, and
appends its events last (hq.tasking.events), so a state change and the news of it commit
together or not at all. Errors are domain errors naming the field at fault; the API maps
them to BAD_USER_INPUT, CONFLICT, NOT_FOUND and FORBIDDEN.

    issued → delivered → accepted → in_progress → done | refused(reason) | cancelled
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.access import case_in_scope
from hq.auth import Caller
from hq.case_record import MentionRecord
from hq.identifiers import IdentifierError, normalise
from hq.models import Case, MultiEpisodeCase
from hq.tasking import access
from hq.tasking.clock import as_utc
from hq.tasking.events import Appended, NewEvent, append_events
from hq.tasking.linkback import add_mentions, case_for_mec
from hq.tasking.models import FINAL_STATES, Task, TaskKind, TaskPriority, TaskState
from hq.tasking.snapshot import task_snapshot
from regions import Directory

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_TARGETS = 200
MAX_TEXT = 10_000
MAX_ATTACHMENTS = 50
MAX_FOUND = 100
KINDS = frozenset(k.value for k in TaskKind)
PRIORITIES = frozenset(p.value for p in TaskPriority)
FOUND_ROLES = ("suspect", "witness")


class TaskError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class TaskInputError(TaskError):
    code = "BAD_USER_INPUT"


class TaskConflict(TaskError):
    code = "CONFLICT"


class TaskNotFound(TaskError):
    code = "NOT_FOUND"


@dataclass(slots=True)
class IssueSpec:
    kind: str
    target_units: list[str]
    text: str
    case_number: str | None = None
    mec_id: int | None = None
    priority: str = TaskPriority.NORMAL.value
    deadline: dt.datetime | None = None
    attachments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FoundIdentifier:
    kind: str
    value: str
    role: str = "suspect"


@dataclass(slots=True)
class ResultSpec:
    text: str = ""
    identifiers: list[FoundIdentifier] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)


def check_attachments(values: list[str], where: str) -> list[str]:
    if len(values) > MAX_ATTACHMENTS:
        raise TaskInputError(where, f"at most {MAX_ATTACHMENTS} attachments")
    out = []
    for i, raw in enumerate(values):
        value = raw.strip().lower()
        if not SHA256.match(value):
            raise TaskInputError(f"{where}[{i}]", "must be a SHA-256 digest: 64 hexadecimal characters")
        if value not in out:
            out.append(value)
    return out


def _text(value: str, where: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise TaskInputError(where, "is required")
    if len(value) > MAX_TEXT:
        raise TaskInputError(where, f"is longer than {MAX_TEXT} characters")
    return value


def _events(task: Task, kind: str, units: list[str | None], **extra: Any) -> list[NewEvent]:
    snap = task_snapshot(task)
    payload = {"task": snap, **extra}
    seen: list[str] = []
    for u in units:
        if u and u not in seen:
            seen.append(u)
    return [NewEvent(unit_id=u, task_id=task.id, kind=kind, payload=payload) for u in seen]


async def _resolve_subject(session: AsyncSession, caller: Caller, spec: IssueSpec) -> tuple[int | None, str | None, int | None]:
    if (spec.case_number is None) == (spec.mec_id is None):
        raise TaskInputError("caseRegistrationNumber", "give exactly one of caseRegistrationNumber or multiEpisodeCaseId")
    if spec.case_number is not None:
        number = spec.case_number.strip()
        found = await case_in_scope(session, caller, number)
        if found is None:
            raise TaskInputError("caseRegistrationNumber", f"no case {number} in your scope")
        return found[0], number, None
    mec = await session.get(MultiEpisodeCase, spec.mec_id)
    if mec is None:
        raise TaskInputError("multiEpisodeCaseId", f"no multi-episode case {spec.mec_id}")
    return None, None, int(mec.id)


async def issue_tasks(session: AsyncSession, caller: Caller, spec: IssueSpec, directory: Directory,
                      now: dt.datetime) -> tuple[list[Task], Appended]:
    """One task per target unit, sharing a batch id; events to each target and the sender."""
    sender = access.require_actor(caller)
    if spec.kind not in KINDS:
        raise TaskInputError("kind", f"must be one of {', '.join(sorted(KINDS))}")
    if spec.priority not in PRIORITIES:
        raise TaskInputError("priority", f"must be one of {', '.join(sorted(PRIORITIES))}")
    targets: list[str] = []
    for i, raw in enumerate(spec.target_units):
        unit_id = raw.strip()
        try:
            directory.unit(unit_id)
        except KeyError:
            raise TaskInputError(f"targetUnits[{i}]", f"unknown unit {unit_id!r} (see the units query)") from None
        if unit_id == sender:
            raise TaskInputError(f"targetUnits[{i}]", "a unit cannot send a task to itself")
        if unit_id not in targets:
            targets.append(unit_id)
    if not targets:
        raise TaskInputError("targetUnits", "name at least one unit")
    if len(targets) > MAX_TARGETS:
        raise TaskInputError("targetUnits", f"at most {MAX_TARGETS} units at once")
    text = _text(spec.text, "text", required=True)
    attachments = check_attachments(spec.attachments, "attachments")
    deadline = as_utc(spec.deadline)
    if deadline is not None and deadline <= now:
        raise TaskInputError("deadline", "is in the past")
    case_id, case_number, mec_id = await _resolve_subject(session, caller, spec)
    batch = uuid.uuid4().hex
    tasks = []
    for unit_id in targets:
        region = directory.unit(unit_id).region_code
        head = directory.head_unit(region).id if region else None
        task = Task(
            batch_id=batch, kind=spec.kind, sender_unit_id=sender, target_unit_id=unit_id,
            escalation_unit_id=head, case_id=case_id, case_number=case_number, mec_id=mec_id,
            text=text, priority=spec.priority, deadline=deadline, attachments=attachments,
            state=TaskState.ISSUED.value, created_by=caller.principal_id, issued_at=now, updated_at=now,
        )
        session.add(task)
        tasks.append(task)
    await session.flush()
    events = [ev for t in tasks for ev in _events(t, "task_issued", [t.target_unit_id, t.sender_unit_id])]
    return tasks, await append_events(session, events, now)


async def load_for_update(session: AsyncSession, task_id: int) -> Task:
    q = select(Task).where(Task.id == task_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        q = q.with_for_update()
    task = (await session.execute(q)).scalar_one_or_none()
    if task is None:
        raise TaskNotFound("id", f"no task {task_id}")
    return task


def _require_state(task: Task, allowed: tuple[TaskState, ...], action: str) -> None:
    if task.state not in {s.value for s in allowed}:
        wanted = " or ".join(s.value for s in allowed)
        raise TaskConflict("id", f"cannot {action} task {task.id}: it is {task.state}, not {wanted}")


async def _changed(session: AsyncSession, task: Task, now: dt.datetime, **extra: Any) -> Appended:
    task.updated_at = now
    await session.flush()
    return await append_events(session, _events(task, "task_changed",
                                                [task.target_unit_id, task.sender_unit_id], **extra), now)


async def acknowledge(session: AsyncSession, caller: Caller, task_id: int, now: dt.datetime) -> tuple[Task, Appended]:
    """The receiving client got the task: issued → delivered. Idempotent afterwards."""
    task = await load_for_update(session, task_id)
    access.require_receiver(caller, task)
    if task.state != TaskState.ISSUED.value:
        return task, Appended([], [])
    task.state = TaskState.DELIVERED.value
    task.delivered_at = now
    return task, await _changed(session, task, now, change="delivered")


async def accept(session: AsyncSession, caller: Caller, task_id: int, now: dt.datetime) -> tuple[Task, Appended]:
    """delivered → accepted (accepting an issued task also records its delivery)."""
    task = await load_for_update(session, task_id)
    access.require_receiver(caller, task)
    _require_state(task, (TaskState.ISSUED, TaskState.DELIVERED), "accept")
    if task.delivered_at is None:
        task.delivered_at = now
    task.state = TaskState.ACCEPTED.value
    task.accepted_at = now
    return task, await _changed(session, task, now, change="accepted")


async def start(session: AsyncSession, caller: Caller, task_id: int, now: dt.datetime) -> tuple[Task, Appended]:
    task = await load_for_update(session, task_id)
    access.require_receiver(caller, task)
    _require_state(task, (TaskState.ACCEPTED,), "start")
    task.state = TaskState.IN_PROGRESS.value
    task.started_at = now
    return task, await _changed(session, task, now, change="in_progress")


async def refuse(session: AsyncSession, caller: Caller, task_id: int, reason: str,
                 now: dt.datetime) -> tuple[Task, Appended]:
    reason = _text(reason, "reason", required=True)
    task = await load_for_update(session, task_id)
    access.require_receiver(caller, task)
    _require_state(task, (TaskState.ISSUED, TaskState.DELIVERED, TaskState.ACCEPTED, TaskState.IN_PROGRESS), "refuse")
    task.state = TaskState.REFUSED.value
    task.refusal_reason = reason
    task.finished_at = now
    return task, await _changed(session, task, now, change="refused")


async def cancel(session: AsyncSession, caller: Caller, task_id: int, reason: str | None,
                 now: dt.datetime) -> tuple[Task, Appended]:
    task = await load_for_update(session, task_id)
    access.require_canceller(caller, task)
    if task.state in FINAL_STATES:
        raise TaskConflict("id", f"cannot cancel task {task.id}: it is already {task.state}")
    task.state = TaskState.CANCELLED.value
    task.refusal_reason = _text(reason or "", "reason") or None
    task.finished_at = now
    return task, await _changed(session, task, now, change="cancelled")


def validate_found(found: list[FoundIdentifier], pepper: bytes) -> list[MentionRecord]:
    if len(found) > MAX_FOUND:
        raise TaskInputError("result.identifiers", f"at most {MAX_FOUND} identifiers")
    out = []
    for i, item in enumerate(found):
        where = f"result.identifiers[{i}]"
        if item.role not in FOUND_ROLES:
            raise TaskInputError(f"{where}.role", "must be suspect or witness")
        try:
            ident = normalise(item.kind, item.value, pepper=pepper)
        except IdentifierError as exc:
            bad = "kind" if "unknown identifier kind" in exc.reason else "value"
            raise TaskInputError(f"{where}.{bad}", str(exc)) from None
        out.append(MentionRecord(ident, item.role, None))
    return out


async def complete(session: AsyncSession, caller: Caller, task_id: int, result: ResultSpec,
                   now: dt.datetime, *, pepper: bytes, directory: Directory) -> tuple[Task, Appended]:
    """in_progress → done, with findings linked into the task's case."""
    text = _text(result.text, "result.text")
    attachments = check_attachments(result.attachments, "result.attachments")
    mentions = validate_found(result.identifiers, pepper)
    task = await load_for_update(session, task_id)
    access.require_receiver(caller, task)
    _require_state(task, (TaskState.IN_PROGRESS,), "complete")
    case_id = task.case_id
    if case_id is None and task.mec_id is not None:
        region = directory.unit(task.target_unit_id).region_code
        case_id = await case_for_mec(session, task.mec_id, region)
    note = f"found by task {task.id} ({task.target_unit_id})"
    mentions = [MentionRecord(m.identifier, m.role, note) for m in mentions]
    added = await add_mentions(session, case_id, mentions) if (mentions and case_id is not None) else 0
    linked_case = None
    if case_id is not None and mentions:
        linked_case = (await session.execute(select(Case.registration_number).where(Case.id == case_id))).scalar_one()
    task.result = {
        "text": text,
        "identifiers": [{"kind": m.identifier.kind, "value": m.identifier.display, "role": m.role}
                        for m in mentions],
        "attachments": attachments,
        "linked_case": linked_case,
        "mentions_added": added,
    }
    task.state = TaskState.DONE.value
    task.finished_at = now
    return task, await _changed(session, task, now, change="done")
