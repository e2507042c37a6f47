"""Requests to banks and operators over GraphQL: police send, liaisons receive live and answer.

Police and prosecutors get `LiaisonRequest`, a liaison gets `IncomingRequest` (types in
hq.api.liaison_types): isolation is in the types as well as in the queries. Any request
outside the caller's scope is NOT_FOUND (see hq.liaison.access for why not FORBIDDEN).

Writes commit first and then wake the feed hubs (tasking's event log and broker), so a
broker outage never loses a request: it replays on reconnect.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Optional

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON

from hq.access import Forbidden
from hq.api.context import Context
from hq.api.errors import ApiError, BadUserInput, Conflict, ForbiddenError, NotFound
from hq.api.liaison_types import (
    AnswerInput, CreateRequestInput, IncomingRequest, IncomingRequestEvent, LiaisonRequest, LiaisonRequestEvent,
    OrganisationFigures, RequestDetailsInput, RequestKindInfo, liaison_view, staff_view, to_details,
)
from hq.audit.recorder import record_reads
from hq.auth import Caller
from hq.liaison import access, answers, deadlines, record, requests
from hq.liaison.feed import feed_key, publish
from hq.liaison.integrity import actor_of
from hq.liaison.kinds import RULES
from hq.liaison.models import OPEN_STATES, LiaisonRequest as RequestRow
from hq.liaison.requests import LiaisonError, NewRequest
from hq.models import Role
from hq.tasking.clock import clock_of
from hq.tasking.events import Appended, begin_write
from hq.tasking.feed import unit_feed

MAX_PAGE = 500


# --- helpers -----------------------------------------------------------------------------------

def _api_error(exc: Exception) -> ApiError:
    if isinstance(exc, Forbidden):
        return ForbiddenError(exc.reason, field=exc.field)
    assert isinstance(exc, LiaisonError)
    cls = {"BAD_USER_INPUT": BadUserInput, "CONFLICT": Conflict, "NOT_FOUND": NotFound,
           "FORBIDDEN": ForbiddenError}[exc.code]
    return cls(exc.reason, field=exc.field)


def _guard(check: Callable[[Caller], Any], caller: Caller) -> Any:
    try:
        return check(caller)
    except Forbidden as exc:
        raise _api_error(exc) from None


Action = Callable[[AsyncSession, Caller, dt.datetime], Awaitable[tuple[Any, Appended]]]


async def _views(s: AsyncSession, ctx: Context, rows: list[RequestRow],
                 now: dt.datetime) -> tuple[list[Any], list[record.Bundle]]:
    """The caller's view of each row (liaison or staff), built inside the session."""
    bundles = await record.load(s, rows)
    view = liaison_view if ctx.caller.role is Role.LIAISON else staff_view
    return [view(b, now, ctx.services.directory) for b in bundles], bundles


async def _audit(ctx: Context, bundles: list[record.Bundle], *extra: str) -> None:
    """Audit reads of answers (holders, accounts: bank secret) and of full card numbers
    (liaison view), after the session is closed; fail-closed like every audited read."""
    objects: list[tuple[str, str | int]] = []
    fields: set[str] = set(extra)
    for b in bundles:
        shown = ["answers"] if b.parts else []
        if ctx.caller.role is Role.LIAISON and b.current.secret:
            shown.append("identifiers.card_number")
        if shown or extra:
            objects.append(("liaison_request", b.request.id))
            fields.update(shown)
    await record_reads(ctx, objects, sorted(fields), operation="read liaison_request")


async def _select(ctx: Context, query: Any) -> list[Any]:
    now = clock_of(ctx.services)()
    async with ctx.sessions() as s:
        rows = list((await s.execute(query)).scalars())
        views, bundles = await _views(s, ctx, rows, now)
    await _audit(ctx, bundles)
    return views


async def _write(ctx: Context, action: Action) -> list[Any]:
    """One liaison write in a transaction; events are announced after commit."""
    now = clock_of(ctx.services)()
    try:
        async with ctx.sessions.begin() as s:
            await begin_write(s)
            out, appended = await action(s, ctx.caller, now)
            rows = out if isinstance(out, list) else [out]
            views, bundles = await _views(s, ctx, rows, now)
    except (Forbidden, LiaisonError) as exc:
        raise _api_error(exc) from None
    await publish(ctx.services, appended)
    await _audit(ctx, bundles)
    return views


async def _read_one(ctx: Context, request_id: int) -> Any:
    views = await _select(ctx, select(RequestRow).where(RequestRow.id == request_id,
                                                        access.request_scope(ctx.caller)))
    if not views:
        raise NotFound(f"no request {request_id}", field="id")
    return views[0]


# --- roots -------------------------------------------------------------------------------------

