"""Persist components as multi-episode cases, keeping identities and decisions stable.

A recomputed component keeps the id of the old multi-episode case that holds most of its
cases, so an analyst's confirmation, lead unit and notes survive later relinking. New
groups get new ids; a case that is alone again leaves its multi-episode case.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hq.linking.graph import chunks
from hq.linking.phone_stats import UPSERT_PHONE_STAT, UPSERT_PHONE_STATS_PG
from hq.linking.rules import LINKING_ROLE
from hq.models import MecStatus, utcnow
from hq.rawsql import Raw, columns, marks


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


async def next_mec_ids(raw: Raw, k: int) -> list[int]:
    """Ids for k new multi-episode cases. Callers hold the write lock, so max()+1 is safe."""
    if k == 0:
        return []
    top = int((await raw.fetch("SELECT COALESCE(MAX(id), 0) FROM multi_episode_cases"))[0][0])
    return list(range(top + 1, top + 1 + k))


INSERT_MEC = (
    "INSERT INTO multi_episode_cases (id, status, needs_review, size, region_count, victims, damage_kzt, "
    "recovered_kzt, has_hub, created_at, updated_at) VALUES (?, ?, TRUE, ?, 0, 0, 0, 0, FALSE, ?, ?)"
)
DISSOLVE_MEC = "UPDATE multi_episode_cases SET status = ?, merged_into_id = ?, size = 0, updated_at = ? WHERE id = ?"
INSERT_DECISION = (
    "INSERT INTO mec_decisions (mec_id, principal_id, action, reason, payload, created_at) VALUES (?, NULL, ?, ?, ?, ?)"
)
INSERT_LINK = "INSERT INTO case_links (case_id, group_id, mec_id) VALUES (?, ?, ?)"


async def merge_groups(raw: Raw, group_id: int, merged: Sequence[int],
                       phone_stats: Sequence[tuple[int, int, bool]]) -> None:
    """The core groups `merged` become part of the group `group_id`, and the phones' counts
    change with them (`phone_stats`: their changed identifier_stats rows)."""
    if merged:
        among, ids = raw.among(list(merged))
        await raw.execute(f"UPDATE case_links SET group_id = ? WHERE group_id {among}", (group_id, *ids))
    await raw.executemany(UPSERT_PHONE_STAT, phone_stats)


@dataclass(frozen=True)
class Arrival:
    """A brand-new case's own writes, which `assign_mecs` makes with its assignments: the
    case's link (with its final multi-episode case), the core groups it merges (renamed to
    its group) and its phones' changed counts. On PostgreSQL they ride in the assignments'
    one statement, three or four round trips fewer for a new case whose phones flip."""

    case_id: int
    group_id: int
    merged: list[int]
    phone_stats: list[tuple[int, int, bool]]


async def assign_mecs(
    raw: Raw, labels: dict[int, int], old_links: dict[int, tuple[int, int | None]],
    hub_cases: Iterable[int] = (), *, arrival: Arrival | None = None, top_mec_id: int | None = None,
    hub_members: set[int] | None = None,
) -> set[int]:
    """Write mec ids for every case in a closed region; return the mec ids that changed.

    `hub_cases`: cases of the region that mention a phone whose hub flag flipped. Their
    multi-episode cases' totals are refreshed (and reported as changed) even where no case
    moved, because whether a hub is among their identifiers may have changed.
    `arrival`: a new case of the region that has no link yet, and its writes (`Arrival`).
    `top_mec_id`: the largest multi-episode case id, where the caller has read it already.
    `hub_members`: the cases of the region with a suspect-side mention of a hub (as the
    phones' counts stand after this write), where the caller has read every mention of every
    case of the region already: the totals' refresh then need not look them up.

    Set-oriented: a constant number of statements whatever the number of components, so
    the bulk path (thousands of components) and the incremental path share this code.
    """
    old_mec = {c: m for c, (_, m) in old_links.items()}
    kept, multi = plan_identities(labels, old_mec)
    now = raw.timestamp(utcnow())
    n_new = sum(1 for m in kept.values() if m is None)
    fresh = iter(await next_mec_ids(raw, n_new) if top_mec_id is None
                 else range(top_mec_id + 1, top_mec_id + 1 + n_new))
    new_mec: dict[int, int | None] = {c: None for c in labels}
    created: list[tuple[object, ...]] = []
    decisions: list[tuple[object, ...]] = []
    grown: list[int] = []
    for label in sorted(multi):
        cs = multi[label]
        mec_id = kept[label]
        if mec_id is None:
            mec_id = next(fresh)
            created.append((mec_id, MecStatus.OPEN.value, len(cs), now, now))
            decisions.append((mec_id, "engine_created", None, raw.json({"episodes": len(cs)}), now))
        else:
            joined = [c for c in cs if old_mec.get(c) != mec_id]
            if joined:
                grown.append(mec_id)
                decisions.append((mec_id, "engine_joined", None, raw.json({"case_ids": joined}), now))
        for c in cs:
            new_mec[c] = mec_id
    new_case = None if arrival is None else arrival.case_id
    moves = [(m, c) for c, m in new_mec.items() if old_mec.get(c) != m and c != new_case]

    old_ids = {m for m in old_mec.values() if m is not None}
    live_ids = {m for m in new_mec.values() if m is not None}
    gone = old_ids - live_ids
    dissolved = []
    for mec_id in sorted(gone):
        successors = Counter(new_mec[c] for c, m in old_mec.items() if m == mec_id and new_mec[c] is not None)
        into = min(successors, key=lambda k: (-successors[k], k)) if successors else None
        dissolved.append((MecStatus.DISSOLVED.value, into, now, mec_id))
        decisions.append((mec_id, "engine_dissolved", None, raw.json({"merged_into": into}), now))
    if raw.postgres:
        await _write_assignments_pg(raw, created, moves, dissolved, grown, decisions, now, arrival,
                                    None if arrival is None else new_mec[arrival.case_id])
    else:
        if arrival is not None:
            await merge_groups(raw, arrival.group_id, arrival.merged, arrival.phone_stats)
            await raw.execute(INSERT_LINK, (arrival.case_id, arrival.group_id, new_mec[arrival.case_id]))
        await raw.executemany(INSERT_MEC, created)
        await raw.executemany("UPDATE case_links SET mec_id = ? WHERE case_id = ?", moves)
        await raw.executemany(DISSOLVE_MEC, dissolved)
        for chunk in chunks(grown):
            await raw.execute(f"UPDATE multi_episode_cases SET needs_review = TRUE WHERE id IN ({marks(len(chunk))})",
                              chunk)
        await raw.executemany(INSERT_DECISION, decisions)
    changed = {m for c, m in new_mec.items() if old_mec.get(c) != m and m is not None}
    changed |= {old_mec[c] for c in new_mec if old_mec.get(c) is not None and old_mec[c] != new_mec[c]}
    changed |= {new_mec[c] for c in hub_cases if new_mec.get(c) is not None}
    changed -= gone
    hubs = None if hub_members is None else {new_mec[c] for c in hub_members if new_mec.get(c) in changed}
    await refresh_aggregates(raw, changed, hubs=hubs)
    return changed | gone


# PostgreSQL: what `assign_mecs` writes, in one statement whatever the number of rows, each
# kind of row as column arrays: new multi-episode cases, a new case's link (an `Arrival`), cases
# moved to another multi-episode case (or to none), the rest of the core groups the new case
# merges, its phones' counts, dissolved multi-episode cases, grown ones to review, and the
# decisions in their order. No two parts touch the same row: new, grown and dissolved
# multi-episode cases are distinct, the new link is not among the moved ones, and the regrouped
# links are the merged groups' links that are not moved (a moved one is regrouped where it is
# moved). The decisions may name a multi-episode case created in the same statement: foreign
# keys are checked at its end. Their payloads travel as text[]: asyncpg would look up json[]
# in the server's catalogue (three more round trips) the first time a connection sends one.
_ASSIGN_PG = (
    "WITH created AS (INSERT INTO multi_episode_cases (id, status, needs_review, size, region_count, victims, "
    "  damage_kzt, recovered_kzt, has_hub, created_at, updated_at) "
    "  SELECT x.id, x.status, TRUE, x.size, 0, 0, 0, 0, FALSE, ?::timestamptz, ?::timestamptz "
    "  FROM unnest(?::bigint[], ?::text[], ?::integer[]) AS x(id, status, size)), "
    "link AS (INSERT INTO case_links (case_id, group_id, mec_id) "
    "  SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[])), "
    "moved AS (UPDATE case_links SET mec_id = x.mec_id, "
    "  group_id = CASE WHEN case_links.group_id = ANY(?::bigint[]) THEN ?::bigint ELSE case_links.group_id END "
    "  FROM unnest(?::bigint[], ?::bigint[]) AS x(mec_id, case_id) WHERE case_links.case_id = x.case_id), "
    "regrouped AS (UPDATE case_links SET group_id = ?::bigint "
    "  WHERE group_id = ANY(?::bigint[]) AND case_id <> ALL(?::bigint[])), "
    f"stats AS ({UPSERT_PHONE_STATS_PG}), "
    "dissolved AS (UPDATE multi_episode_cases SET status = x.status, merged_into_id = x.into_id, size = 0, "
    "  updated_at = ?::timestamptz FROM unnest(?::text[], ?::bigint[], ?::bigint[]) AS x(status, into_id, id) "
    "  WHERE multi_episode_cases.id = x.id), "
    "grown AS (UPDATE multi_episode_cases SET needs_review = TRUE WHERE id = ANY(?::bigint[])), "
    "decided AS (INSERT INTO mec_decisions (mec_id, principal_id, action, reason, payload, created_at) "
    "  SELECT x.mec_id, NULL, x.action, NULL, x.payload::json, ?::timestamptz "
    "  FROM unnest(?::bigint[], ?::text[], ?::text[]) WITH ORDINALITY AS x(mec_id, action, payload, n) ORDER BY x.n) "
    "SELECT 1"
)


async def _write_assignments_pg(raw: Raw, created: list[tuple[object, ...]], moves: list[tuple[int | None, int]],
                                dissolved: list[tuple[object, ...]], grown: list[int],
                                decisions: list[tuple[object, ...]], now: object,
                                arrival: Arrival | None, arrival_mec: int | None) -> None:
    """`assign_mecs`'s writes on PostgreSQL (`_ASSIGN_PG`): one round trip instead of up to
    five, or up to nine with an arrival's."""
    if not (created or moves or dissolved or grown or decisions or arrival):
        return
    new_rows = columns([(mid, status, size) for mid, status, size, _, _ in created], 3)
    gone_rows = columns([(status, into, mid) for status, into, _, mid in dissolved], 3)
    decision_rows = columns([(mid, action, payload) for mid, action, _, payload, _ in decisions], 3)
    link = [] if arrival is None else [(arrival.case_id, arrival.group_id, arrival_mec)]
    group_id, merged = (None, []) if arrival is None else (arrival.group_id, arrival.merged)
    stats = [] if arrival is None else arrival.phone_stats
    moved_ids = [c for _, c in moves]
    await raw.execute(_ASSIGN_PG, (now, now, *new_rows, *columns(link, 3), merged, group_id, *columns(moves, 2),
                                   group_id, merged, moved_ids, *columns(stats, 3), now, *gone_rows, sorted(grown),
                                   now, *decision_rows))


_ALL = "IS NOT NULL"

# A multi-episode case's totals over its member cases `c` (with their victims `v`): how many,
# in how many regions, how many victims (distinct IINs; a victim without one, or no victim,
# counts once per case), damage, recovered, first and last registration days.
_TOTALS = (
    "COUNT(c.id) AS n, COUNT(DISTINCT c.region_code) AS regions, "
    "COUNT(DISTINCT COALESCE(v.iin, CAST(c.id AS VARCHAR(12)))) AS victims, "
    "COALESCE(SUM(c.damage_kzt), 0) AS damage, COALESCE(SUM(c.recovered_kzt), 0) AS recovered, "
    "MIN(c.registered_at) AS first_day, MAX(c.registered_at) AS last_day"
)
# Suspect-side mentions of hubs, from the member cases' ids in `{}.case_id`.
_HUB_MENTIONS = (f"JOIN mentions m ON m.case_id = {{}}.case_id AND m.role = '{LINKING_ROLE}' "
                 "JOIN identifier_stats s ON s.identifier_id = m.identifier_id AND s.hub = TRUE")


def _refresh_sql(ids: str, hub_ids: str | None = None) -> str:
    """One statement that recomputes the totals of multi-episode cases (size, regions,
    victims, damage, recovered, first and last dates, whether a hub is among their
    suspect-side identifiers) and returns the ids it updated: the aggregates run inside the
    UPDATE, so nothing travels to Python and back. `ids` follows a multi-episode case id:
    the condition from `Raw.among` for the ids given as parameters (it appears three times:
    each part then starts from the ids' own index entries, which keeps PostgreSQL's generic
    plan off whole-table scans), or "IS NOT NULL" for every multi-episode case that has a case.
    `hub_ids`, if given, is such a condition for those of them that have a hub, where the
    caller knows (it then takes the place of the first of the three)."""
    has_hub = (f"multi_episode_cases.id {hub_ids}" if hub_ids is not None else
               f"multi_episode_cases.id IN (SELECT hl.mec_id FROM case_links hl {_HUB_MENTIONS.format('hl')} "
               f"  WHERE hl.mec_id {ids})")
    return (
        "UPDATE multi_episode_cases SET size = t.n, region_count = t.regions, victims = t.victims, "
        "damage_kzt = t.damage, recovered_kzt = t.recovered, first_date = t.first_day, last_date = t.last_day, "
        f"updated_at = ?, has_hub = {has_hub}, "
        f"status = CASE WHEN status = '{MecStatus.DISSOLVED.value}' THEN '{MecStatus.OPEN.value}' ELSE status END, "
        "merged_into_id = NULL "
        f"FROM (SELECT cl.mec_id, {_TOTALS} "
        "      FROM case_links cl JOIN cases c ON c.id = cl.case_id LEFT JOIN victims v ON v.case_id = c.id "
        f"     WHERE cl.mec_id {ids} GROUP BY cl.mec_id) t "
        "WHERE multi_episode_cases.id = t.mec_id"
        + (f" AND multi_episode_cases.id {ids}" if ids != _ALL else "") + " RETURNING id"
    )


# PostgreSQL: a new multi-episode case of the given cases, none of which is in one yet, in one
# statement: its id (the next free one: writers hold the write lock), its row with its totals
# already counted over those cases, the first case's link (a case just added), the others'
# links moved to it, and the decision that records it. Each part sees the statement's one
# snapshot, so the totals come from the member ids given, not from the links written here.
# `refresh_aggregates` would count the same totals one statement later.
CREATE_MEC_PG = (
    "WITH mid AS (SELECT COALESCE(MAX(id), 0) + 1 AS id FROM multi_episode_cases), "
    f"t AS (SELECT {_TOTALS}, EXISTS (SELECT 1 FROM unnest(?::bigint[]) AS h(case_id) {_HUB_MENTIONS.format('h')}) "
    "  AS has_hub FROM cases c LEFT JOIN victims v ON v.case_id = c.id WHERE c.id = ANY(?::bigint[])), "
    "mec AS (INSERT INTO multi_episode_cases (id, status, needs_review, size, region_count, victims, damage_kzt, "
    "  recovered_kzt, first_date, last_date, has_hub, created_at, updated_at) "
    "  SELECT mid.id, ?::text, TRUE, t.n, t.regions, t.victims, t.damage, t.recovered, t.first_day, t.last_day, "
    "  t.has_hub, ?::timestamptz, ?::timestamptz FROM mid, t RETURNING id), "
    "link AS (INSERT INTO case_links (case_id, group_id, mec_id) SELECT ?::bigint, ?::bigint, id FROM mec), "
    "joined AS (UPDATE case_links SET mec_id = (SELECT id FROM mec) WHERE case_id = ANY(?::bigint[])), "
    "decision AS (INSERT INTO mec_decisions (mec_id, principal_id, action, reason, payload, created_at) "
    "  SELECT id, NULL, 'engine_created', NULL, ?::json, ?::timestamptz FROM mec) "
    "SELECT id FROM mec"
)


async def refresh_aggregates(raw: Raw, mec_ids: Iterable[int], *, all_linked: bool = False,
                             hubs: set[int] | None = None) -> None:
    """Recompute multi-episode totals: one statement per chunk of ids; those left with no
    case are dissolved. `all_linked`: the ids are every multi-episode case that has a case
    (a first linking), so one pass over all links replaces thousands of IN (…) lists.
    `hubs`: those of the ids that have a hub among their suspect-side identifiers, where the
    caller has read every member's mentions already. Looking that up is most of the work for
    a big multi-episode case (a 558-case one on PostgreSQL at a million cases: 4.7 ms with
    the lookup, 1.7 ms without)."""
    now = raw.timestamp(utcnow())
    wanted = set(mec_ids)
    pieces: Iterable[list[int] | None] = [None] if all_linked else chunks(wanted)
    for chunk in pieces:
        if chunk is None:
            rows = await raw.fetch(_refresh_sql(_ALL), (now,))
        elif hubs is None:  # the ids fill the statement's three conditions
            among, params = raw.among(chunk)
            rows = await raw.fetch(_refresh_sql(among), (now, *params, *params, *params))
        else:
            among, params = raw.among(chunk)
            hub_among, hub_params = raw.among(sorted(hubs.intersection(chunk)))
            rows = await raw.fetch(_refresh_sql(among, hub_among), (now, *hub_params, *params, *params))
        updated = {int(m) for (m,) in rows}
        empty = sorted((wanted if chunk is None else set(chunk)) - updated)
        for gone in chunks(empty):
            await raw.execute(f"UPDATE multi_episode_cases SET size = 0, status = ?, updated_at = ? "
                              f"WHERE id IN ({marks(len(gone))})", (MecStatus.DISSOLVED.value, now, *gone))
