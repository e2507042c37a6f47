"""Persist components as multi-episode cases, keeping identities and decisions stable.

A recomputed component keeps the id of the old multi-episode case that holds most of its
cases, so an analyst's confirmation, lead unit and notes survive later relinking. New
groups get new ids; a case that is alone again leaves its multi-episode case.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.rules import LINKING_ROLE
from hq.models import (
    Case,
    CaseLink,
    IdentifierStat,
    MecDecision,
    MecStatus,
    Mention,
    MultiEpisodeCase,
    Victim,
    utcnow,
)

CHUNK = 900


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(set(ids))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def plan_identities(
    labels: dict[int, int], old_mec: dict[int, int | None]
) -> tuple[dict[int, int | None], dict[int, list[int]]]:
    """Decide which old id each component keeps.

    Returns ({component label: kept old mec id or None for a new one},
             {component label: member cases}) for components of two or more cases.
    """
    members: dict[int, list[int]] = defaultdict(list)
    for c, label in labels.items():
        members[label].append(c)
    multi = {label: sorted(cs) for label, cs in members.items() if len(cs) >= 2}
    claims: list[tuple[int, int, int]] = []  # (-count, mec id, label)
    for label, cs in multi.items():
        counts = Counter(old_mec.get(c) for c in cs if old_mec.get(c) is not None)
        for mec_id, n in counts.items():
            claims.append((-n, mec_id, label))
    claims.sort(key=lambda t: (t[0], t[1], t[2]))
    kept: dict[int, int | None] = {label: None for label in multi}
    used: set[int] = set()
    for _, mec_id, label in claims:
        if kept[label] is None and mec_id not in used:
            kept[label] = mec_id
            used.add(mec_id)
    return kept, multi


async def assign_mecs(
    session: AsyncSession, labels: dict[int, int], old_links: dict[int, tuple[int, int | None]]
) -> set[int]:
    """Write mec ids for every case in a closed region; return the mec ids that changed."""
    old_mec = {c: m for c, (_, m) in old_links.items()}
    kept, multi = plan_identities(labels, old_mec)
    now = utcnow()
    new_mec: dict[int, int | None] = {c: None for c in labels}
    grown: set[int] = set()
    for label, cs in multi.items():
        mec_id = kept[label]
        if mec_id is None:
            row = MultiEpisodeCase(status=MecStatus.OPEN.value, needs_review=True, created_at=now, updated_at=now)
            session.add(row)
            await session.flush()
            mec_id = row.id
            session.add(MecDecision(mec_id=mec_id, principal_id=None, action="engine_created",
                                    payload={"episodes": len(cs)}, created_at=now))
        else:
            joined = [c for c in cs if old_mec.get(c) != mec_id]
            if joined:
                grown.add(mec_id)
                session.add(MecDecision(mec_id=mec_id, principal_id=None, action="engine_joined",
                                        payload={"case_ids": joined}, created_at=now))
        for c in cs:
            new_mec[c] = mec_id

    by_target: dict[int | None, list[int]] = defaultdict(list)
    for c, m in new_mec.items():
        if old_mec.get(c) != m:
            by_target[m].append(c)
    for m, cs in by_target.items():
        for chunk in _chunks(cs):
            await session.execute(update(CaseLink).where(CaseLink.case_id.in_(chunk)).values(mec_id=m))

    old_ids = {m for m in old_mec.values() if m is not None}
    live_ids = {m for m in new_mec.values() if m is not None}
    gone = old_ids - live_ids
    for mec_id in sorted(gone):
        successors = Counter(new_mec[c] for c, m in old_mec.items() if m == mec_id and new_mec[c] is not None)
        into = min(successors, key=lambda k: (-successors[k], k)) if successors else None
        await session.execute(
            update(MultiEpisodeCase).where(MultiEpisodeCase.id == mec_id)
            .values(status=MecStatus.DISSOLVED.value, merged_into_id=into, size=0, updated_at=now)
        )
        session.add(MecDecision(mec_id=mec_id, principal_id=None, action="engine_dissolved",
                                payload={"merged_into": into}, created_at=now))
    if grown:
        await session.execute(
            update(MultiEpisodeCase).where(MultiEpisodeCase.id.in_(sorted(grown))).values(needs_review=True)
        )
    changed = {m for c, m in new_mec.items() if old_mec.get(c) != m and m is not None}
    changed |= {old_mec[c] for c in new_mec if old_mec.get(c) is not None and old_mec[c] != new_mec[c]}
    changed -= gone
    await refresh_aggregates(session, changed)
    return changed | gone


async def refresh_aggregates(session: AsyncSession, mec_ids: Iterable[int]) -> None:
    """Recompute a multi-episode case's totals with one aggregate query per chunk."""
    now = utcnow()
    for chunk in _chunks(mec_ids):
        victim_key = func.coalesce(Victim.iin, func.cast(Case.id, Victim.iin.type))
        rows = await session.execute(
            select(
                CaseLink.mec_id, func.count(Case.id), func.count(func.distinct(Case.region_code)),
                func.count(func.distinct(victim_key)), func.sum(Case.damage_kzt), func.sum(Case.recovered_kzt),
                func.min(Case.registered_at), func.max(Case.registered_at),
            )
            .join(Case, Case.id == CaseLink.case_id)
            .outerjoin(Victim, Victim.case_id == Case.id)
            .where(CaseLink.mec_id.in_(chunk))
            .group_by(CaseLink.mec_id)
        )
        hub_rows = await session.execute(
            select(func.distinct(CaseLink.mec_id))
            .join(Mention, and_(Mention.case_id == CaseLink.case_id, Mention.role == LINKING_ROLE))
            .join(IdentifierStat, and_(IdentifierStat.identifier_id == Mention.identifier_id,
                                       IdentifierStat.hub.is_(True)))
            .where(CaseLink.mec_id.in_(chunk))
        )
        with_hub = {int(m) for m in hub_rows.scalars()}
        seen: set[int] = set()
        for mec_id, size, regions, victims, damage, recovered, first, last in rows:
            seen.add(int(mec_id))
            await session.execute(
                update(MultiEpisodeCase).where(MultiEpisodeCase.id == mec_id).values(
                    size=size, region_count=regions, victims=victims, damage_kzt=damage or 0,
                    recovered_kzt=recovered or 0, first_date=first, last_date=last,
                    has_hub=int(mec_id) in with_hub, updated_at=now,
                    status=case((MultiEpisodeCase.status == MecStatus.DISSOLVED.value, MecStatus.OPEN.value),
                                else_=MultiEpisodeCase.status),
                    merged_into_id=None,
                )
            )
        for mec_id in set(chunk) - seen:
            await session.execute(
                update(MultiEpisodeCase).where(MultiEpisodeCase.id == mec_id)
                .values(size=0, status=MecStatus.DISSOLVED.value, updated_at=now)
            )