@strawberry.type
class LiaisonQuery:
    @strawberry.field(description="Request kinds, what each needs (sanction, period) and its deadline.")
    async def request_kinds(self, info: strawberry.Info[Context, None]) -> list[RequestKindInfo]:
        settings = info.context.settings
        info.context.caller
        return [RequestKindInfo(kind=k, summary=r.summary, needs_sanction=r.needs_sanction, needs_period=r.needs_period,
                                identifier_kinds=list(r.identifier_kinds), addressee_kinds=list(r.addressee_kinds),
                                fan_out_to_all_banks=r.fan_out,
                                deadline_hours=deadlines.deadline_hours(settings, k, False))
                for k, r in RULES.items()]

    @strawberry.field(description="Police and prosecutors: one request in your scope (NOT_FOUND otherwise).")
    async def liaison_request(self, info: strawberry.Info[Context, None], id: int) -> LiaisonRequest:
        _guard(access.require_staff, info.context.caller)
        return await _read_one(info.context, id)  # type: ignore[no-any-return]

    @strawberry.field(description="Police and prosecutors: requests in your scope, newest first.")
    async def liaison_requests(self, info: strawberry.Info[Context, None], organisation: Optional[str] = None,
                               state: Optional[str] = None, case_registration_number: Optional[str] = None,
                               batch_id: Optional[str] = None, first: int = 50,
                               before_id: Optional[int] = None) -> list[LiaisonRequest]:
        ctx = info.context
        _guard(access.require_staff, ctx.caller)
        if not 1 <= first <= MAX_PAGE:
            raise BadUserInput(f"must be between 1 and {MAX_PAGE}", field="first")
        q = select(RequestRow).where(access.request_scope(ctx.caller))
        for column, value in ((RequestRow.org_id, organisation), (RequestRow.state, state),
                              (RequestRow.case_number, case_registration_number), (RequestRow.batch_id, batch_id)):
            if value:
                q = q.where(column == value)
        if before_id is not None:
            q = q.where(RequestRow.id < before_id)
        return await _select(ctx, q.order_by(RequestRow.id.desc()).limit(first))

    @strawberry.field(description="Police and prosecutors: open requests past their due time, oldest due first.")
    async def overdue_requests(self, info: strawberry.Info[Context, None]) -> list[LiaisonRequest]:
        ctx = info.context
        _guard(access.require_staff, ctx.caller)
        now = clock_of(ctx.services)()
        return await _select(ctx, select(RequestRow).where(access.request_scope(ctx.caller),
                                                           deadlines.late_condition(now))
                             .order_by(RequestRow.due_at, RequestRow.id))

    @strawberry.field(description="Per organisation: median answer time, share answered on time, open now.")
    async def liaison_figures(self, info: strawberry.Info[Context, None],
                              organisations: Optional[list[str]] = None) -> list[OrganisationFigures]:
        ctx = info.context
        _guard(access.require_staff, ctx.caller)
        async with ctx.sessions() as s:
            figures = await deadlines.org_figures(s, clock_of(ctx.services)(), access.request_scope(ctx.caller),
                                                  organisations)
        return [OrganisationFigures(organisation=f.org_id, sent=f.sent, open=f.open, overdue_now=f.overdue_now,
                                    answered=f.answered, refused=f.refused,
                                    median_answer_seconds=f.median_answer_seconds,
                                    answered_on_time_share=f.answered_on_time_share) for f in figures]

    @strawberry.field(description="Liaisons: requests addressed to your organisation, newest first.")
    async def incoming_requests(self, info: strawberry.Info[Context, None], open_only: bool = True,
                                first: int = 100, before_id: Optional[int] = None) -> list[IncomingRequest]:
        ctx = info.context
        _guard(access.require_liaison, ctx.caller)
        if not 1 <= first <= MAX_PAGE:
            raise BadUserInput(f"must be between 1 and {MAX_PAGE}", field="first")
        q = select(RequestRow).where(access.request_scope(ctx.caller))
        if open_only:
            q = q.where(RequestRow.state.in_(OPEN_STATES))
        if before_id is not None:
            q = q.where(RequestRow.id < before_id)
        return await _select(ctx, q.order_by(RequestRow.id.desc()).limit(first))

    @strawberry.field(description="Liaisons: one request addressed to your organisation (NOT_FOUND otherwise).")
    async def incoming_request(self, info: strawberry.Info[Context, None], id: int) -> IncomingRequest:
        _guard(access.require_liaison, info.context.caller)
        return await _read_one(info.context, id)  # type: ignore[no-any-return]

    @strawberry.field(description="A request's record as one JSON document with its SHA-256 hashes, for the case file.")
    async def request_record(self, info: strawberry.Info[Context, None], id: int) -> JSON:
        ctx = info.context
        caller = ctx.caller
        now = clock_of(ctx.services)()
        async with ctx.sessions() as s:
            row = (await s.execute(select(RequestRow).where(RequestRow.id == id,
                                                            access.request_scope(caller)))).scalar_one_or_none()
            if row is None:
                raise NotFound(f"no request {id}", field="id")
            bundle = (await record.load(s, [row]))[0]
        await _audit(ctx, [bundle], "record")
        return record.export(bundle, exported_by=actor_of(caller), now=now,
                             for_liaison=caller.role is Role.LIAISON)


