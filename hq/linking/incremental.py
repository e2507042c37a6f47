"""Incremental linking: after a write, recompute only the region of the graph it touched.

The region is every case of the old core groups and multi-episode cases that the changed
cases belonged to, closed under the new links by a breadth-first walk in SQL. Within it,
components are computed by `graph.components`, exactly as the bulk path does, so the
result does not depend on the order writes arrive in. Removing evidence (a re-import
that drops an identifier, an exclusion, a split) is handled the same way as adding it.

All of this runs inside the writer's transaction after `lock_writes`, so concurrent
imports serialise on the lock row and end as if run one after the other.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.addition import link_new_case
from hq.linking.graph import Interner, chunks, components
from hq.linking.mec_store import assign_mecs
from hq.linking.rules import CORE_STRENGTH, LINKABLE_STRENGTHS, LINKING_ROLE, PHONE_STRENGTH
from hq.models import CaseLink, Identifier, IdentifierStat, Mention, SplitCut, WriteLock
from hq.rawsql import Raw

async def lock_writes(session: AsyncSession) -> None:
    """Take the write lock: the first statement of every case-writing transaction."""
    await (await Raw.of(session)).execute("UPDATE write_lock SET version = version + 1 WHERE id = 1")


Edge = tuple[int, int, int, str]  # case_id, identifier_id, split tag, strength


async def edges_of_cases(session: AsyncSession, case_ids: Iterable[int],
                             hubs: dict[int, bool] | None = None) -> list[Edge]:
    """Linking edges of these cases; fills `hubs` with the phones' current hub flags."""
    out: list[Edge] = []
    for chunk in chunks(case_ids):
        rows = await session.execute(
            select(Mention.case_id, Mention.identifier_id, func.coalesce(SplitCut.tag, 0), Identifier.strength,
                   IdentifierStat.hub)
            .join(Identifier, Identifier.id == Mention.identifier_id)
            .outerjoin(SplitCut, and_(SplitCut.case_id == Mention.case_id,
                                      SplitCut.identifier_id == Mention.identifier_id))
            .outerjoin(IdentifierStat, IdentifierStat.identifier_id == Mention.identifier_id)
            .where(Mention.case_id.in_(chunk), Mention.role == LINKING_ROLE,
                   Identifier.excluded.is_(False), Identifier.strength.in_(LINKABLE_STRENGTHS))
        )
        for c, i, t, s, hub in rows:
            out.append((int(c), int(i), int(t), s))
            if hubs is not None and s == PHONE_STRENGTH:
                hubs[int(i)] = bool(hub)
    return out


async def _mentions_of_identifiers(session: AsyncSession, ident_ids: Iterable[int]) -> list[Edge]:
    out: list[Edge] = []
    for chunk in chunks(ident_ids):
        rows = await session.execute(
            select(Mention.case_id, Mention.identifier_id, func.coalesce(SplitCut.tag, 0), Identifier.strength)
            .join(Identifier, Identifier.id == Mention.identifier_id)
            .outerjoin(SplitCut, and_(SplitCut.case_id == Mention.case_id,
                                      SplitCut.identifier_id == Mention.identifier_id))
            .where(Mention.identifier_id.in_(chunk), Mention.role == LINKING_ROLE,
                   Identifier.excluded.is_(False))
        )
        out.extend((int(c), int(i), int(t), s) for c, i, t, s in rows)
    return out


async def _mentions_of_identifiers_any(session: AsyncSession, ident_ids: set[int]) -> list[Edge]:
    """Suspect mentions of these identifiers whether excluded or not (for exclude/restore)."""
    out: list[Edge] = []
    for chunk in chunks(ident_ids):
        rows = await session.execute(
            select(Mention.case_id, Mention.identifier_id).where(
                Mention.identifier_id.in_(chunk), Mention.role == LINKING_ROLE)
        )
        out.extend((int(c), int(i), 0, "") for c, i in rows)
    return out


