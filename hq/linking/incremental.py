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

from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.addition import link_new_case
from hq.linking.graph import Edge, chunks, label_cases
from hq.linking.mec_store import assign_mecs, refresh_aggregates
from hq.linking.phone_stats import NO_STAT, UPSERT_PHONE_STAT
from hq.linking.rules import CORE_STRENGTH, LINKABLE_STRENGTHS, LINKING_ROLE, PHONE_STRENGTH
from hq.rawsql import Raw, marks, mark_write_locked


_LOCK = "UPDATE write_lock SET version = version + 1 WHERE id = 1"
# PostgreSQL re-plans a prepared statement with parameters at every execution for as long as
# it judges a custom plan cheaper, and for the writers' joins it always does: measured on a
# 50,000-case database, 0.3-1.2 ms of planning for 0.05-0.2 ms of execution, most of a
# single case's write. Writers run fixed statements over keys (ids, IN lists of ids, unique
# keys), for which the one generic plan is the plan, so their transactions reuse it.
_GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"


async def lock_writes(session: AsyncSession) -> None:
    """Take the write lock: the first statement of every case-writing transaction.

    It may wait for another writer, so it goes through the driver's own path; what the
    transaction runs after it may skip that path (`hq.rawsql`, "under the write lock").
    On PostgreSQL the same round trip switches the transaction to generic plans (above):
    without parameters asyncpg sends both statements as one simple query."""
    raw = await Raw.of(session)
    await raw.execute(f"{_GENERIC_PLANS}; {_LOCK}" if raw.postgres else _LOCK)
    mark_write_locked(session)


_LINKABLE = ", ".join(f"'{v}'" for v in LINKABLE_STRENGTHS)


def _edges_sql(column: str, n: int, *, linkable_only: bool, with_hub: bool) -> str:
    """Suspect mentions (case, identifier, split tag, strength[, hub]) where `column` is in a list."""
    hub = ", COALESCE(st.hub, FALSE)" if with_hub else ""
    return (
        f"SELECT m.case_id, m.identifier_id, COALESCE(sc.tag, 0), i.strength{hub} FROM mentions m "
        "JOIN identifiers i ON i.id = m.identifier_id "
        "LEFT JOIN split_cuts sc ON sc.case_id = m.case_id AND sc.identifier_id = m.identifier_id "
        + ("LEFT JOIN identifier_stats st ON st.identifier_id = m.identifier_id " if with_hub else "")
        + f"WHERE m.{column} IN ({marks(n)}) AND m.role = '{LINKING_ROLE}' AND i.excluded = FALSE"
        + (f" AND i.strength IN ({_LINKABLE})" if linkable_only else "")
    )


async def edges_of_cases(session: AsyncSession, case_ids: Iterable[int],
                         hubs: dict[int, bool] | None = None) -> list[Edge]:
    """Linking edges of these cases; fills `hubs` with the phones' current hub flags."""
    raw = await Raw.of(session)
    out: list[Edge] = []
    for chunk in chunks(case_ids):
        for c, i, t, s, hub in await raw.fetch(_edges_sql("case_id", len(chunk), linkable_only=True,
                                                          with_hub=True), chunk):
            out.append((int(c), int(i), int(t), s))
            if hubs is not None and s == PHONE_STRENGTH:
                hubs[int(i)] = bool(hub)
    return out


async def _mentions_of_identifiers(session: AsyncSession, ident_ids: Iterable[int]) -> list[Edge]:
    raw = await Raw.of(session)
    out: list[Edge] = []
    for chunk in chunks(ident_ids):
        rows = await raw.fetch(_edges_sql("identifier_id", len(chunk), linkable_only=False, with_hub=False), chunk)
        out.extend((int(c), int(i), int(t), s) for c, i, t, s in rows)
    return out


async def _mentions_of_identifiers_any(session: AsyncSession, ident_ids: set[int]) -> list[Edge]:
    """Suspect mentions of these identifiers whether excluded or not (for exclude/restore)."""
    raw = await Raw.of(session)
    out: list[Edge] = []
    for chunk in chunks(ident_ids):
        rows = await raw.fetch(f"SELECT case_id, identifier_id FROM mentions WHERE identifier_id IN "
                               f"({marks(len(chunk))}) AND role = '{LINKING_ROLE}'", chunk)
        out.extend((int(c), int(i), 0, "") for c, i in rows)
    return out


async def _ids_where(session: AsyncSession, sql: str, values: Iterable[int]) -> set[int]:
    """First column of `sql` (with one `{}` for an IN list) over chunks of `values`."""
    raw = await Raw.of(session)
    out: set[int] = set()
    for chunk in chunks(values):
        out.update(int(r[0]) for r in await raw.fetch(sql.format(marks(len(chunk))), chunk))
    return out


async def _phones_among(session: AsyncSession, ident_ids: set[int]) -> set[int]:
    return await _ids_where(
        session, f"SELECT id FROM identifiers WHERE id IN ({{}}) AND strength = '{PHONE_STRENGTH}'", ident_ids)


