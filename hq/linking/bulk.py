"""Full relink of the whole database in memory: the bulk path for backlogs and benchmarks.

Reads every linking mention once into numpy arrays, computes core groups, hub phones and
multi-episode cases with `graph.components` (the same function the incremental path
uses), and writes back only what changed. Identities of existing multi-episode cases are
kept by `mec_store.assign_mecs`, exactly as in incremental linking.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.graph import components
from hq.linking.incremental import lock_writes
from hq.linking.mec_store import INSERT_DECISION, INSERT_MEC, assign_mecs, next_mec_ids, refresh_aggregates
from hq.linking.rules import LINKABLE_STRENGTHS, LINKING_ROLE, PHONE_STRENGTH
from hq.models import CaseLink, MecStatus, utcnow
from hq.rawsql import Raw, drop_foreign_keys, drop_indexes, plain_indexes


def label_components(n_cases: int, case_idx: np.ndarray, node_idx: np.ndarray, n_nodes: int) -> np.ndarray:
    """Component label per case (smallest case index in it) for case–node edges."""
    labels = components(n_cases + n_nodes, case_idx, node_idx + n_cases)
    return labels[:n_cases]


def compute(case_ids: np.ndarray, m_case: np.ndarray, m_node: np.ndarray, m_ident: np.ndarray,
            m_is_phone: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[int, bool]]]:
    """Pure computation: (core group label, mec label) per case index, and phone stats: for
    each phone that groups of two or more cases use, (how many such groups, hub). A phone
    that no such group uses has no row (readers take a missing row as 0 groups, no hub): at a
    million cases that leaves out 588,076 of 932,903 phones.

    m_case: case index per mention; m_node: dense node index per (identifier, split tag);
    m_ident: identifier id per mention; m_is_phone: bool per mention.
    """
    n = len(case_ids)
    n_nodes = int(m_node.max()) + 1 if len(m_node) else 0
    core = ~m_is_phone
    groups = label_components(n, m_case[core], m_node[core], n_nodes)
    sizes = np.bincount(groups, minlength=n)
    # Hubs: phones used by more than `threshold` groups that have two or more cases.
    ph = m_is_phone
    stats: dict[int, tuple[int, bool]] = {}
    hub_mask = np.zeros(len(m_case), dtype=bool)
    if ph.any():
        # Distinct (phone, group) pairs as one int64 key each: a 1-D unique, not a row-wise one.
        pairs = np.unique(m_ident[ph] * n + groups[m_case[ph]])
        pair_ident, pair_group = pairs // n, pairs % n
        real = sizes[pair_group] >= 2
        counted_ids, counted = np.unique(pair_ident[real], return_counts=True)
        stats = dict(zip(counted_ids.tolist(), zip(counted.tolist(), (counted > threshold).tolist())))
        hubs = counted_ids[counted > threshold]
        if len(hubs):
            hub_mask = ph & np.isin(m_ident, hubs)
    keep = ~hub_mask
    mecs = label_components(n, m_case[keep], m_node[keep], n_nodes)
    return groups, mecs, stats


MENTIONS_SQL = (  # the linking rules of rules.py, as one scan
    "SELECT m.case_id, m.identifier_id, COALESCE(sc.tag, 0), "
    f"CASE WHEN i.strength = '{PHONE_STRENGTH}' THEN 1 ELSE 0 END "
    "FROM mentions m JOIN identifiers i ON i.id = m.identifier_id "
    "LEFT JOIN split_cuts sc ON sc.case_id = m.case_id AND sc.identifier_id = m.identifier_id "
    f"WHERE m.role = '{LINKING_ROLE}' AND i.excluded = FALSE "
    f"AND i.strength IN ({', '.join(repr(s) for s in LINKABLE_STRENGTHS)})"
)


def _ints(rows: list[tuple], width: int) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, width) if rows else np.zeros((0, width), dtype=np.int64)


@dataclass(slots=True)
class Evidence:
    """The linking mentions of a load into an empty database, gathered while it writes them.

    Such a database has no excluded identifiers and no split cuts, so the rows written are
    exactly what `MENTIONS_SQL` would read back: the relink skips that scan of millions of
    rows. Compact int64/bool arrays, not Python lists (a million cases give ~3M entries).
    """

    case_ids: array = field(default_factory=lambda: array("q"))  # every case written, ascending
    case: array = field(default_factory=lambda: array("q"))  # per linking mention: its case id
    ident: array = field(default_factory=lambda: array("q"))  # … its identifier id
    phone: array = field(default_factory=lambda: array("b"))  # … 1 if the identifier is a phone


def _node_index(m_ident: np.ndarray, m_tag: np.ndarray) -> np.ndarray:
    """Dense node index per (identifier, split tag): a split cut's side is its own node."""
    if len(m_ident) == 0:
        return np.zeros(0, dtype=np.int64)
    span = int(m_tag.max()) + 1
    _, node = np.unique(m_ident * span + m_tag, return_inverse=True)
    return np.asarray(node, dtype=np.int64).reshape(-1)


