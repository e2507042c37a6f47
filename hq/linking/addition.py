"""The fast path for the commonest write: one brand-new case.

Adding a case only ever joins things. Its strong evidence merges the core groups of the
cases that share it; its phones join their multi-episode cases. Then the new state is the
union of the neighbours' existing groups and multi-episode cases, and it is written with
a fixed handful of statements whatever the size of what is joined, instead of walking
whole components. The one exception is a phone whose hub flag flips because groups grew
or merged: that can split multi-episode cases, or join others, so such a write recomputes
the components within the old multi-episode cases it touches (`_link_across_flips`), which
it reads in one statement. Either way the outcome is the same as the general path's
(`incremental.relink`; tests run both on the same data and compare), only cheaper.

Every read happens before the first write, so falling back leaves nothing to undo.
"""

from __future__ import annotations

from typing import Any

from hq.linking.graph import Edge, label_cases
from hq.linking.mec_store import (CREATE_MEC_PG, DISSOLVE_MEC, INSERT_DECISION, INSERT_LINK, INSERT_MEC, Arrival,
                                  assign_mecs, merge_groups, next_mec_ids, refresh_aggregates)
from hq.linking.phone_stats import NO_STAT, UPSERT_PHONE_STATS_PG
from hq.linking.rules import CORE_STRENGTH, LINKING_ROLE, PHONE_STRENGTH
from hq.models import MecStatus, utcnow
from hq.rawsql import Raw, columns

# Everything the fast path reads, in one round trip where there were four: the new case's
# own suspect-side identifiers (part 0); every other case's suspect mention of those that are
# evidence, on the uncut side of any split, with that case's links and the size of its
# multi-episode case (part 1); and each linkable phone used in the core groups those cases
# share strong evidence with, per group, with the group's size and the phone's stored count
# (part 2: the groups the new case merges, whose phones' counts change with them). Evidence is
# what links: a strong identifier, or a phone that is not a hub; neither excluded. The
# evidence is settled first (MATERIALIZED): joined into the neighbours' scan, SQLite looked the
# hub flag up only after walking every mention of a hub phone, 7-11 ms a case at a million.
_OWN_AND_NEIGHBOURS = (
    "WITH ev AS MATERIALIZED (SELECT e.identifier_id, ei.strength FROM mentions e "
    "  JOIN identifiers ei ON ei.id = e.identifier_id "
    "  LEFT JOIN identifier_stats es ON es.identifier_id = e.identifier_id "
    "  WHERE e.case_id = ? AND e.role = ? AND ei.excluded = FALSE "
    "  AND (ei.strength = ? OR (ei.strength = ? AND COALESCE(es.hub, FALSE) = FALSE))), "
    "nb AS (SELECT m.identifier_id, m.case_id, l.group_id, l.mec_id, me.size, ev.strength FROM ev "
    "  JOIN mentions m ON m.identifier_id = ev.identifier_id "
    "  LEFT JOIN case_links l ON l.case_id = m.case_id "
    "  LEFT JOIN multi_episode_cases me ON me.id = l.mec_id "
    "  LEFT JOIN split_cuts sc ON sc.case_id = m.case_id AND sc.identifier_id = m.identifier_id "
    "  WHERE m.role = ? AND m.case_id <> ? AND COALESCE(sc.tag, 0) = 0), "
    "grp AS (SELECT DISTINCT group_id FROM nb WHERE strength = ? AND group_id IS NOT NULL) "
    "SELECT 0, i.id, i.strength, i.excluded, s.hub, s.group_count, NULL, NULL, NULL, NULL FROM mentions m "
    "JOIN identifiers i ON i.id = m.identifier_id "
    "LEFT JOIN identifier_stats s ON s.identifier_id = i.id "
    "WHERE m.case_id = ? AND m.role = ? "
    "UNION ALL "
    "SELECT 1, identifier_id, NULL, NULL, NULL, NULL, case_id, group_id, mec_id, size FROM nb "
    "UNION ALL "
    "SELECT 2, m.identifier_id, NULL, NULL, s.hub, s.group_count, NULL, l.group_id, g.n, NULL FROM grp "
    "JOIN case_links l ON l.group_id = grp.group_id "
    "JOIN mentions m ON m.case_id = l.case_id "
    "JOIN identifiers i ON i.id = m.identifier_id "
    "JOIN (SELECT group_id, COUNT(*) AS n FROM case_links "
    "      WHERE group_id IN (SELECT group_id FROM grp) GROUP BY group_id) g ON g.group_id = l.group_id "
    "LEFT JOIN identifier_stats s ON s.identifier_id = m.identifier_id "
    "WHERE m.role = ? AND i.strength = ? AND i.excluded = FALSE"
)


