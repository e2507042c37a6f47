"""GraphQL types of the analyst console: multi-episode cases, hit/no-hit answers, statistics.

Objects are snapshots of rows plus private scope; every list relation resolves through a
DataLoader in `console_loaders`, and every scope decision through `hq.console.visibility`.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

import strawberry
from strawberry.scalars import JSON

from hq.api import console_loaders as L
from hq.api.cases import decode_cursor, encode_cursor
from hq.api.context import Context
from hq.api.errors import BadUserInput
from hq.api.scalars import BigInt
from hq.api.types import Case, CaseConnection, CaseEdge, PageInfo, Region, Unit, _directory_region
from hq.console import hints as hints_mod
from hq.console.mec_query import MecSort
from hq.console.stats import GroupBy
from hq.console.visibility import View
from hq.models import MultiEpisodeCase as MecRow
from regions import Unit as DirUnit

MultiEpisodeCaseSort = strawberry.enum(MecSort, name="MultiEpisodeCaseSort")
StatisticsGroupBy = strawberry.enum(GroupBy, name="StatisticsGroupBy")


def from_directory(u: DirUnit) -> Unit:
    return Unit(id=u.id, kind=u.kind, region_code=u.region_code, parent_id=u.parent_id, name_en=u.name_en,
                name_ru=u.name_ru, name_kk=u.name_kk, is_head=u.head)


def unit_of(ctx: Context, unit_id: str | None) -> Optional[Unit]:
    if not unit_id:
        return None
    try:
        return from_directory(ctx.services.directory.unit(unit_id))
    except KeyError:
        return None


def head_unit(ctx: Context, region_code: str) -> Optional[Unit]:
    try:
        return from_directory(ctx.services.directory.head_unit(region_code))
    except (LookupError, ValueError):
        return None


@strawberry.type(description="How many cases of one region, and whom to contact there (its head unit).")
class RegionCount:
    region_code: strawberry.Private[str]
    count: int

    @strawberry.field
    def region(self, info: strawberry.Info[Context, None]) -> Region:
        return _directory_region(info.context, self.region_code)

    @strawberry.field(description="the region's head unit: the contact for its cases")
    def contact(self, info: strawberry.Info[Context, None]) -> Optional[Unit]:
        return head_unit(info.context, self.region_code)


@strawberry.type(description="A perpetrator-side identifier mentioned by two or more episodes.")
class TyingIdentifier:
    kind: str
    value: str = strawberry.field(description="display form; cards are masked")
    strength: str
    case_count: int
    hub: bool


@strawberry.type(description="One entry of a multi-episode case's decision history (append-only).")
class Decision:
    id: int
    action: str = strawberry.field(description="engine_created, engine_joined, engine_dissolved, confirm, reject, "
                                               "split, split_requested, exclude_identifier, restore_identifier, "
                                               "set_lead, note")
    reason: Optional[str]
    principal_id: Optional[int]
    principal_name: Optional[str]
    created_at: dt.datetime
    payload: Optional[JSON]


@strawberry.type
class QualificationHint:
    code: str
    part: str = strawberry.field(description="Criminal Code article and part, e.g. 190.3")
    reason: str


@strawberry.type(description="Art. 190 hints: advice for the analyst, not a verdict.")
class QualificationHints:
    hints: list[QualificationHint]
    mci_kzt: int
    large_amount_kzt: BigInt  # type: ignore[valid-type]
    especially_large_amount_kzt: BigInt  # type: ignore[valid-type]
    disclaimer: str


@strawberry.type(name="MultiEpisodeCase",
                 description="Cases in any regions tied by perpetrator-side identifiers: one gang, many episodes.")
class MultiEpisodeCaseType:
    view: strawberry.Private[View]
    scope_region: strawberry.Private[Optional[str]]
    lead_unit_id: strawberry.Private[Optional[str]]
    id: int
    status: str
    size: int
    region_count: int
    victims: int
    damage_kzt: BigInt  # type: ignore[valid-type]
    recovered_kzt: BigInt  # type: ignore[valid-type]
    first_date: Optional[dt.date]
    last_date: Optional[dt.date]
    has_hub: bool
    needs_review: bool
    merged_into_id: Optional[int]
    lead_reason: Optional[str]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: MecRow, view: View, scope_region: str | None) -> "MultiEpisodeCaseType":
        return cls(view=view, scope_region=scope_region, lead_unit_id=row.lead_unit_id, id=row.id, status=row.status,
                   size=row.size, region_count=row.region_count, victims=row.victims, damage_kzt=row.damage_kzt,
                   recovered_kzt=row.recovered_kzt, first_date=row.first_date, last_date=row.last_date,
                   has_hub=row.has_hub, needs_review=row.needs_review, merged_into_id=row.merged_into_id,
                   lead_reason=row.lead_reason, created_at=row.created_at, updated_at=row.updated_at)

    @strawberry.field(description="the unit named to lead the joined investigation")
    def lead_unit(self, info: strawberry.Info[Context, None]) -> Optional[Unit]:
        return unit_of(info.context, self.lead_unit_id)

    @strawberry.field
    def lead_region(self, info: strawberry.Info[Context, None]) -> Optional[Region]:
        unit = unit_of(info.context, self.lead_unit_id)
        return _directory_region(info.context, unit.region_code) if unit and unit.region_code else None

    @strawberry.field(description="episodes, oldest first; a regional officer sees only their region's")
    async def episodes(self, info: strawberry.Info[Context, None], first: int = 20,
                       after: Optional[str] = None) -> CaseConnection:
        from hq.api.cases import check_page_size

        check_page_size(first, info.context)
        offset = 0
        if after:
            parts = decode_cursor(after)
            if len(parts) != 2 or parts[0] != "ep" or not isinstance(parts[1], int) or parts[1] < 0:
                raise BadUserInput("is not an episodes cursor returned by this API", field="after")
            offset = parts[1]
        page: L.EpisodePage = await L.load(info.context, "episodes", L.episodes_loader).load(
            (self.id, first, offset, self.scope_region))
        edges = [CaseEdge(cursor=encode_cursor("ep", pos), node=Case.from_row(row)) for row, pos in page.rows[:first]]
        return CaseConnection(edges=edges, total_count=page.total,
                              page_info=PageInfo(has_next_page=len(page.rows) > first,
                                                 end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description="episodes per region, largest first, with each region's contact")
    async def regions(self, info: strawberry.Info[Context, None]) -> list[RegionCount]:
        rows = await L.load(info.context, "regions", L.region_counts_loader).load(self.id)
        return [RegionCount(region_code=r, count=n) for r, n in rows]

    @strawberry.field(description="linkable identifiers mentioned by two or more episodes (a regional officer: "
                                  "only those their own episodes mention)")
    async def tying_identifiers(self, info: strawberry.Info[Context, None]) -> list[TyingIdentifier]:
        ev: L.Evidence = await L.load(info.context, "evidence", L.evidence_loader).load(self.id)
        rows = ev.tying
        if self.scope_region is not None:
            own = ev.by_region.get(self.scope_region, set())
            rows = [t for t in rows if t.identifier_id in own]
        return [TyingIdentifier(kind=t.kind, value=t.display, strength=t.strength, case_count=t.case_count, hub=t.hub)
                for t in rows]

    @strawberry.field(description="who decided what, when and why, oldest first")
    async def decisions(self, info: strawberry.Info[Context, None]) -> list[Decision]:
        rows = await L.load(info.context, "decisions", L.decisions_loader).load(self.id)
        full = self.view is View.FULL
        return [Decision(id=d.id, action=d.action, reason=d.reason, principal_id=d.principal_id if full else None,
                         principal_name=name if full else None, created_at=d.created_at,
                         payload=d.payload if full else None) for d, name in rows]

    @strawberry.field(description="art. 190 qualification hints (advice, not a verdict)")
    async def qualification_hints(self, info: strawberry.Info[Context, None]) -> QualificationHints:
        settings = info.context.settings
        ev: L.Evidence = await L.load(info.context, "evidence", L.evidence_loader).load(self.id)
        iins, cards = ev.iins, ev.cards
        found = hints_mod.qualification_hints(episodes=self.size, victims=self.victims, damage_kzt=self.damage_kzt,
                                              suspect_iins=iins, suspect_cards=cards, settings=settings)
        large, especially = hints_mod.thresholds(settings)
        return QualificationHints(hints=[QualificationHint(code=h.code, part=h.part, reason=h.reason) for h in found],
                                  mci_kzt=settings.mci_kzt, large_amount_kzt=large,
                                  especially_large_amount_kzt=especially, disclaimer=hints_mod.DISCLAIMER)


@strawberry.type
class MultiEpisodeCaseEdge:
    cursor: str
    node: MultiEpisodeCaseType


@strawberry.type
class MultiEpisodeCaseConnection:
    edges: list[MultiEpisodeCaseEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input
class MultiEpisodeCaseFilter:
    region: Optional[str] = None
    min_size: Optional[int] = None
    max_size: Optional[int] = None
    min_damage_kzt: Optional[BigInt] = None  # type: ignore[valid-type]
    min_regions: Optional[int] = None
    status: Optional[str] = strawberry.field(default=None, description="open, confirmed, rejected, dissolved; "
                                                                       "default: all but dissolved")
    scheme: Optional[str] = strawberry.field(default=None, description="at least one episode of this scheme")
    date_from: Optional[dt.date] = strawberry.field(default=None, description="last episode on or after")
    date_to: Optional[dt.date] = strawberry.field(default=None, description="first episode on or before")
    needs_review: Optional[bool] = None
    has_hub: Optional[bool] = None


@strawberry.type(description="Hit/no-hit answer. What is filled depends on `visibility` (see the README).")
class IdentifierHit:
    kind: str
    value: str = strawberry.field(description="the normalised display form (cards masked)")
    known: bool
    case_count: int
    visibility: str = strawberry.field(description="full, own_region or count_only")
    suspect_case_count: Optional[int] = None
    hub: Optional[bool] = None
    excluded: Optional[bool] = None
    excluded_reason: Optional[str] = None
    regions: Optional[list[RegionCount]] = None
    registration_numbers: Optional[list[str]] = strawberry.field(
        default=None, description="cases you may open (a regional officer: own region only; at most 50)")
    multi_episode_case_count: Optional[int] = None
    multi_episode_cases: Optional[list[MultiEpisodeCaseType]] = strawberry.field(
        default=None, description="the multi-episode cases mentioning it (a regional officer: those with an episode "
                                  "of their region)")


@strawberry.type
class ExplanationStep:
    from_case: str
    identifier_kind: str
    identifier_value: str
    to_case: str
    note_from: Optional[str]
    note_to: Optional[str]


@strawberry.type(description="Why two cases are in one multi-episode case: the chain of shared evidence.")
class Explanation:
    linked: bool
    multi_episode_case_id: Optional[int]
    steps: list[ExplanationStep]
    summary: str


@strawberry.type
class StatisticsRow:
    key: str = strawberry.field(description="region code, scheme, YYYY-MM or status")
    label: str
    registered: int
    solved: int = strawberry.field(description="solved or sent to court")
    suspended: int
    damage_kzt: BigInt  # type: ignore[valid-type]
    recovered_kzt: BigInt  # type: ignore[valid-type]


@strawberry.type
class Statistics:
    group_by: StatisticsGroupBy  # type: ignore[valid-type]
    date_from: dt.date
    date_to: dt.date
    rows: list[StatisticsRow]
    total: StatisticsRow


@strawberry.input
class PeriodInput:
    date_from: dt.date = strawberry.field(name="from")
    date_to: dt.date = strawberry.field(name="to")


@strawberry.type
class HubEntry:
    kind: str
    value: str
    group_count: int = strawberry.field(description="unrelated core groups using it")


@strawberry.type
class SplitRequest:
    decision: Decision
    multi_episode_case: MultiEpisodeCaseType
    region: Optional[str]
    registration_numbers: list[str]


@strawberry.type(description="What waits for a human decision.")
class ReviewQueue:
    large_merges: list[MultiEpisodeCaseType]
    many_regions: list[MultiEpisodeCaseType]
    hubs: list[HubEntry]
    split_requests: list[SplitRequest]


@strawberry.type
class SplitResult:
    multi_episode_cases: list[MultiEpisodeCaseType] = strawberry.field(
        description="the multi-episode cases the split left (dissolved ones omitted)")


@strawberry.type
class IdentifierDecisionResult:
    kind: str
    value: str
    excluded: bool
    changed_multi_episode_cases: list[MultiEpisodeCaseType]
