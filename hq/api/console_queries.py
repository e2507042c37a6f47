"""Console queries: identifier, multiEpisodeCase(s), explain, reviewQueue, statistics.

Access follows `hq.console.visibility`; every resolver opens its own short session
(sibling fields run concurrently) and leaves relations to the DataLoaders.
"""

from __future__ import annotations

from typing import Optional

import strawberry
from sqlalchemy import select

from hq.access import case_scope
from hq.api import console_loaders as L
from hq.api.cases import check_page_size, decode_cursor, encode_cursor
from hq.api.console_types import (
    Decision,
    Explanation,
    ExplanationStep,
    HubEntry,
    IdentifierHit,
    MultiEpisodeCaseConnection,
    MultiEpisodeCaseEdge,
    MultiEpisodeCaseFilter,
    MultiEpisodeCaseSort,
    MultiEpisodeCaseType,
    PeriodInput,
    RegionCount,
    ReviewQueue,
    SplitRequest,
    Statistics,
    StatisticsGroupBy,
    StatisticsRow,
)
from hq.api.context import Context
from hq.api.errors import BadUserInput, ForbiddenError, NotFound
from hq.console import mec_query, review, stats
from hq.console.hints import thresholds
from hq.console.lookup import lookup
from hq.console.visibility import View, view_of
from hq.identifiers import IdentifierError
from hq.linking.explain import explain as explain_chain
from hq.models import Case as CaseRow
from hq.models import CaseLink
from hq.models import MultiEpisodeCase as MecRow
from hq.models import Scheme

Info = strawberry.Info[Context, None]
MAX_STAT_DAYS = 3700


def region_code(ctx: Context, code: str, field: str) -> str:
    try:
        return ctx.services.directory.region(code).code
    except ValueError:
        raise BadUserInput(f"unknown region {code!r}", field=field) from None


def mec_view(ctx: Context, field: str) -> tuple[View, Optional[str]]:
    """(view, scope region) for multi-episode case reads; liaisons are refused."""
    view = view_of(ctx.caller)
    if view is View.COUNT_ONLY:
        raise ForbiddenError("liaisons do not see multi-episode cases; use `identifier` for hit/no-hit", field=field)
    return view, (ctx.caller.region_code if view is View.OWN_REGION else None)


def to_type(rows: list[MecRow], view: View, scope: Optional[str]) -> list[MultiEpisodeCaseType]:
    return [MultiEpisodeCaseType.from_row(r, view, scope) for r in rows]


async def resolve_identifier(info: Info, kind: str, value: str) -> IdentifierHit:
    ctx = info.context
    view = view_of(ctx.caller)
    scope = ctx.caller.region_code if view is View.OWN_REGION else None
    try:
        async with ctx.sessions() as s:
            res = await lookup(s, kind.strip().lower(), value, ctx.settings.pepper,
                               detail=view is not View.COUNT_ONLY, cases_region=scope)
            mec_rows: list[MecRow] = []
            if res.mec_ids and view is not View.COUNT_ONLY:
                q = select(MecRow).where(MecRow.id.in_(res.mec_ids)).order_by(MecRow.size.desc(), MecRow.id)
                if scope is not None:
                    q = q.where(mec_query.has_episode(CaseRow.region_code == scope))
                mec_rows = list((await s.execute(q)).scalars())
    except IdentifierError as exc:
        field = "kind" if "unknown identifier kind" in exc.reason else "value"
        raise BadUserInput(str(exc), field=field) from None
    hit = IdentifierHit(kind=res.norm.kind, value=res.norm.display, known=res.known, case_count=res.case_count,
                        visibility=view.value)
    if view is View.COUNT_ONLY:
        return hit
    hit.suspect_case_count = res.suspect_cases
    hit.hub, hit.excluded, hit.excluded_reason = res.hub, res.excluded, res.excluded_reason
    hit.regions = [RegionCount(region_code=r, count=n) for r, n in sorted(res.region_counts.items(), key=lambda t: (-t[1], t[0]))]
    hit.registration_numbers = res.cases
    hit.multi_episode_case_count = len(res.mec_ids)
    hit.multi_episode_cases = to_type(mec_rows, view, scope)
    return hit


