"""Per-request DataLoaders for multi-episode cases: one query per relation per page.

A page of N multi-episode cases asks for episodes, regions, tying identifiers, decisions
and hint counts; each loader answers all N at once (window functions for the episode
pages), so the statement count is a constant whatever N is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from strawberry.dataloader import DataLoader

from hq.api.context import Context
from hq.linking.rules import LINKABLE_STRENGTHS, LINKING_ROLE
from hq.models import Case as CaseRow
from hq.models import CaseLink, Identifier, IdentifierStat, MecDecision, Mention, Principal
from hq.models import MultiEpisodeCase as MecRow


@dataclass(frozen=True, slots=True)
class EpisodePage:
    rows: list[tuple[CaseRow, int]]  # (case, position from 1)
    total: int


@dataclass(frozen=True, slots=True)
class TyingRow:
    identifier_id: int
    kind: str
    display: str
    strength: str
    case_count: int
    hub: bool


EpisodeKey = tuple[int, int, int, "str | None"]  # mec id, first, offset, scope region


def episodes_loader(ctx: Context) -> DataLoader[EpisodeKey, EpisodePage]:
    async def load(keys: list[EpisodeKey]) -> list[EpisodePage]:
        groups: dict[tuple[int, int, str | None], list[int]] = defaultdict(list)
        for mec_id, first, offset, scope in keys:
            groups[(first, offset, scope)].append(mec_id)
        found: dict[EpisodeKey, EpisodePage] = {}
        async with ctx.sessions() as s:
            for (first, offset, scope), mec_ids in groups.items():
                rn = func.row_number().over(partition_by=CaseLink.mec_id,
                                            order_by=(CaseRow.registered_at, CaseRow.id)).label("rn")
                total = func.count().over(partition_by=CaseLink.mec_id).label("total")
                inner = (select(CaseRow, CaseLink.mec_id.label("mec_id"), rn, total)
                         .join(CaseLink, CaseLink.case_id == CaseRow.id)
                         .where(CaseLink.mec_id.in_(sorted(set(mec_ids)))))
                if scope is not None:
                    inner = inner.where(CaseRow.region_code == scope)
                sub = inner.subquery()
                c = aliased(CaseRow, sub)
                rows = await s.execute(
                    select(c, sub.c.mec_id, sub.c.rn, sub.c.total)
                    .where(sub.c.rn > offset, sub.c.rn <= offset + first + 1)
                    .order_by(sub.c.mec_id, sub.c.rn))
                by_mec: dict[int, list[tuple[CaseRow, int]]] = defaultdict(list)
                totals: dict[int, int] = {}
                for case, mec_id, pos, n in rows:
                    by_mec[int(mec_id)].append((case, int(pos)))
                    totals[int(mec_id)] = int(n)
                for mec_id in mec_ids:
                    found[(mec_id, first, offset, scope)] = EpisodePage(by_mec.get(mec_id, []), totals.get(mec_id, 0))
        return [found[k] for k in keys]

    return DataLoader(load_fn=load)


def region_counts_loader(ctx: Context) -> DataLoader[int, list[tuple[str, int]]]:
    async def load(mec_ids: list[int]) -> list[list[tuple[str, int]]]:
        out: dict[int, list[tuple[str, int]]] = defaultdict(list)
        async with ctx.sessions() as s:
            rows = await s.execute(
                select(CaseLink.mec_id, CaseRow.region_code, func.count())
                .join(CaseRow, CaseRow.id == CaseLink.case_id)
                .where(CaseLink.mec_id.in_(mec_ids))
                .group_by(CaseLink.mec_id, CaseRow.region_code))
            for mec_id, region, n in rows:
                out[int(mec_id)].append((region, int(n)))
        return [sorted(out[m], key=lambda t: (-t[1], t[0])) for m in mec_ids]

    return DataLoader(load_fn=load)


@dataclass(slots=True)
class Evidence:
    """Suspect-side mentions of one multi-episode case's episodes, digested."""

    tying: list[TyingRow]
    by_region: dict[str, set[int]]  # region -> identifier ids its episodes mention
    iins: int
    cards: int