@dataclass(slots=True)
class Linked:
    """Every case linked in memory, before anything is written.

    `mec_numbers` is set for the first linking of a database (`first=True`): per case, the
    number (1, 2, …, in the order of the components' smallest case ids) of its multi-episode
    case, None for a case alone, so that the writes only add the next free id to it.
    """

    case_ids: np.ndarray  # every case id, ascending
    group_ids: np.ndarray  # per case: its core group (the smallest case id in it)
    mec_labels: np.ndarray  # per case: the smallest case id of its multi-episode component
    stats: list[tuple[int, int, bool]]  # identifier_stats rows: phone, groups using it, hub
    mec_numbers: list[int | None] | None = None
    n_mecs: int = 0


def link_all(case_ids: np.ndarray, m_case: np.ndarray, m_ident: np.ndarray, m_tag: np.ndarray,
             m_is_phone: np.ndarray, threshold: int, *, first: bool = False) -> Linked:
    """Link every case from its linking mentions (m_case: case index per mention). Pure numpy
    and Python, no database: the bulk load runs it in a thread while SQLite builds indexes."""
    m_node = _node_index(m_ident, m_tag)
    groups, mecs, stats = compute(case_ids, m_case, m_node, m_ident, m_is_phone, threshold)
    linked = Linked(case_ids, case_ids[groups], case_ids[mecs], [(i, c, h) for i, (c, h) in stats.items()])
    if first:
        at = np.searchsorted(case_ids, linked.mec_labels)
        multi = np.bincount(at, minlength=len(case_ids))[at] >= 2
        roots = np.unique(linked.mec_labels[multi])  # one multi-episode case per component, in case-id order
        number = np.searchsorted(roots, linked.mec_labels) + 1
        linked.mec_numbers = [n if ok else None for n, ok in zip(number.tolist(), multi.tolist())]
        linked.n_mecs = len(roots)
    return linked


def link_evidence(evidence: Evidence, threshold: int) -> Linked:
    """`link_all` over the linking mentions a load into an empty database gathered: the
    first linking of that database (no split cuts, nothing excluded, no links yet)."""
    case_ids = np.frombuffer(evidence.case_ids, dtype=np.int64)
    m_case = np.searchsorted(case_ids, np.frombuffer(evidence.case, dtype=np.int64))
    m_ident = np.frombuffer(evidence.ident, dtype=np.int64)
    m_is_phone = np.frombuffer(evidence.phone, dtype=np.int8).astype(bool)
    return link_all(case_ids, m_case, m_ident, np.zeros(len(m_ident), dtype=np.int64), m_is_phone, threshold,
                    first=True)