# One case joins one multi-episode case and nothing else moves: its totals change by that
# case alone, so they are updated by it instead of re-aggregated over every member (a
# 500-case multi-episode case took 8-14 ms to re-aggregate on PostgreSQL, this 0.3-2 ms).
# Regions and victims are counted distinct, so those two ask whether another member
# already has the region or the victim's IIN; a victim without an IIN, or no victim,
# counts once per case, as in `mec_store._refresh_sql`. Both questions walk the members
# from `case_links` and look each one up by key (the scalar subqueries keep either
# database from starting at a whole region's cases instead: SQLite did, 12.8 ms a case
# at a million). The hub flag comes from the caller: the new case's own identifiers are
# the only ones that can add a hub here.
_JOIN_ONE = (
    "UPDATE multi_episode_cases SET size = m.size + 1, needs_review = TRUE, updated_at = ?, "
    "damage_kzt = m.damage_kzt + c.damage_kzt, recovered_kzt = m.recovered_kzt + c.recovered_kzt, "
    "first_date = CASE WHEN m.first_date IS NULL OR c.registered_at < m.first_date THEN c.registered_at "
    "  ELSE m.first_date END, "
    "last_date = CASE WHEN m.last_date IS NULL OR c.registered_at > m.last_date THEN c.registered_at "
    "  ELSE m.last_date END, "
    "region_count = m.region_count + CASE WHEN EXISTS (SELECT 1 FROM case_links ol WHERE ol.mec_id = m.id "
    "  AND ol.case_id <> c.id AND (SELECT o.region_code FROM cases o WHERE o.id = ol.case_id) = c.region_code) "
    "  THEN 0 ELSE 1 END, "
    "victims = m.victims + CASE WHEN v.iin IS NOT NULL AND EXISTS (SELECT 1 FROM case_links wl WHERE wl.mec_id = m.id "
    "  AND wl.case_id <> c.id AND (SELECT w.iin FROM victims w WHERE w.case_id = wl.case_id) = v.iin) "
    "  THEN 0 ELSE 1 END, "
    "has_hub = CASE WHEN ? THEN TRUE ELSE m.has_hub END "
    "FROM multi_episode_cases m, cases c LEFT JOIN victims v ON v.case_id = c.id "
    "WHERE m.id = ? AND c.id = ? AND multi_episode_cases.id = m.id"
)


# PostgreSQL, for that same commonest write: the new case's link, the decision and the phones'
# changed counts ride along with the totals' update as data-modifying CTEs, one round trip
# instead of four. All four see the statement's one snapshot, and none reads what another
# writes: _JOIN_ONE skips the new case's own link (`<> c.id`) and never reads the decisions
# or the phones' counts. SQLite has no data-modifying CTEs and runs the four one after the
# other; on either the result is the same.
_JOIN_ONE_PG = (f"WITH link AS ({INSERT_LINK}), decision AS ({INSERT_DECISION}), "
                f"stats AS ({UPSERT_PHONE_STATS_PG}) {_JOIN_ONE}")


def _stat(group_count: Any, hub: Any) -> tuple[int, bool]:
    """A phone's stats from a LEFT JOIN on identifier_stats: NO_STAT where it has no row."""
    return NO_STAT if group_count is None else (int(group_count), bool(hub))


def _changed_stats(stored: dict[int, tuple[int, bool]], fresh: dict[int, tuple[int, bool]]) -> list[tuple[int, int, bool]]:
    """The phones' stats rows that the new case changes."""
    return [(p, n, hub) for p, (n, hub) in sorted(fresh.items()) if stored[p] != (n, hub)]


async def _merge_groups(raw: Raw, group_id: int, groups: set[int], stored: dict[int, tuple[int, bool]],
                        fresh: dict[int, tuple[int, bool]], *, stats: bool = True) -> None:
    """The core groups the new case joins become one, named `group_id`, and the phones'
    counts change with them (unless `stats` is False: the caller writes `_changed_stats`)."""
    await merge_groups(raw, group_id, sorted(groups - {group_id}), _changed_stats(stored, fresh) if stats else [])