async def hub_ids(session: AsyncSession, ident_ids: Iterable[int]) -> set[int]:
    return await _ids_where(
        session, "SELECT identifier_id FROM identifier_stats WHERE identifier_id IN ({}) AND hub = TRUE", ident_ids)


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


async def _old_links(session: AsyncSession, case_ids: Iterable[int]) -> dict[int, tuple[int, int | None]]:
    raw = await Raw.of(session)
    out: dict[int, tuple[int, int | None]] = {}
    for chunk in chunks(case_ids):
        for cid, gid, mid in await raw.fetch(
                f"SELECT case_id, group_id, mec_id FROM case_links WHERE case_id IN ({marks(len(chunk))})", chunk):
            out[int(cid)] = (int(gid), None if mid is None else int(mid))
    return out


async def _cases_with(session: AsyncSession, column: str, values: Iterable[int]) -> set[int]:
    return await _ids_where(session, f"SELECT case_id FROM case_links WHERE {column} IN ({{}})", values)


async def _upsert_groups(session: AsyncSession, groups: dict[int, int], old: dict[int, tuple[int, int | None]]) -> None:
    raw = await Raw.of(session)
    await raw.executemany("INSERT INTO case_links (case_id, group_id, mec_id) VALUES (?, ?, NULL)",
                          [(c, g) for c, g in sorted(groups.items()) if c not in old])
    await raw.executemany("UPDATE case_links SET group_id = ? WHERE case_id = ?",
                          [(g, c) for c, g in sorted(groups.items()) if c in old and old[c][0] != g])


async def refresh_hubs(session: AsyncSession, phone_ids: Iterable[int], threshold: int) -> set[int]:
    """Recount the unrelated groups per phone; return the phones whose hub flag flipped.

    A "group" is a core group of two or more cases: cases already tied by their own strong
    evidence. A spoofed hotline shows up in many such groups; a gang's own phone used in
    many otherwise bare cases does not, and keeps linking them.
    """
    phone_ids = set(phone_ids)
    if not phone_ids:
        return set()
    raw = await Raw.of(session)
    counts: dict[int, int] = {}
    existing: dict[int, tuple[int, bool]] = {}
    for chunk in chunks(phone_ids):
        # Per phone: the distinct groups of two or more cases among the cases that use it.
        for ident, n in await raw.fetch(
                "SELECT p.identifier_id, COUNT(*) FROM (SELECT DISTINCT m.identifier_id, l.group_id "
                "  FROM mentions m JOIN case_links l ON l.case_id = m.case_id "
                f"  WHERE m.identifier_id IN ({marks(len(chunk))}) AND m.role = '{LINKING_ROLE}') p "
                "WHERE (SELECT COUNT(*) FROM case_links g WHERE g.group_id = p.group_id) >= 2 "
                "GROUP BY p.identifier_id", chunk):
            counts[int(ident)] = int(n)
        for i, n, hub in await raw.fetch(
                f"SELECT identifier_id, group_count, hub FROM identifier_stats WHERE identifier_id IN "
                f"({marks(len(chunk))})", chunk):
            existing[int(i)] = (int(n), bool(hub))
    flipped: set[int] = set()
    writes = []
    for pid in sorted(phone_ids):
        n = counts.get(pid, 0)
        hub = n > threshold
        if existing.get(pid, NO_STAT) != (n, hub):  # a missing row already says (0, False)
            writes.append((pid, n, hub))
            if existing.get(pid, NO_STAT)[1] != hub:
                flipped.add(pid)
    await raw.executemany(UPSERT_PHONE_STAT, writes)
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
    start = seeds | await _cases_with(session, "group_id", {g for g, _ in old.values()})
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
    hub_cases: set[int] = set()  # cases that name a flipped phone: their hub flag may change
    if flipped:
        hub_cases = {e[0] for e in await cache.of_identifiers(flipped)}
        start2 |= hub_cases
    old2 = await links.get(start2)
    start2 |= await _cases_with(session, "mec_id", {m for _, m in old2.values() if m is not None})
    region2, edges2 = await _walk(cache, start2, with_phones=True)
    labels = label_cases(region2, edges2)
    return await assign_mecs(await Raw.of(session), labels, await links.get(region2), hub_cases)


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
    raw = await Raw.of(session)
    if new:
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
    result |= await relink(session, pending.keys(), touched)
    # An edited case that stays where it was still changes its multi-episode case's totals
    # (damage, dates, region, victims): those are refreshed too, and reported as changed.
    edited = set(changed) - set(new)
    stale = await _ids_where(session, "SELECT mec_id FROM case_links WHERE mec_id IS NOT NULL AND case_id IN ({})",
                             edited)
    stale -= result  # linking refreshed those already
    await refresh_aggregates(raw, stale)
    return result | stale