CHUNK = 5000


def evidence_loader(ctx: Context) -> DataLoader[int, Evidence]:
    """Two plain index lookups (members by mec id, then their mentions by case id) and the
    counting in Python: joins from case_links to mentions tempt the planner into seq scans."""

    async def load(mec_ids: list[int]) -> list[Evidence]:
        member: dict[int, tuple[int, str]] = {}
        mentions: list[tuple[int, int, str, str, str, bool, bool]] = []
        async with ctx.sessions() as s:
            for cid, mid, region in await s.execute(
                    select(CaseLink.case_id, CaseLink.mec_id, CaseRow.region_code)
                    .join(CaseRow, CaseRow.id == CaseLink.case_id).where(CaseLink.mec_id.in_(mec_ids))):
                member[int(cid)] = (int(mid), region)
            ids = sorted(member)
            for i in range(0, len(ids), CHUNK):
                rows = await s.execute(
                    select(Mention.case_id, Identifier.id, Identifier.kind, Identifier.display, Identifier.strength,
                           Identifier.excluded, func.coalesce(IdentifierStat.hub, False))
                    .join(Identifier, Identifier.id == Mention.identifier_id)
                    .outerjoin(IdentifierStat, IdentifierStat.identifier_id == Identifier.id)
                    .where(Mention.case_id.in_(ids[i:i + CHUNK]), Mention.role == LINKING_ROLE))
                mentions.extend((int(c), int(iid), k, d, st, bool(x), bool(h)) for c, iid, k, d, st, x, h in rows)
        cases_of: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
        info: dict[int, tuple[str, str, str, bool]] = {}
        regions: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        persons: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        for cid, iid, kind, display, strength, excluded, hub in mentions:
            mec_id, region = member[cid]
            regions[mec_id][region].add(iid)
            if excluded:
                continue
            if kind in ("iin", "card"):
                persons[mec_id][kind].add(iid)
            if strength in LINKABLE_STRENGTHS:
                cases_of[mec_id][iid].add(cid)
                info[iid] = (kind, display, strength, hub)
        out = []
        for m in mec_ids:
            tying = [TyingRow(iid, *info[iid][:3], len(cs), info[iid][3])  # type: ignore[arg-type]
                     for iid, cs in cases_of[m].items() if len(cs) >= 2]
            tying.sort(key=lambda t: (-t.case_count, t.kind, t.display))
            out.append(Evidence(tying, dict(regions[m]), len(persons[m]["iin"]), len(persons[m]["card"])))
        return out

    return DataLoader(load_fn=load)


def decisions_loader(ctx: Context) -> DataLoader[int, list[tuple[MecDecision, str | None]]]:
    async def load(mec_ids: list[int]) -> list[list[tuple[MecDecision, str | None]]]:
        out: dict[int, list[tuple[MecDecision, str | None]]] = defaultdict(list)
        async with ctx.sessions() as s:
            rows = await s.execute(
                select(MecDecision, Principal.name)
                .outerjoin(Principal, Principal.id == MecDecision.principal_id)
                .where(MecDecision.mec_id.in_(mec_ids)).order_by(MecDecision.mec_id, MecDecision.id))
            for d, name in rows:
                out[d.mec_id].append((d, name))
        return [out[m] for m in mec_ids]

    return DataLoader(load_fn=load)


def mec_rows_loader(ctx: Context) -> DataLoader[int, "MecRow | None"]:
    async def load(ids: list[int]) -> list[MecRow | None]:
        async with ctx.sessions() as s:
            rows = {r.id: r for r in (await s.execute(select(MecRow).where(MecRow.id.in_(ids)))).scalars()}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def load(ctx: Context, name: str, factory: Any) -> Any:
    return ctx.loader("console." + name, factory)
