"""Tasking over GraphQL: issue and move tasks, read them in scope, follow a unit's feed.

Mutations commit first and then wake the feed hubs through the broker; a broker outage
therefore never loses a task (it is in the database and replays on reconnect).
`taskFeed(unit, since)` replays the unit's events after `since` and then streams live;
clients acknowledge a task with `acknowledgeTask(id)`, over HTTP or over the same
websocket (graphql-transport-ws runs mutations too), which is what marks it `delivered`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Optional

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.access import Forbidden
from hq.api.context import Context
from hq.api.errors import ApiError, BadUserInput, Conflict, ForbiddenError, NotFound
from hq.auth import Caller
from hq.models import Role
from hq.tasking import access, service
from hq.tasking.clock import clock_of
from hq.tasking.discipline import unit_discipline
from hq.tasking.escalation import late
from hq.tasking.events import Appended, FeedEvent, announce, begin_write
from hq.tasking.feed import unit_feed
from hq.tasking.models import Task as TaskRow
from hq.tasking.snapshot import task_snapshot

MAX_TASKS_PAGE = 500


def _dt(value: Optional[str]) -> Optional[dt.datetime]:
    return dt.datetime.fromisoformat(value) if value else None


@strawberry.type
class FoundIdentifier:
    kind: str
    value: str = strawberry.field(description="display form (card numbers masked)")
    role: str


@strawberry.type
class TaskResult:
    text: str
    identifiers: list[FoundIdentifier]
    attachments: list[str]
    linked_case: Optional[str] = strawberry.field(description="the case the identifiers were added to")
    mentions_added: int


@strawberry.type(description="A separate assignment to one unit.")
class Task:
    id: int
    batch_id: str = strawberry.field(description="shared by the tasks of one fan-out")
    kind: str
    state: str
    sender_unit: str
    target_unit: str
    escalation_unit: Optional[str] = strawberry.field(description="the target region's head unit")
    case_registration_number: Optional[str]
    multi_episode_case_id: Optional[int]
    text: str
    priority: str
    deadline: Optional[dt.datetime]
    attachments: list[str] = strawberry.field(description="SHA-256 digests")
    refusal_reason: Optional[str] = strawberry.field(description="why refused (or cancelled)")
    result: Optional[TaskResult]
    issued_at: dt.datetime
    delivered_at: Optional[dt.datetime]
    accepted_at: Optional[dt.datetime]
    started_at: Optional[dt.datetime]
    finished_at: Optional[dt.datetime]
    escalated: list[str] = strawberry.field(description="not_delivered and/or overdue, once escalated")

    @classmethod
    def from_snapshot(cls, d: dict[str, Any]) -> "Task":
        r = d.get("result")
        result = None
        if r:
            result = TaskResult(
                text=r.get("text", ""), attachments=list(r.get("attachments", [])),
                identifiers=[FoundIdentifier(kind=i["kind"], value=i["value"], role=i["role"])
                             for i in r.get("identifiers", [])],
                linked_case=r.get("linked_case"), mentions_added=int(r.get("mentions_added", 0)),
            )
        escalated = [name for name, key in (("not_delivered", "undelivered_escalated_at"),
                                            ("overdue", "overdue_escalated_at")) if d.get(key)]
        return cls(
            id=d["id"], batch_id=d["batch_id"], kind=d["kind"], state=d["state"],
            sender_unit=d["sender_unit"], target_unit=d["target_unit"],
            escalation_unit=d.get("escalation_unit"), case_registration_number=d.get("case_number"),
            multi_episode_case_id=d.get("mec_id"), text=d.get("text", ""), priority=d["priority"],
            deadline=_dt(d.get("deadline")), attachments=list(d.get("attachments", [])),
            refusal_reason=d.get("refusal_reason"), result=result, issued_at=_dt(d["issued_at"]),  # type: ignore[arg-type]
            delivered_at=_dt(d.get("delivered_at")), accepted_at=_dt(d.get("accepted_at")),
            started_at=_dt(d.get("started_at")), finished_at=_dt(d.get("finished_at")), escalated=escalated,
        )


@strawberry.type(description="One event of a unit's feed; `id` is the cursor to resume from.")
class TaskEvent:
    id: int
    kind: str = strawberry.field(description="task_issued, task_changed or task_escalated")
    unit: str
    at: dt.datetime
    change: Optional[str] = strawberry.field(description="for task_changed: the new state")
    reason: Optional[str] = strawberry.field(description="for task_escalated: not_delivered or overdue")
    task: Task = strawberry.field(description="the task as it was when the event happened")

    @classmethod
    def from_feed(cls, ev: FeedEvent) -> "TaskEvent":
        p = ev.payload
        return cls(id=ev.id, kind=ev.kind, unit=ev.unit_id, at=dt.datetime.fromisoformat(ev.created_at),
                   change=p.get("change"), reason=p.get("reason"), task=Task.from_snapshot(p["task"]))


@strawberry.type(description="Execution discipline of one receiving unit.")
class UnitDiscipline:
    unit: str
    count: int
    open: int
    accepted: int
    done: int
    refused: int
    overdue: int
    median_seconds_to_accept: Optional[float]
    done_on_time_share: Optional[float] = strawberry.field(
        description="of tasks with a deadline that are done or past it, the share done in time")


@strawberry.input
class IssueTaskInput:
    kind: str = strawberry.field(description="find_and_bring, interview, seize_device_or_sim, obtain_cctv, "
                                             "check_prior_crimes or other")
    target_units: list[str] = strawberry.field(description="one task is created per unit")
    text: str
    case_registration_number: Optional[str] = None
    multi_episode_case_id: Optional[int] = None
    priority: str = strawberry.field(default="normal", description="low, normal, high or urgent")
    deadline: Optional[dt.datetime] = None
    attachments: Optional[list[str]] = strawberry.field(default=None, description="SHA-256 digests (hex)")


@strawberry.input
class FoundIdentifierInput:
    kind: str
    value: str
    role: str = strawberry.field(default="suspect", description="suspect or witness")


@strawberry.input
class TaskResultInput:
    text: str = ""
    identifiers: Optional[list[FoundIdentifierInput]] = None
    attachments: Optional[list[str]] = None


# --- helpers ---------------------------------------------------------------------------------

def _api_error(exc: Exception) -> ApiError:
    if isinstance(exc, Forbidden):
        return ForbiddenError(exc.reason, field=exc.field)
    assert isinstance(exc, service.TaskError)
    cls = {"BAD_USER_INPUT": BadUserInput, "CONFLICT": Conflict, "NOT_FOUND": NotFound}[exc.code]
    return cls(exc.reason, field=exc.field)


Action = Callable[[AsyncSession, Caller, dt.datetime], Awaitable[tuple[Any, Appended]]]


async def _write(ctx: Context, action: Action) -> Any:
    """Run one tasking write in a transaction, then announce its events."""
    now = clock_of(ctx.services)()
    try:
        async with ctx.sessions.begin() as s:
            await begin_write(s)
            out, appended = await action(s, ctx.caller, now)
            snaps = [task_snapshot(t) for t in out] if isinstance(out, list) else task_snapshot(out)
    except (Forbidden, service.TaskError) as exc:
        raise _api_error(exc) from None
    response = getattr(ctx, "response", None)
    if response is not None and appended:  # lets bench/realtime time push latency from the commit
        response.headers["X-HQ-Committed-At"] = f"{time.time():.6f}"
    await announce(ctx.services.broker, appended)
    if isinstance(snaps, list):
        return [Task.from_snapshot(d) for d in snaps]
    return Task.from_snapshot(snaps)


def _reader(ctx: Context) -> Caller:
    caller = ctx.caller
    try:
        access.require_reader(caller)
    except Forbidden as exc:
        raise _api_error(exc) from None
    return caller


# --- roots -----------------------------------------------------------------------------------

@strawberry.type
class TasksQuery:
    @strawberry.field(description="One task, if it is in your scope.")
    async def task(self, info: strawberry.Info[Context, None], id: int) -> Optional[Task]:
        caller = _reader(info.context)
        async with info.context.sessions() as s:
            row = (await s.execute(select(TaskRow).where(TaskRow.id == id, access.task_scope(caller)))).scalar_one_or_none()
        return Task.from_snapshot(task_snapshot(row)) if row else None

    @strawberry.field(description="Tasks in your scope, newest first; filter by unit (sent or received), state, batch.")
    async def tasks(self, info: strawberry.Info[Context, None], unit: Optional[str] = None,
                    state: Optional[str] = None, batch_id: Optional[str] = None,
                    first: int = 50, before_id: Optional[int] = None) -> list[Task]:
        caller = _reader(info.context)
        if first < 1 or first > MAX_TASKS_PAGE:
            raise BadUserInput(f"must be between 1 and {MAX_TASKS_PAGE}", field="first")
        q = select(TaskRow).where(access.task_scope(caller))
        if unit:
            q = q.where((TaskRow.target_unit_id == unit) | (TaskRow.sender_unit_id == unit))
        if state:
            q = q.where(TaskRow.state == state)
        if batch_id:
            q = q.where(TaskRow.batch_id == batch_id)
        if before_id is not None:
            q = q.where(TaskRow.id < before_id)
        async with info.context.sessions() as s:
            rows = (await s.execute(q.order_by(TaskRow.id.desc()).limit(first))).scalars().all()
        return [Task.from_snapshot(task_snapshot(r)) for r in rows]

    @strawberry.field(description="Open tasks past their deadline or not delivered in time, in your scope.")
    async def overdue_tasks(self, info: strawberry.Info[Context, None]) -> list[Task]:
        ctx = info.context
        caller = _reader(ctx)
        now = clock_of(ctx.services)()
        timeout = dt.timedelta(seconds=ctx.settings.task_delivery_timeout)
        async with ctx.sessions() as s:
            rows = (await s.execute(
                select(TaskRow).where(access.task_scope(caller), late(now, timeout)).order_by(TaskRow.id)
            )).scalars().all()
        return [Task.from_snapshot(task_snapshot(r)) for r in rows]

    @strawberry.field(description="Per receiving unit: count, median time to accept, share done on time.")
    async def unit_discipline(self, info: strawberry.Info[Context, None],
                              units: Optional[list[str]] = None) -> list[UnitDiscipline]:
        ctx = info.context
        caller = _reader(ctx)
        if caller.role is Role.REGIONAL_OFFICER:
            if units and any(u != caller.unit_id for u in units):
                raise ForbiddenError("a regional officer sees the figures of their own unit only", field="units")
            units = [caller.unit_id or ""]
        async with ctx.sessions() as s:
            figures = await unit_discipline(s, clock_of(ctx.services)(), units)
        return [UnitDiscipline(unit=f.unit, count=f.count, open=f.open, accepted=f.accepted, done=f.done,
                               refused=f.refused, overdue=f.overdue,
                               median_seconds_to_accept=f.median_seconds_to_accept,
                               done_on_time_share=f.done_on_time_share) for f in figures]


@strawberry.type
class TasksMutation:
    @strawberry.mutation(description="Issue a task to one or several units (one task per unit, one batch).")
    async def issue_task(self, info: strawberry.Info[Context, None], input: IssueTaskInput) -> list[Task]:
        ctx = info.context
        spec = service.IssueSpec(
            kind=input.kind, target_units=list(input.target_units), text=input.text,
            case_number=input.case_registration_number, mec_id=input.multi_episode_case_id,
            priority=input.priority, deadline=input.deadline, attachments=list(input.attachments or []),
        )
        directory = ctx.services.directory
        return await _write(ctx, lambda s, c, now: service.issue_tasks(s, c, spec, directory, now))

    @strawberry.mutation(description="The receiving unit's client got the task: marks it delivered.")
    async def acknowledge_task(self, info: strawberry.Info[Context, None], id: int) -> Task:
        return await _write(info.context, lambda s, c, now: service.acknowledge(s, c, id, now))

    @strawberry.mutation(description="The receiving unit takes the task on.")
    async def accept_task(self, info: strawberry.Info[Context, None], id: int) -> Task:
        return await _write(info.context, lambda s, c, now: service.accept(s, c, id, now))

    @strawberry.mutation(description="Work on an accepted task has started.")
    async def start_task(self, info: strawberry.Info[Context, None], id: int) -> Task:
        return await _write(info.context, lambda s, c, now: service.start(s, c, id, now))

    @strawberry.mutation(description="Finish a task; identifiers found are added to its case and re-linked.")
    async def complete_task(self, info: strawberry.Info[Context, None], id: int, result: TaskResultInput) -> Task:
        ctx = info.context
        spec = service.ResultSpec(
            text=result.text,
            identifiers=[service.FoundIdentifier(i.kind, i.value, i.role) for i in (result.identifiers or [])],
            attachments=list(result.attachments or []),
        )
        pepper, directory = ctx.settings.pepper, ctx.services.directory
        return await _write(ctx, lambda s, c, now: service.complete(s, c, id, spec, now, pepper=pepper,
                                                                   directory=directory))

    @strawberry.mutation(description="The receiving unit refuses the task, saying why.")
    async def refuse_task(self, info: strawberry.Info[Context, None], id: int, reason: str) -> Task:
        return await _write(info.context, lambda s, c, now: service.refuse(s, c, id, reason, now))

    @strawberry.mutation(description="The sender (or HQ) withdraws an open task.")
    async def cancel_task(self, info: strawberry.Info[Context, None], id: int,
                          reason: Optional[str] = None) -> Task:
        return await _write(info.context, lambda s, c, now: service.cancel(s, c, id, reason, now))


@strawberry.type
class TasksSubscription:
    @strawberry.subscription(description="A unit's events after `since` (0 = from the start): replayed, then live.")
    async def task_feed(self, info: strawberry.Info[Context, None], unit: str,
                        since: int) -> AsyncGenerator[TaskEvent, None]:
        ctx = info.context
        caller = _reader(ctx)
        try:
            access.require_feed(caller, unit)
        except Forbidden as exc:
            raise _api_error(exc) from None
        try:
            ctx.services.directory.unit(unit)
        except KeyError:
            raise BadUserInput(f"unknown unit {unit!r}", field="unit") from None
        if since < 0:
            raise BadUserInput("must be 0 or an event id", field="since")
        hub = ctx.services.extras["feed_hub"]
        async for ev in unit_feed(hub, unit, since):
            yield TaskEvent.from_feed(ev)