async def full_relink(session: AsyncSession, hub_threshold: int, linked: Linked | None = None) -> set[int]:
    """Relink every case; return the ids of multi-episode cases that changed.

    `linked`, from `link_evidence` over a bulk load into an empty database, replaces reading
    the mentions back and linking them here.
    """
    await lock_writes(session)
    raw = await Raw.of(session, direct=False)  # plain tuples straight from the driver: millions of rows, no row objects
    old = _ints(await raw.fetch("SELECT case_id, group_id, COALESCE(mec_id, 0) FROM case_links"), 3)
    m: np.ndarray | None = None
    if linked is None:
        case_ids = _ints(await raw.fetch("SELECT id FROM cases ORDER BY id"), 1)[:, 0]
        m = _ints(await raw.fetch(MENTIONS_SQL), 4)
        linked = link_all(case_ids, np.searchsorted(case_ids, m[:, 0]), m[:, 1], m[:, 2], m[:, 3].astype(bool),
                          hub_threshold, first=len(old) == 0)
    case_ids, group_ids = linked.case_ids, linked.group_ids
    # Cases that name a phone whose hub flag flips: their multi-episode cases' hub flag is
    # refreshed even where no case moves (`assign_mecs`).
    hub_cases: set[int] = set()
    if len(old) and m is not None:
        was_hub = {int(i) for (i,) in await raw.fetch("SELECT identifier_id FROM identifier_stats WHERE hub = TRUE")}
        flipped = was_hub ^ {i for i, _, hub in linked.stats if hub}
        if flipped:
            hub_cases = set(m[np.isin(m[:, 1], sorted(flipped)), 0].tolist())

    # The first linking of a database (after a bulk load) writes both link tables whole: on
    # PostgreSQL their foreign keys are checked once afterwards instead of by a trigger per row.
    restore = await drop_foreign_keys(raw, ("identifier_stats", "case_links")) if len(old) == 0 else []
    await raw.execute("DELETE FROM identifier_stats")
    await raw.insert("identifier_stats", ("identifier_id", "group_count", "hub"), linked.stats)

    if len(old) == 0:
        return await _fresh_links(raw, linked, restore)
    old_by_case = {int(c): (int(g), int(mm) or None) for c, g, mm in old.tolist()}
    new_links = []
    group_moves = []
    for cid, gid in zip(case_ids.tolist(), group_ids.tolist()):
        prev = old_by_case.get(cid)
        if prev is None:
            new_links.append((cid, gid))
        elif prev[0] != gid:
            group_moves.append((gid, cid))
    await raw.executemany("INSERT INTO case_links (case_id, group_id) VALUES (?, ?)", new_links)
    await raw.executemany("UPDATE case_links SET group_id = ? WHERE case_id = ?", group_moves)
    labels = dict(zip(case_ids.tolist(), linked.mec_labels.tolist()))
    old_links = {c: old_by_case.get(c, (0, None)) for c in labels}
    return await assign_mecs(raw, labels, old_links, hub_cases)


async def _fresh_links(raw: Raw, linked: Linked, restore: list[str]) -> set[int]:
    """First linking of a database: write every case's link once, with its final ids.
    `restore`: the statements that add back the foreign keys dropped for the writes."""
    assert linked.mec_numbers is not None, "link_all(..., first=True) numbers the multi-episode cases"
    mec_ids = await next_mec_ids(raw, linked.n_mecs)
    top = mec_ids[0] - 1 if mec_ids else 0
    numbers = linked.mec_numbers if top == 0 else [None if n is None else n + top for n in linked.mec_numbers]
    rebuild = await drop_indexes(raw, plain_indexes(CaseLink.__table__).values())
    await raw.insert("case_links", ("case_id", "group_id", "mec_id"),
                     list(zip(linked.case_ids.tolist(), linked.group_ids.tolist(), numbers)))
    for statement in [*rebuild, *restore]:
        await raw.execute(statement)
    if raw.postgres:
        # The tables were filled in this transaction, where autovacuum cannot see them: without
        # statistics the planner picks nested loops over millions of rows for the totals below
        # (200,000 cases: 10 s instead of a fraction of one). ANALYZE counts our own rows.
        await raw.execute("ANALYZE cases, victims, mentions, case_links, identifier_stats")
    now = raw.timestamp(utcnow())
    await raw.executemany(INSERT_MEC, [(mid, MecStatus.OPEN.value, 0, now, now) for mid in mec_ids])
    empty = raw.json({})
    await raw.executemany(INSERT_DECISION, [(mid, "engine_created", "bulk linking", empty, now) for mid in mec_ids])
    await refresh_aggregates(raw, mec_ids, all_linked=True)
    return set(mec_ids)