@strawberry.type
class LiaisonMutation:
    @strawberry.mutation(description="Create a request (a draft unless send: true); allBanks makes one per bank.")
    async def create_request(self, info: strawberry.Info[Context, None], input: CreateRequestInput) -> list[LiaisonRequest]:
        ctx = info.context
        spec = NewRequest(kind=input.kind, details=to_details(input.details), organisation=input.organisation,
                          all_banks=input.all_banks, case_number=input.case_registration_number,
                          mec_id=input.multi_episode_case_id, send=input.send)
        services = ctx.services
        return await _write(ctx, lambda s, c, now: requests.create(s, c, spec, directory=services.directory,
                                                                   settings=services.settings, now=now))

    @strawberry.mutation(description="Change a draft (omitted fields keep their value).")
    async def update_request_draft(self, info: strawberry.Info[Context, None], id: int,
                                   details: RequestDetailsInput) -> LiaisonRequest:
        ctx = info.context
        d = to_details(details)
        return (await _write(ctx, lambda s, c, now: requests.update_draft(s, c, id, d, settings=ctx.settings,
                                                                          now=now)))[0]

    @strawberry.mutation(description="Seal and send a draft; refused (naming the field) without a required sanction.")
    async def send_request(self, info: strawberry.Info[Context, None], id: int) -> LiaisonRequest:
        ctx = info.context
        return (await _write(ctx, lambda s, c, now: requests.send(s, c, id, settings=ctx.settings, now=now)))[0]

    @strawberry.mutation(description="Amend a sent request: a new sealed version; the old one is kept.")
    async def amend_request(self, info: strawberry.Info[Context, None], id: int, details: RequestDetailsInput,
                            reason: str) -> LiaisonRequest:
        ctx = info.context
        d = to_details(details)
        return (await _write(ctx, lambda s, c, now: requests.amend(s, c, id, d, reason, settings=ctx.settings,
                                                                   now=now)))[0]

    @strawberry.mutation(description="Liaisons: open a request addressed to you (marks it received).")
    async def open_request(self, info: strawberry.Info[Context, None], id: int) -> IncomingRequest:
        return (await _write(info.context, lambda s, c, now: requests.open_request(s, c, id, now=now)))[0]

    @strawberry.mutation(description="Liaisons: save (part of) an answer; complete: true closes it.")
    async def answer_request(self, info: strawberry.Info[Context, None], id: int, answer: AnswerInput,
                             complete: bool = False) -> IncomingRequest:
        ctx = info.context
        raw = dataclasses.asdict(answer)  # type: ignore[call-overload]
        services = ctx.services

        async def action(s: AsyncSession, c: Caller, now: dt.datetime) -> tuple[Any, Appended]:
            req, _, appended = await answers.save(s, c, id, raw, complete, pepper=services.settings.pepper,
                                                  directory=services.directory, now=now)
            return req, appended

        return (await _write(ctx, action))[0]

    @strawberry.mutation(description="Liaisons: refuse a request, saying why.")
    async def refuse_request(self, info: strawberry.Info[Context, None], id: int, reason: str) -> IncomingRequest:
        return (await _write(info.context, lambda s, c, now: requests.refuse(s, c, id, reason, now=now)))[0]


async def _feed(ctx: Context, since: int) -> AsyncGenerator[tuple[Any, Any], None]:
    caller = ctx.caller
    key = feed_key(caller)
    if key is None:
        raise ForbiddenError(f"role {caller.role.value} has no request feed")
    if since < 0:
        raise BadUserInput("must be 0 or an event id", field="since")
    hub = ctx.services.extras["feed_hub"]
    async for ev in unit_feed(hub, key, since):
        views = await _select(ctx, select(RequestRow).where(RequestRow.id == ev.task_id,
                                                            access.request_scope(caller)))
        yield ev, (views[0] if views else None)


@strawberry.type
class LiaisonSubscription:
    @strawberry.subscription(description="Liaisons: your organisation's request events after `since` "
                                         "(0 = from the start), replayed from the database, then live.")
    async def incoming_request_feed(self, info: strawberry.Info[Context, None],
                                    since: int) -> AsyncGenerator[IncomingRequestEvent, None]:
        _guard(access.require_liaison, info.context.caller)
        async for ev, view in _feed(info.context, since):
            yield IncomingRequestEvent(id=ev.id, kind=ev.kind, change=ev.payload.get("change"),
                                       at=dt.datetime.fromisoformat(ev.created_at), request_id=ev.task_id,
                                       request=view)

    @strawberry.subscription(description="Police: your unit's request events (HQ: escalations of all), "
                                         "replayed after `since`, then live.")
    async def liaison_request_feed(self, info: strawberry.Info[Context, None],
                                   since: int) -> AsyncGenerator[LiaisonRequestEvent, None]:
        _guard(access.require_staff, info.context.caller)
        async for ev, view in _feed(info.context, since):
            yield LiaisonRequestEvent(id=ev.id, kind=ev.kind, change=ev.payload.get("change"),
                                      reason=ev.payload.get("reason"), at=dt.datetime.fromisoformat(ev.created_at),
                                      request_id=ev.task_id, request=view)