async def link_new_case(raw: Raw, case_id: int, hub_threshold: int) -> set[int] | None:
    """Link one case that has just been inserted; return the multi-episode case ids that changed.

    Returns None, having written nothing, when the general path must run instead: the
    stored links are not in the shape this path relies on. A phone whose hub flag flips
    goes to `_link_across_flips`.
    """
    found = await raw.fetch(_OWN_AND_NEIGHBOURS, (case_id, LINKING_ROLE, CORE_STRENGTH, PHONE_STRENGTH, LINKING_ROLE,
                                                  case_id, CORE_STRENGTH, case_id, LINKING_ROLE, LINKING_ROLE,
                                                  PHONE_STRENGTH))
    own = [row[1:6] for row in found if row[0] == 0]
    core = [int(i) for i, strength, excluded, _, _ in own if strength == CORE_STRENGTH and not excluded]
    phones = {int(i): (n, bool(hub)) for i, strength, excluded, hub, n in own
              if strength == PHONE_STRENGTH and not excluded}
    own_hub = any(bool(hub) for _, _, _, hub, _ in own)

    core_set = set(core)
    groups: set[int] = set()  # core groups the new case merges
    mecs: dict[int, int] = {}  # multi-episode cases it joins, with their sizes
    loose: set[int] = set()  # cases in no multi-episode case that it joins
    for part, ident, *_, other, group, mec, size in found:
        if part != 1:
            continue
        if group is None or (mec is None and group != other):
            return None  # a case without links, or links out of shape: let the general path repair it
        if ident in core_set:
            groups.add(int(group))
        if mec is None:
            loose.add(int(other))
        else:
            mecs[int(mec)] = int(size)
    group_id = min(groups | {case_id})

    # Hub counts: the merged group is one group of two or more where there used to be several.
    stored: dict[int, tuple[int, bool]] = {  # phone -> its stats row (NO_STAT if it has none)
        p: _stat(n, hub) for p, (n, hub) in phones.items()}
    fresh = dict(stored)
    if groups:
        counted: dict[int, set[int]] = {}  # phone -> old groups of 2+ that used it
        for part, phone, _, _, hub, n, _, group, size, _ in found:
            if part != 2:
                continue
            phone = int(phone)
            stored.setdefault(phone, _stat(n, hub))
            if int(size) >= 2:
                counted.setdefault(phone, set()).add(int(group))
        for phone, (n, _) in stored.items():
            count = n - len(counted.get(phone, ())) + 1
            fresh[phone] = (count, count > hub_threshold)
    flips = {p for p in fresh if fresh[p][1] != stored[p][1]}  # a hub appears or disappears
    if flips:
        evidence = core + [p for p, (_, hub) in phones.items() if not hub]
        return await _link_across_flips(raw, case_id, group_id, groups, evidence, flips, stored, fresh)

    total = 1 + sum(mecs.values()) + len(loose)
    kept = min(((-size, mid) for mid, size in mecs.items()), default=None)
    if kept is None and loose and raw.postgres:  # a new multi-episode case of cases in none: one statement
        await _merge_groups(raw, group_id, groups, stored, fresh)
        now = raw.timestamp(utcnow())
        members = [case_id, *sorted(loose)]
        (created,) = await raw.fetch(CREATE_MEC_PG, (members, members, MecStatus.OPEN.value, now, now, case_id,
                                                     group_id, sorted(loose), raw.json({"episodes": total}), now))
        return {int(created[0])}
    mec_id: int | None = None
    if total >= 2:
        mec_id = kept[1] if kept is not None else (await next_mec_ids(raw, 1))[0]

    absorbed = sorted(mecs.keys() - {mec_id}) if mec_id is not None else []
    only_joins = kept is not None and not absorbed and not loose  # one case joins one multi-episode case
    one_statement = only_joins and raw.postgres  # _JOIN_ONE_PG writes the link with the totals

    # Writes.
    now = raw.timestamp(utcnow())
    if not one_statement:
        await raw.execute(INSERT_LINK, (case_id, group_id, mec_id))
    await _merge_groups(raw, group_id, groups, stored, fresh, stats=not one_statement)
    if mec_id is None:
        return set()
    joined = {case_id} | loose
    if absorbed:
        among, ids = raw.among(absorbed)
        moved = await raw.fetch(f"UPDATE case_links SET mec_id = ? WHERE mec_id {among} RETURNING case_id",
                                (mec_id, *ids))
        joined |= {int(c) for (c,) in moved}
    if loose:
        among, ids = raw.among(sorted(loose))
        await raw.execute(f"UPDATE case_links SET mec_id = ? WHERE case_id {among}", (mec_id, *ids))
    decisions: list[tuple[Any, ...]] = []
    if kept is None:
        await raw.execute(INSERT_MEC, (mec_id, MecStatus.OPEN.value, total, now, now))
        decisions.append((mec_id, "engine_created", None, raw.json({"episodes": total}), now))
    else:
        decisions.append((mec_id, "engine_joined", None, raw.json({"case_ids": sorted(joined)}), now))
        if not only_joins:  # _JOIN_ONE sets it in the same statement as the totals
            await raw.execute("UPDATE multi_episode_cases SET needs_review = TRUE WHERE id = ?", (mec_id,))
    await raw.executemany(DISSOLVE_MEC, [(MecStatus.DISSOLVED.value, mec_id, now, gone) for gone in absorbed])
    decisions += [(gone, "engine_dissolved", None, raw.json({"merged_into": mec_id}), now) for gone in absorbed]
    if one_statement:
        (decision,) = decisions
        await raw.execute(_JOIN_ONE_PG, (case_id, group_id, mec_id, *decision,
                                         *columns(_changed_stats(stored, fresh), 3), now, own_hub, mec_id, case_id))
        return {mec_id}
    await raw.executemany(INSERT_DECISION, decisions)
    if only_joins:
        await raw.execute(_JOIN_ONE, (now, own_hub, mec_id, case_id))
    else:
        await refresh_aggregates(raw, {mec_id})
    return {mec_id, *absorbed}


