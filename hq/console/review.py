"""What waits for a human: large new merges, merges across many regions, hubs, split requests.

Each list is one indexed query; the thresholds are settings (HQ_REVIEW_LARGE_SIZE,
HQ_REVIEW_MANY_REGIONS). A split request stays open until a later split, confirm or
reject decision on the same multi-episode case answers it.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hq.models import Identifier, IdentifierStat, MecDecision, MecStatus, MultiEpisodeCase

ANSWERS = ("split", "confirm", "reject")


async def large_merges(session: AsyncSession, min_size: int, large_damage: int, limit: int) -> list[MultiEpisodeCase]:
    M = MultiEpisodeCase
    q = (select(M).where(M.needs_review.is_(True), M.status == MecStatus.OPEN.value,
                         (M.size >= min_size) | (M.damage_kzt > large_damage))
         .order_by(M.updated_at.desc(), M.id.desc()).limit(limit))
    return list((await session.execute(q)).scalars())


async def many_regions(session: AsyncSession, min_regions: int, limit: int) -> list[MultiEpisodeCase]:
    M = MultiEpisodeCase
    q = (select(M).where(M.needs_review.is_(True), M.status.in_([MecStatus.OPEN.value, MecStatus.CONFIRMED.value]),
                         M.region_count >= min_regions)
         .order_by(M.region_count.desc(), M.id.desc()).limit(limit))
    return list((await session.execute(q)).scalars())


async def hubs(session: AsyncSession, limit: int) -> list[tuple[Identifier, int]]:
    q = (select(Identifier, IdentifierStat.group_count)
         .join(IdentifierStat, IdentifierStat.identifier_id == Identifier.id)
         .where(IdentifierStat.hub.is_(True), Identifier.excluded.is_(False))
         .order_by(IdentifierStat.group_count.desc(), Identifier.id).limit(limit))
    return [(i, int(n)) for i, n in await session.execute(q)]


async def split_requests(session: AsyncSession, limit: int) -> list[MecDecision]:
    later = aliased(MecDecision)
    answered = exists(select(later.id).where(later.mec_id == MecDecision.mec_id, later.id > MecDecision.id,
                                             later.action.in_(ANSWERS)))
    q = (select(MecDecision).where(and_(MecDecision.action == "split_requested", ~answered))
         .order_by(MecDecision.id.desc()).limit(limit))
    return list((await session.execute(q)).scalars())