async def _phones_among(session: AsyncSession, ident_ids: set[int]) -> set[int]:
    out: set[int] = set()
    for chunk in chunks(ident_ids):
        rows = await session.execute(
            select(Identifier.id).where(Identifier.id.in_(chunk), Identifier.strength == PHONE_STRENGTH))
        out.update(int(i) for i in rows.scalars())
    return out


async def hub_ids(session: AsyncSession, ident_ids: Iterable[int]) -> set[int]:
    hubs: set[int] = set()
    for chunk in chunks(ident_ids):
        rows = await session.execute(
            select(IdentifierStat.identifier_id).where(IdentifierStat.identifier_id.in_(chunk),
                                                       IdentifierStat.hub.is_(True))
        )
        hubs.update(int(r) for r in rows.scalars())
    return hubs


class EdgeCache:
    """Linking edges fetched once per relink: both levels walk the same data."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.by_case: dict[int, list[Edge]] = {}
        self.by_ident: dict[int, list[Edge]] = {}
        self.hub: dict[int, bool] = {}

    async def of_cases(self, case_ids: Iterable[int]) -> list[Edge]:
        missing = {c for c in case_ids if c not in self.by_case}
        if missing:
            for c in missing:
                self.by_case[c] = []
            for e in await edges_of_cases(self.session, missing, self.hub):
                self.by_case[e[0]].append(e)
        return [e for c in case_ids for e in self.by_case[c]]

    async def of_identifiers(self, ident_ids: Iterable[int]) -> list[Edge]:
        missing = {i for i in ident_ids if i not in self.by_ident}
        if missing:
            for i in missing:
                self.by_ident[i] = []
            for e in await _mentions_of_identifiers(self.session, missing):
                self.by_ident[e[1]].append(e)
        return [e for i in ident_ids for e in self.by_ident[i]]

    async def hubs(self, phone_ids: Iterable[int]) -> set[int]:
        missing = {i for i in phone_ids if i not in self.hub}
        if missing:
            found = await hub_ids(self.session, missing)
            for i in missing:
                self.hub[i] = i in found
        return {i for i in phone_ids if self.hub[i]}

    def forget_hubs(self) -> None:
        self.hub.clear()


async def _walk(cache: EdgeCache, start: set[int], *, with_phones: bool) -> tuple[set[int], list[Edge]]:
    """Breadth-first closure of `start` over linking evidence; returns cases and edges."""
    seen_cases = set(start)
    seen_nodes: set[tuple[int, int]] = set()
    edges: set[Edge] = set()
    frontier = set(start)
    while frontier:
        found = await cache.of_cases(frontier)
        hubs = await cache.hubs({i for _, i, _, s in found if s == PHONE_STRENGTH}) if with_phones else set()
        new_nodes: set[int] = set()
        for e in found:
            case_id, ident, tag, strength = e
            if strength == PHONE_STRENGTH and (not with_phones or ident in hubs):
                continue
            edges.add(e)
            if (ident, tag) not in seen_nodes:
                seen_nodes.add((ident, tag))
                new_nodes.add(ident)
        frontier = set()
        if new_nodes:
            for e in await cache.of_identifiers(new_nodes):
                case_id, ident, tag, strength = e
                if (ident, tag) not in seen_nodes:
                    continue  # another side of a split
                edges.add(e)
                if case_id not in seen_cases:
                    seen_cases.add(case_id)
                    frontier.add(case_id)
    return seen_cases, sorted(edges)


def label_cases(cases: set[int], edges: list[Edge]) -> dict[int, int]:
    """Component of each case, named by its smallest case id (deterministic)."""
    nodes = Interner()
    ordered = sorted(cases)
    for c in ordered:
        nodes(("c", c))
    src = np.fromiter((nodes(("c", e[0])) for e in edges), dtype=np.int64, count=len(edges))
    dst = np.fromiter((nodes(("i", e[1], e[2])) for e in edges), dtype=np.int64, count=len(edges))
    labels = components(len(nodes), src, dst)
    # Smallest node index in a component is a case (cases were interned first, sorted).
    return {c: ordered[int(labels[i])] for i, c in enumerate(ordered)}


async def _old_links(session: AsyncSession, case_ids: Iterable[int]) -> dict[int, tuple[int, int | None]]:
    out: dict[int, tuple[int, int | None]] = {}
    for chunk in chunks(case_ids):
        for cid, gid, mid in await session.execute(
            select(CaseLink.case_id, CaseLink.group_id, CaseLink.mec_id).where(CaseLink.case_id.in_(chunk))
        ):
            out[int(cid)] = (int(gid), None if mid is None else int(mid))
    return out


async def _cases_with(session: AsyncSession, column, values: Iterable[int]) -> set[int]:  # type: ignore[no-untyped-def]
    out: set[int] = set()
    for chunk in chunks(values):
        out.update(int(c) for c in (await session.execute(select(CaseLink.case_id).where(column.in_(chunk)))).scalars())
    return out


async def _upsert_groups(session: AsyncSession, groups: dict[int, int], old: dict[int, tuple[int, int | None]]) -> None:
    new_rows = [{"case_id": c, "group_id": g, "mec_id": None} for c, g in groups.items() if c not in old]
    if new_rows:
        await session.execute(CaseLink.__table__.insert(), new_rows)
    moves = [{"cid": c, "gid": g} for c, g in groups.items() if c in old and old[c][0] != g]
    if moves:
        t = CaseLink.__table__
        await session.execute(t.update().where(t.c.case_id == bindparam("cid")).values(group_id=bindparam("gid")), moves)


async def refresh_hubs(session: AsyncSession, phone_ids: Iterable[int], threshold: int) -> set[int]:
    """Recount the unrelated groups per phone; return the phones whose hub flag flipped.

    A "group" is a core group of two or more cases: cases already tied by their own strong
    evidence. A spoofed hotline shows up in many such groups; a gang's own phone used in
    many otherwise bare cases does not, and keeps linking them.
    """
    phone_ids = set(phone_ids)
    if not phone_ids:
        return set()
    pairs: set[tuple[int, int]] = set()
    for chunk in chunks(phone_ids):
        rows = await session.execute(
            select(Mention.identifier_id, CaseLink.group_id).distinct()
            .join(CaseLink, CaseLink.case_id == Mention.case_id)
            .where(Mention.identifier_id.in_(chunk), Mention.role == LINKING_ROLE)
        )
        pairs.update((int(i), int(g)) for i, g in rows)
    sizes: dict[int, int] = {}
    for chunk in chunks({g for _, g in pairs}):
        rows = await session.execute(
            select(CaseLink.group_id, func.count()).where(CaseLink.group_id.in_(chunk)).group_by(CaseLink.group_id)
        )
        sizes.update({int(g): int(n) for g, n in rows})
    counts: dict[int, int] = {}
    for ident, group in pairs:
        if sizes.get(group, 0) >= 2:
            counts[ident] = counts.get(ident, 0) + 1
    existing: dict[int, tuple[int, bool]] = {}
    for chunk in chunks(phone_ids):
        for i, n, hub in await session.execute(
            select(IdentifierStat.identifier_id, IdentifierStat.group_count, IdentifierStat.hub)
            .where(IdentifierStat.identifier_id.in_(chunk))
        ):
            existing[int(i)] = (int(n), bool(hub))
    flipped: set[int] = set()
    inserts = []
    changes = []
    for pid in phone_ids:
        n = counts.get(pid, 0)
        hub = n > threshold
        if pid not in existing:
            inserts.append({"identifier_id": pid, "group_count": n, "hub": hub})
            if hub:
                flipped.add(pid)
        elif existing[pid] != (n, hub):
            changes.append({"pid": pid, "n": n, "hub": hub})
            if existing[pid][1] != hub:
                flipped.add(pid)
    if inserts:
        await session.execute(IdentifierStat.__table__.insert(), inserts)
    if changes:
        t = IdentifierStat.__table__
        await session.execute(
            t.update().where(t.c.identifier_id == bindparam("pid")).values(group_count=bindparam("n"), hub=bindparam("hub")),
            changes)
    return flipped


async def relink(session: AsyncSession, seed_cases: Iterable[int], touched_identifiers: Iterable[int] = (),
                 *, expand: Iterable[int] = (), hub_threshold: int | None = None) -> set[int]:
    """Relink around the seeds; return the ids of multi-episode cases that changed.

    `touched_identifiers` are identifiers whose mentions changed (their hub count is
    redone); `expand` are identifiers whose linking status changed (excluded, restored),
    so every case mentioning them is a seed.
    """
    from hq.settings import get_settings

    threshold = hub_threshold if hub_threshold is not None else get_settings().hub_threshold
    seeds = set(seed_cases)
    touched = set(touched_identifiers) | set(expand)
    if expand:
        seeds |= {e[0] for e in await _mentions_of_identifiers_any(session, set(expand))}
    if not seeds:
        return set()
    cache = EdgeCache(session)
    links = _LinkCache(session)

    # Level 1: core groups from strong, non-phone evidence.
    old = await links.get(seeds)
    start = seeds | await _cases_with(session, CaseLink.group_id, {g for g, _ in old.values()})
    region1, edges1 = await _walk(cache, start, with_phones=False)
    groups = label_cases(region1, [e for e in edges1 if e[3] == CORE_STRENGTH])
    await _upsert_groups(session, groups, await links.get(region1))

    # Hubs: every phone used by a case whose group may have changed, or whose mentions changed.
    phones = {e[1] for e in await cache.of_cases(region1) if e[3] == PHONE_STRENGTH}
    phones |= await _phones_among(session, touched - phones)
    flipped = await refresh_hubs(session, phones, threshold)
    if flipped:
        cache.forget_hubs()

    # Level 2: multi-episode cases = core groups joined by non-hub phones.
    start2 = set(region1)
    if flipped:
        start2 |= {e[0] for e in await cache.of_identifiers(flipped)}
    old2 = await links.get(start2)
    start2 |= await _cases_with(session, CaseLink.mec_id, {m for _, m in old2.values() if m is not None})
    region2, edges2 = await _walk(cache, start2, with_phones=True)
    labels = label_cases(region2, edges2)
    return await assign_mecs(session, labels, await links.get(region2))


class _LinkCache:
    """(group, mec) per case as it was before this relink; the mec part is what level 2 needs."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.known: dict[int, tuple[int, int | None]] = {}
        self.absent: set[int] = set()

    async def get(self, case_ids: Iterable[int]) -> dict[int, tuple[int, int | None]]:
        case_ids = set(case_ids)
        missing = case_ids - self.known.keys() - self.absent
        if missing:
            found = await _old_links(self.session, missing)
            self.known.update(found)
            self.absent |= missing - found.keys()
        return {c: self.known[c] for c in case_ids if c in self.known}


async def relink_cases(session: AsyncSession, changed: dict[int, set[int]], new: set[int] = frozenset()) -> set[int]:
    """After `store_cases`: relink the changed cases and whatever they used to mention.

    Cases in `new` (just inserted) try the fast path of `addition.py` one by one, in id
    order; the rest, and any the fast path declines, go through the general `relink`.
    """
    from hq.settings import get_settings

    pending = dict(changed)
    result: set[int] = set()
    if new:
        raw = await Raw.of(session)
        threshold = get_settings().hub_threshold
        for case_id in sorted(c for c in new if c in pending and not pending[c]):
            done = await link_new_case(raw, case_id, threshold)
            if done is not None:
                result |= done
                del pending[case_id]
    if not pending:
        return result
    touched: set[int] = set()
    for old_idents in pending.values():
        touched |= old_idents
    return result | await relink(session, pending.keys(), touched)