# Every case that mentions one of the given identifiers (`Raw.among`) as a suspect, or is
# the given case, and every case of their multi-episode cases (part 0: with its links), and
# their linking mentions and their mentions of hubs (part 1: with the split tag, the
# identifier's strength, the phone's stored hub flag and whether it is excluded); and the
# largest multi-episode case id (part 2), which new ones follow.
_REGION = (
    "WITH seed AS (SELECT case_id FROM mentions WHERE identifier_id {} AND role = ? "
    "  UNION SELECT id FROM cases WHERE id = ?), "
    "region AS (SELECT case_id FROM seed UNION SELECT l.case_id FROM case_links l "
    "  WHERE l.mec_id IN (SELECT sl.mec_id FROM case_links sl JOIN seed ON seed.case_id = sl.case_id)) "
    "SELECT 0, r.case_id, l.group_id, l.mec_id, NULL, NULL, NULL FROM region r "
    "LEFT JOIN case_links l ON l.case_id = r.case_id "
    "UNION ALL "
    "SELECT 1, m.case_id, m.identifier_id, COALESCE(sc.tag, 0), i.strength, COALESCE(st.hub, FALSE), i.excluded "
    "FROM region r "
    "JOIN mentions m ON m.case_id = r.case_id "
    "JOIN identifiers i ON i.id = m.identifier_id "
    "LEFT JOIN split_cuts sc ON sc.case_id = m.case_id AND sc.identifier_id = m.identifier_id "
    "LEFT JOIN identifier_stats st ON st.identifier_id = m.identifier_id "
    "WHERE m.role = ? AND ((i.excluded = FALSE AND i.strength IN (?, ?)) OR st.hub = TRUE) "
    "UNION ALL "
    "SELECT 2, MAX(id), NULL, NULL, NULL, NULL, NULL FROM multi_episode_cases"
)


async def _link_across_flips(raw: Raw, case_id: int, group_id: int, groups: set[int], evidence: list[int],
                             flips: set[int], stored: dict[int, tuple[int, bool]],
                             fresh: dict[int, tuple[int, bool]]) -> set[int] | None:
    """The new case makes phones become hubs or stop being hubs (`flips`): multi-episode
    cases held together by such a phone split, or ones it now joins merge.

    Stored multi-episode cases are the components of the stored evidence, so the new
    components lie within the old multi-episode cases of every case that shares evidence
    with the new one or mentions a flipped phone: any new edge starts at one of those
    cases, and any old edge stays within an old multi-episode case. That region and its
    edges come in one statement, and the components within it are computed as the general
    path computes them (`label_cases`, `assign_mecs`), without walking the graph.
    Core groups only merge when a case is added, as on the fast path.

    Returns None, having written nothing, if a case of the region has links out of shape.
    """
    among, ids = raw.among(sorted(set(evidence) | flips))
    rows = await raw.fetch(_REGION.format(among), (*ids, LINKING_ROLE, case_id, LINKING_ROLE, CORE_STRENGTH,
                                                   PHONE_STRENGTH))
    old: dict[int, tuple[int, int | None]] = {}
    edges: list[Edge] = []
    hub_now = {p: fresh[p][1] for p in flips}
    hub_cases: set[int] = set()  # cases that name a flipped phone: their hub flag may change
    hub_members: set[int] = set()  # cases that name a hub, once this write has flipped the phones
    top_mec_id = 0
    for part, case, a, b, strength, hub, excluded in rows:
        if part == 2:
            top_mec_id = int(case or 0)
            continue
        case = int(case)
        if part == 0:
            if case == case_id:
                continue  # no links yet: written below
            if a is None or (b is None and int(a) != case):
                return None  # a case without links, or links out of shape: the general path repairs it
            old[case] = (int(a), None if b is None else int(b))
        else:
            ident = int(a)
            if ident in flips:
                hub_cases.add(case)
            is_hub = hub_now.get(ident, bool(hub))
            if is_hub:
                hub_members.add(case)
            if not excluded and (strength == CORE_STRENGTH or (strength == PHONE_STRENGTH and not is_hub)):
                edges.append((case, ident, int(b), strength))

    old[case_id] = (group_id, None)
    arrival = Arrival(case_id, group_id, sorted(groups - {group_id}), _changed_stats(stored, fresh))
    return await assign_mecs(raw, label_cases(set(old), edges), old, hub_cases, arrival=arrival,
                             top_mec_id=top_mec_id, hub_members=hub_members)
