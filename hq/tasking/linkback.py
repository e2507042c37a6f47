"""Identifiers found by a task go back into linking through the one case write path.

The case is loaded as a `CaseRecord`, the new mentions are added, and `ingest` stores it
and re-links what changed, inside the task's transaction: the task is `done` exactly
when its findings are linked.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hq.case_record import CaseRecord, MentionRecord, VictimRecord
from hq.identifiers import Normalised, Strength
from hq.ingest import ingest
from hq.linking.incremental import lock_writes
from hq.models import Case, CaseLink, Mention


async def case_for_mec(session: AsyncSession, mec_id: int, region_code: str | None) -> int | None:
    """The episode a multi-episode task's findings belong to: the target region's first
    case if the gang has one there, else the gang's first case."""
    rows = (
        await session.execute(
            select(Case.id, Case.region_code).join(CaseLink, CaseLink.case_id == Case.id)
            .where(CaseLink.mec_id == mec_id).order_by(Case.registered_at, Case.id)
        )
    ).all()
    if not rows:
        return None
    for case_id, region in rows:
        if region == region_code:
            return int(case_id)
    return int(rows[0][0])


async def add_mentions(session: AsyncSession, case_id: int, found: list[MentionRecord]) -> int:
    """Add mentions to a case via `ingest`; returns how many were new.

    The write lock is taken before the case is read, so a concurrent import cannot change
    the case between our read and our write.
    """
    await lock_writes(session)
    case = (
        await session.execute(
            select(Case).where(Case.id == case_id)
            .options(selectinload(Case.victim), selectinload(Case.mentions).joinedload(Mention.identifier))
        )
    ).scalar_one()
    mentions = [
        MentionRecord(Normalised(m.identifier.kind, m.identifier.key, m.identifier.display,
                                 Strength(m.identifier.strength)), m.role, m.note)
        for m in case.mentions
    ]
    have = {(m.identifier.kind, m.identifier.key, m.role) for m in mentions}
    new = [m for m in found if (m.identifier.kind, m.identifier.key, m.role) not in have]
    if not new:
        return 0
    victim = case.victim
    record = CaseRecord(
        registration_number=case.registration_number, region_code=case.region_code,
        unit_id=case.unit_id, unit_name=case.unit_name, registered_at=case.registered_at,
        article=case.article, scheme=case.scheme, status=case.status, damage_kzt=case.damage_kzt,
        recovered_kzt=case.recovered_kzt,
        victim=VictimRecord(victim.name, victim.phone, victim.iin) if victim is not None else None,
        mentions=mentions + new,
    )
    await ingest(session, [record], locked=True)
    return len(new)