async def resolve_mec(info: Info, id: int) -> Optional[MultiEpisodeCaseType]:
    ctx = info.context
    view, scope = mec_view(ctx, "multiEpisodeCase")
    async with ctx.sessions() as s:
        q = select(MecRow).where(MecRow.id == id)
        if scope is not None:
            q = q.where(mec_query.has_episode(CaseRow.region_code == scope))
        row = (await s.execute(q)).scalar_one_or_none()
    return MultiEpisodeCaseType.from_row(row, view, scope) if row else None


def _filter_spec(ctx: Context, f: Optional[MultiEpisodeCaseFilter]) -> mec_query.MecFilterSpec:
    spec = mec_query.MecFilterSpec()
    if f is None:
        return spec
    if f.region:
        spec.region = region_code(ctx, f.region, "filter.region")
    for name in ("min_size", "max_size", "min_damage_kzt", "min_regions", "needs_review", "has_hub",
                 "date_from", "date_to"):
        setattr(spec, name, getattr(f, name))
    if f.status:
        allowed = ("open", "confirmed", "rejected", "dissolved")
        if f.status not in allowed:
            raise BadUserInput(f"must be one of {', '.join(allowed)}", field="filter.status")
        spec.status = f.status
    if f.scheme:
        if f.scheme not in {s.value for s in Scheme}:
            raise BadUserInput(f"must be one of {', '.join(s.value for s in Scheme)}", field="filter.scheme")
        spec.scheme = f.scheme
    return spec


async def resolve_mecs(info: Info, filter: Optional[MultiEpisodeCaseFilter] = None,
                       sort: MultiEpisodeCaseSort = mec_query.MecSort.SIZE_DESC,  # type: ignore[valid-type,assignment]
                       first: int = 20, after: Optional[str] = None) -> MultiEpisodeCaseConnection:
    ctx = info.context
    view, scope = mec_view(ctx, "multiEpisodeCases")
    check_page_size(first, ctx)
    sort_ = mec_query.MecSort(sort)
    cursor = None
    if after:
        parts = decode_cursor(after)
        try:
            if parts[0] != sort_.value:
                raise ValueError
            cursor = (mec_query.parse_cursor_value(sort_, parts[1]), int(parts[2]))
        except (IndexError, TypeError, ValueError):
            raise BadUserInput("is not a cursor of this sort order", field="after") from None
    conds = mec_query.conditions(_filter_spec(ctx, filter), scope_region=scope)
    async with ctx.sessions() as s:
        total, rows = await mec_query.page(s, conds, sort_, first, cursor)
    edges = [MultiEpisodeCaseEdge(cursor=encode_cursor(sort_.value, mec_query.cursor_value(r, sort_), r.id),
                                  node=MultiEpisodeCaseType.from_row(r, view, scope)) for r in rows[:first]]
    from hq.api.types import PageInfo

    return MultiEpisodeCaseConnection(edges=edges, total_count=total, page_info=PageInfo(
        has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None))


async def resolve_explain(info: Info, case_a: str, case_b: str) -> Explanation:
    ctx = info.context
    if view_of(ctx.caller) is not View.FULL:
        raise ForbiddenError("the chain names other regions' cases; ask HQ", field="explain")
    async with ctx.sessions() as s:
        ids: dict[str, int] = {}
        for field, reg in (("caseA", case_a), ("caseB", case_b)):
            cid = (await s.execute(select(CaseRow.id).where(CaseRow.registration_number == reg.strip(),
                                                            case_scope(ctx.caller)))).scalar_one_or_none()
            if cid is None:
                raise NotFound(f"no case {reg}", field=field)
            ids[field] = int(cid)
        chain = await explain_chain(s, ids["caseA"], ids["caseB"])
        mec_id = (await s.execute(select(CaseLink.mec_id).where(CaseLink.case_id == ids["caseA"]))).scalar_one_or_none()
    if chain is None:
        return Explanation(linked=False, multi_episode_case_id=None, steps=[],
                           summary=f"{case_a} and {case_b} are not in the same multi-episode case")
    steps = [ExplanationStep(from_case=st.from_case, identifier_kind=st.identifier_kind,
                             identifier_value=st.identifier_display, to_case=st.to_case,
                             note_from=st.note_from, note_to=st.note_to) for st in chain]
    summary = "; ".join(f"{st.from_case} and {st.to_case} both name {st.identifier_kind} {st.identifier_value}"
                        for st in steps) or "the same case"
    return Explanation(linked=True, multi_episode_case_id=mec_id, steps=steps, summary=summary)


