"""Persist components as multi-episode cases, keeping identities and decisions stable.

A recomputed component keeps the id of the old multi-episode case that holds most of its
cases, so an analyst's confirmation, lead unit and notes survive later relinking. New
groups get new ids; a case that is alone again leaves its multi-episode case.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.graph import chunks
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


async def _next_ids(session: AsyncSession, k: int) -> list[int]:
    """Ids for k new multi-episode cases. Callers hold the write lock, so max()+1 is safe."""
    if k == 0:
        return []
    top = (await session.execute(select(func.max(MultiEpisodeCase.id)))).scalar_one() or 0
    return list(range(top + 1, top + 1 + k))


async def assign_mecs(
    session: AsyncSession, labels: dict[int, int], old_links: dict[int, tuple[int, int | None]]
) -> set[int]:
    """Write mec ids for every case in a closed region; return the mec ids that changed.

    Set-oriented: a constant number of statements whatever the number of components, so
    the bulk path (thousands of components) and the incremental path share this code.
    """
    old_mec = {c: m for c, (_, m) in old_links.items()}
    kept, multi = plan_identities(labels, old_mec)
    now = utcnow()
    fresh = iter(await _next_ids(session, sum(1 for m in kept.values() if m is None)))
    new_mec: dict[int, int | None] = {c: None for c in labels}
    created: list[dict[str, object]] = []
    decisions: list[dict[str, object]] = []
    grown: list[int] = []
    for label in sorted(multi):
        cs = multi[label]
        mec_id = kept[label]
        if mec_id is None:
            mec_id = next(fresh)
            created.append({"id": mec_id, "status": MecStatus.OPEN.value, "needs_review": True, "size": len(cs),
                            "region_count": 0, "victims": 0, "damage_kzt": 0, "recovered_kzt": 0,
                            "has_hub": False, "created_at": now, "updated_at": now})
            decisions.append({"mec_id": mec_id, "principal_id": None, "action": "engine_created",
                              "reason": None, "payload": {"episodes": len(cs)}, "created_at": now})
        else:
            joined = [c for c in cs if old_mec.get(c) != mec_id]
            if joined:
                grown.append(mec_id)
                decisions.append({"mec_id": mec_id, "principal_id": None, "action": "engine_joined",
                                  "reason": None, "payload": {"case_ids": joined}, "created_at": now})
        for c in cs:
            new_mec[c] = mec_id
    if created:
        await session.execute(MultiEpisodeCase.__table__.insert(), created)

    moves = [{"cid": c, "mid": m} for c, m in new_mec.items() if old_mec.get(c) != m]
    if moves:
        t = CaseLink.__table__
        await session.execute(
            t.update().where(t.c.case_id == bindparam("cid")).values(mec_id=bindparam("mid")), moves)

    old_ids = {m for m in old_mec.values() if m is not None}
    live_ids = {m for m in new_mec.values() if m is not None}
    gone = old_ids - live_ids
    dissolved = []
    for mec_id in sorted(gone):
        successors = Counter(new_mec[c] for c, m in old_mec.items() if m == mec_id and new_mec[c] is not None)
        into = min(successors, key=lambda k: (-successors[k], k)) if successors else None
        dissolved.append({"mid": mec_id, "into": into})
        decisions.append({"mec_id": mec_id, "principal_id": None, "action": "engine_dissolved",
                          "reason": None, "payload": {"merged_into": into}, "created_at": now})
    if dissolved:
        t = MultiEpisodeCase.__table__
        await session.execute(
            t.update().where(t.c.id == bindparam("mid")).values(
                status=MecStatus.DISSOLVED.value, merged_into_id=bindparam("into"), size=0, updated_at=now),
            dissolved)
    if grown:
        await session.execute(
            update(MultiEpisodeCase).where(MultiEpisodeCase.id.in_(sorted(grown))).values(needs_review=True))
    if decisions:
        await session.execute(MecDecision.__table__.insert(), decisions)
    changed = {m for c, m in new_mec.items() if old_mec.get(c) != m and m is not None}
    changed |= {old_mec[c] for c in new_mec if old_mec.get(c) is not None and old_mec[c] != new_mec[c]}
    changed -= gone
    await refresh_aggregates(session, changed)
    return changed | gone


async def refresh_aggregates(session: AsyncSession, mec_ids: Iterable[int]) -> None:
    """Recompute multi-episode totals: one aggregate query and one executemany per chunk."""
    now = utcnow()
    t = MultiEpisodeCase.__table__
    stmt = t.update().where(t.c.id == bindparam("mid")).values(
        size=bindparam("size"), region_count=bindparam("regions"), victims=bindparam("victims"),
        damage_kzt=bindparam("damage"), recovered_kzt=bindparam("recovered"), first_date=bindparam("first"),
        last_date=bindparam("last"), has_hub=bindparam("hub"), updated_at=now,
        status=case((t.c.status == MecStatus.DISSOLVED.value, MecStatus.OPEN.value), else_=t.c.status),
        merged_into_id=None,
    )
    wanted = set(mec_ids)
    # Many ids (a bulk relink): one pass over all links beats thousands of IN (…) lists.
    pieces: Iterable[list[int] | None] = [None] if len(wanted) > 20_000 else chunks(wanted)
    for chunk in pieces:
        victim_key = func.coalesce(Victim.iin, func.cast(Case.id, Victim.iin.type))
        in_chunk = CaseLink.mec_id.is_not(None) if chunk is None else CaseLink.mec_id.in_(chunk)
        rows = await session.execute(
            select(
                CaseLink.mec_id, func.count(Case.id), func.count(func.distinct(Case.region_code)),
                func.count(func.distinct(victim_key)), func.sum(Case.damage_kzt), func.sum(Case.recovered_kzt),
                func.min(Case.registered_at), func.max(Case.registered_at),
            )
            .join(Case, Case.id == CaseLink.case_id)
            .outerjoin(Victim, Victim.case_id == Case.id)
            .where(in_chunk)
            .group_by(CaseLink.mec_id)
        )
        hub_rows = await session.execute(
            select(func.distinct(CaseLink.mec_id))
            .join(Mention, and_(Mention.case_id == CaseLink.case_id, Mention.role == LINKING_ROLE))
            .join(IdentifierStat, and_(IdentifierStat.identifier_id == Mention.identifier_id,
                                       IdentifierStat.hub.is_(True)))
            .where(in_chunk)
        )
        with_hub = {int(m) for m in hub_rows.scalars()}
        params = [
            {"mid": int(m), "size": size, "regions": regions, "victims": victims, "damage": damage or 0,
             "recovered": recovered or 0, "first": first, "last": last, "hub": int(m) in with_hub}
            for m, size, regions, victims, damage, recovered, first, last in rows if int(m) in wanted
        ]
        if params:
            await session.execute(stmt, params)
        empty = (wanted if chunk is None else set(chunk)) - {p["mid"] for p in params}
        for gone in chunks(empty):
            await session.execute(
                update(MultiEpisodeCase).where(MultiEpisodeCase.id.in_(gone))
                .values(size=0, status=MecStatus.DISSOLVED.value, updated_at=now))
