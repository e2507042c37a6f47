"""Console mutations: the analyst's decisions, each one row in mec_decisions (who, when, why).

Only hq_analyst and admin decide (FORBIDDEN otherwise); a regional officer may only
`requestSplit`. Engine errors (`DecisionError`) map one-to-one onto the API's coded errors.
After commit, changed multi-episode cases are announced to live subscribers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import NoReturn, Optional

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.api.console_types import IdentifierDecisionResult, MultiEpisodeCaseType, SplitResult
from hq.api.context import Context
from hq.api.errors import ApiError, BadUserInput, Conflict, ForbiddenError, NotFound
from hq.console import actions
from hq.console.visibility import View, can_decide
from hq.identifiers import IdentifierError, normalise
from hq.linking import decisions
from hq.linking.decisions import DecisionError
from hq.models import Case as CaseRow
from hq.models import Identifier, MecStatus, Role
from hq.models import MultiEpisodeCase as MecRow

Info = strawberry.Info[Context, None]
ERRORS: dict[str, type[ApiError]] = {"NOT_FOUND": NotFound, "CONFLICT": Conflict, "BAD_USER_INPUT": BadUserInput,
                                     "FORBIDDEN": ForbiddenError}


def api_error(exc: DecisionError) -> NoReturn:
    raise ERRORS.get(exc.code, BadUserInput)(exc.reason, field=exc.field) from None


def require_decider(ctx: Context, field: str) -> int:
    if not can_decide(ctx.caller):
        raise ForbiddenError(f"only hq_analyst or admin may {field}; you are {ctx.caller.role.value}", field=field)
    return ctx.caller.principal_id


def need_reason(reason: Optional[str]) -> str:
    if reason is None or not reason.strip():
        raise BadUserInput("say why: the decision is recorded with its reason", field="reason")
    return reason.strip()


async def announce(ctx: Context, mec_ids: Iterable[int]) -> None:
    from hq.api import console_live

    await console_live.publish_changed(ctx.services, set(mec_ids))


async def _fresh(ctx: Context, mec_ids: Iterable[int]) -> list[MultiEpisodeCaseType]:
    ids = sorted(set(mec_ids))
    if not ids:
        return []
    async with ctx.sessions() as s:
        rows = (await s.execute(select(MecRow).where(MecRow.id.in_(ids), MecRow.status != MecStatus.DISSOLVED.value)
                                .order_by(MecRow.id))).scalars().all()
    return [MultiEpisodeCaseType.from_row(r, View.FULL, None) for r in rows]


async def _one(ctx: Context, mec_id: int) -> MultiEpisodeCaseType:
    async with ctx.sessions() as s:
        row = await s.get(MecRow, mec_id)
    if row is None:
        raise NotFound(f"no multi-episode case {mec_id}", field="id")
    view = View.FULL if can_decide(ctx.caller) or ctx.caller.role is Role.PROSECUTOR else View.OWN_REGION
    scope = ctx.caller.region_code if view is View.OWN_REGION else None
    return MultiEpisodeCaseType.from_row(row, view, scope)


async def _decide_one(info: Info, field: str, id: int, act: Callable[[AsyncSession, int], Awaitable[object]],
                      *, announce_after: bool = True) -> MultiEpisodeCaseType:
    """A decision about one multi-episode case: deciders only, one transaction, coded errors, the case back.

    `act(session, principal_id)` runs after the role check, so a caller who may not decide
    hears FORBIDDEN before any complaint about the input.
    """
    ctx = info.context
    who = require_decider(ctx, field)
    try:
        async with ctx.sessions.begin() as s:
            await act(s, who)
    except DecisionError as exc:
        api_error(exc)
    if announce_after:
        await announce(ctx, [id])
    return await _one(ctx, id)


async def confirm_mec(info: Info, id: int, reason: Optional[str] = None) -> MultiEpisodeCaseType:
    return await _decide_one(info, "confirmMultiEpisodeCase", id,
                             lambda s, who: decisions.confirm(s, id, who, reason))


async def reject_mec(info: Info, id: int, reason: str) -> MultiEpisodeCaseType:
    return await _decide_one(info, "rejectMultiEpisodeCase", id,
                             lambda s, who: decisions.reject(s, id, who, need_reason(reason)), announce_after=False)


async def split_mec(info: Info, id: int, case_ids: list[str], reason: str) -> SplitResult:
    ctx = info.context
    who = require_decider(ctx, "splitMultiEpisodeCase")
    why = need_reason(reason)
    regs = sorted({c.strip() for c in case_ids if c.strip()})
    try:
        async with ctx.sessions.begin() as s:
            found = dict((r, int(i)) for r, i in await s.execute(
                select(CaseRow.registration_number, CaseRow.id).where(CaseRow.registration_number.in_(regs))))
            missing = [r for r in regs if r not in found]
            if missing:
                raise BadUserInput(f"no case {', '.join(missing)}", field="caseIds")
            mec = await s.get(MecRow, id)
            if mec is not None and mec.status == MecStatus.DISSOLVED.value:
                raise Conflict(f"multi-episode case {id} no longer exists", field="id")
            changed = await decisions.split(s, id, set(found.values()), who, why)
    except DecisionError as exc:
        api_error(exc)
    await announce(ctx, changed | {id})
    return SplitResult(multi_episode_cases=await _fresh(ctx, changed | {id}))


async def _set_excluded(info: Info, kind: str, value: str, reason: str, excluded: bool,
                        field: str) -> IdentifierDecisionResult:
    ctx = info.context
    who = require_decider(ctx, field)
    why = need_reason(reason)
    try:
        norm = normalise(kind.strip().lower(), value, pepper=ctx.settings.pepper)
    except IdentifierError as exc:
        raise BadUserInput(str(exc), field="kind" if "unknown identifier kind" in exc.reason else "value") from None
    try:
        async with ctx.sessions.begin() as s:
            ident_id = (await s.execute(select(Identifier.id).where(
                Identifier.kind == norm.kind, Identifier.key == norm.key))).scalar_one_or_none()
            if ident_id is None:
                raise NotFound(f"no case mentions {norm.kind} {norm.display}", field="value")
            changed = await decisions.set_excluded(s, int(ident_id), excluded, who, why)
    except DecisionError as exc:
        if exc.field == "identifier":
            exc.field = "value"
        api_error(exc)
    await announce(ctx, changed)
    return IdentifierDecisionResult(kind=norm.kind, value=norm.display, excluded=excluded,
                                    changed_multi_episode_cases=await _fresh(ctx, changed))


async def exclude_identifier(info: Info, kind: str, value: str, reason: str) -> IdentifierDecisionResult:
    return await _set_excluded(info, kind, value, reason, True, "excludeIdentifier")


async def restore_identifier(info: Info, kind: str, value: str, reason: str) -> IdentifierDecisionResult:
    return await _set_excluded(info, kind, value, reason, False, "restoreIdentifier")


async def set_lead_region(info: Info, id: int, unit: str, reason: Optional[str] = None) -> MultiEpisodeCaseType:
    return await _decide_one(info, "setLeadRegion", id,
                             lambda s, who: actions.set_lead(s, info.context.services.directory, id, unit, reason, who))


async def add_note(info: Info, id: int, text: str) -> MultiEpisodeCaseType:
    return await _decide_one(info, "addNote", id, lambda s, who: actions.add_note(s, id, text, who),
                             announce_after=False)


async def request_split(info: Info, id: int, reason: str, case_ids: Optional[list[str]] = None) -> MultiEpisodeCaseType:
    """A regional officer asks HQ to take their region's episodes out of a multi-episode case."""
    ctx = info.context
    caller = ctx.caller
    if caller.role is not Role.REGIONAL_OFFICER and not can_decide(caller):
        raise ForbiddenError("only regional officers and HQ analysts request splits", field="requestSplit")
    region = caller.region_code if caller.role is Role.REGIONAL_OFFICER else None
    try:
        async with ctx.sessions.begin() as s:
            await actions.request_split(s, id, region, list(case_ids or []), reason, caller.principal_id)
    except DecisionError as exc:
        api_error(exc)
    return await _one(ctx, id)