async def resolve_review_queue(info: Info, first: int = 20) -> ReviewQueue:
    ctx = info.context
    if view_of(ctx.caller) is not View.FULL:
        raise ForbiddenError("the review queue is for HQ analysts and prosecutors", field="reviewQueue")
    check_page_size(first, ctx)
    st = ctx.settings
    large, _ = thresholds(st)
    async with ctx.sessions() as s:
        big = await review.large_merges(s, st.review_large_size, large, first)
        wide = await review.many_regions(s, st.review_many_regions, first)
        hubs = await review.hubs(s, first)
        splits = await review.split_requests(s, first)
    mec_loader = L.load(ctx, "mec_rows", L.mec_rows_loader)
    out_splits = []
    for d in splits:
        row = await mec_loader.load(d.mec_id)
        if row is None:
            continue
        out_splits.append(SplitRequest(
            decision=Decision(id=d.id, action=d.action, reason=d.reason, principal_id=d.principal_id,
                              principal_name=None, created_at=d.created_at, payload=d.payload),
            multi_episode_case=MultiEpisodeCaseType.from_row(row, View.FULL, None),
            region=(d.payload or {}).get("region"),
            registration_numbers=list((d.payload or {}).get("case_registration_numbers", []))))
    return ReviewQueue(large_merges=to_type(big, View.FULL, None), many_regions=to_type(wide, View.FULL, None),
                       hubs=[HubEntry(kind=i.kind, value=i.display, group_count=n) for i, n in hubs],
                       split_requests=out_splits)


def _label(ctx: Context, group_by: stats.GroupBy, key: str) -> str:
    if group_by is stats.GroupBy.REGION:
        try:
            return ctx.services.directory.region(key).name_en
        except ValueError:
            return key
    return key.replace("_", " ")


async def resolve_statistics(info: Info, period: PeriodInput, group_by: StatisticsGroupBy,  # type: ignore[valid-type]
                             region: Optional[str] = None) -> Statistics:
    ctx = info.context
    if view_of(ctx.caller) is View.COUNT_ONLY:
        raise ForbiddenError("statistics are for police and prosecutors", field="statistics")
    if period.date_to < period.date_from:
        raise BadUserInput("`to` is before `from`", field="period.to")
    if (period.date_to - period.date_from).days > MAX_STAT_DAYS:
        raise BadUserInput(f"a period is at most {MAX_STAT_DAYS} days", field="period")
    gb = stats.GroupBy(group_by)
    code = region_code(ctx, region, "region") if region else None
    async with ctx.sessions() as s:
        rows = await stats.statistics(s, period.date_from, period.date_to, gb, region=code)
    out = [StatisticsRow(key=r.key, label=_label(ctx, gb, r.key), registered=r.registered, solved=r.solved,
                         suspended=r.suspended, damage_kzt=r.damage_kzt, recovered_kzt=r.recovered_kzt) for r in rows]
    total = StatisticsRow(key="total", label="total", registered=sum(r.registered for r in rows),
                          solved=sum(r.solved for r in rows), suspended=sum(r.suspended for r in rows),
                          damage_kzt=sum(r.damage_kzt for r in rows), recovered_kzt=sum(r.recovered_kzt for r in rows))
    return Statistics(group_by=gb, date_from=period.date_from, date_to=period.date_to, rows=out, total=total)



