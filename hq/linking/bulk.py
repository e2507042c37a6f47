"""Full relink of the whole database in memory: the bulk path for backlogs and benchmarks.

Reads every linking mention once into numpy arrays, computes core groups, hub phones and
multi-episode cases with `graph.components` (the same function the incremental path
uses), and writes back only what changed. Identities of existing multi-episode cases are
kept by `mec_store.assign_mecs`, exactly as in incremental linking.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.graph import components
from hq.linking.incremental import lock_writes
from hq.linking.mec_store import assign_mecs
from hq.linking.rules import LINKABLE_STRENGTHS, LINKING_ROLE, PHONE_STRENGTH
from hq.models import Case, CaseLink, Identifier, IdentifierStat, Mention, SplitCut


def label_components(n_cases: int, case_idx: np.ndarray, node_idx: np.ndarray, n_nodes: int) -> np.ndarray:
    """Component label per case (smallest case index in it) for case–node edges."""
    labels = components(n_cases + n_nodes, case_idx, node_idx + n_cases)
    return labels[:n_cases]


def compute(case_ids: np.ndarray, m_case: np.ndarray, m_node: np.ndarray, m_ident: np.ndarray,
            m_is_phone: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[int, bool]]]:
    """Pure computation: (core group label, mec label) per case index, and phone stats.

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
        pairs = np.unique(np.stack([m_ident[ph], groups[m_case[ph]]], axis=1), axis=0)
        real = sizes[pairs[:, 1]] >= 2
        idents, counts = np.unique(pairs[:, 0], return_counts=False), None
        counted_ids, counted = np.unique(pairs[real, 0], return_counts=True)
        count_of = dict(zip(counted_ids.tolist(), counted.tolist()))
        hubs = set()
        for ident in idents.tolist():
            c = int(count_of.get(ident, 0))
            stats[ident] = (c, c > threshold)
            if c > threshold:
                hubs.add(ident)
        if hubs:
            hub_mask = ph & np.isin(m_ident, np.fromiter(hubs, dtype=np.int64))
    keep = ~hub_mask
    mecs = label_components(n, m_case[keep], m_node[keep], n_nodes)
    return groups, mecs, stats


async def full_relink(session: AsyncSession, hub_threshold: int) -> set[int]:
    """Relink every case; return the ids of multi-episode cases that changed."""
    await lock_writes(session)
    case_ids = np.fromiter((await session.execute(select(Case.id).order_by(Case.id))).scalars(), dtype=np.int64)
    rows = (await session.execute(
        select(Mention.case_id, Mention.identifier_id, func.coalesce(SplitCut.tag, 0), Identifier.strength)
        .join(Identifier, Identifier.id == Mention.identifier_id)
        .outerjoin(SplitCut, and_(SplitCut.case_id == Mention.case_id, SplitCut.identifier_id == Mention.identifier_id))
        .where(Mention.role == LINKING_ROLE, Identifier.excluded.is_(False),
               Identifier.strength.in_(LINKABLE_STRENGTHS))
    )).all()
    m_case_id = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    m_ident = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    m_tag = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    m_is_phone = np.fromiter((r[3] == PHONE_STRENGTH for r in rows), dtype=bool, count=len(rows))
    m_case = np.searchsorted(case_ids, m_case_id)
    _, m_node = np.unique(np.stack([m_ident, m_tag], axis=1), axis=0, return_inverse=True) if len(rows) else (None, np.zeros(0, dtype=np.int64))
    m_node = np.asarray(m_node, dtype=np.int64).reshape(-1)
    groups, mecs, stats = compute(case_ids, m_case, m_node, m_ident, m_is_phone, hub_threshold)

    old = {int(c): (int(g), None if m is None else int(m)) for c, g, m in await session.execute(
        select(CaseLink.case_id, CaseLink.group_id, CaseLink.mec_id))}
    new_links = []
    for i, cid in enumerate(case_ids.tolist()):
        gid = int(case_ids[groups[i]])
        if cid not in old:
            new_links.append({"case_id": cid, "group_id": gid, "mec_id": None})
        elif old[cid][0] != gid:
            await session.execute(CaseLink.__table__.update().where(CaseLink.case_id == cid).values(group_id=gid))
    if new_links:
        for start in range(0, len(new_links), 5000):
            await session.execute(CaseLink.__table__.insert(), new_links[start:start + 5000])
    await session.execute(IdentifierStat.__table__.delete())
    if stats:
        items = [{"identifier_id": i, "group_count": c, "hub": h} for i, (c, h) in stats.items()]
        for start in range(0, len(items), 5000):
            await session.execute(IdentifierStat.__table__.insert(), items[start:start + 5000])
    labels = {int(cid): int(case_ids[mecs[i]]) for i, cid in enumerate(case_ids.tolist())}
    old_links = {c: old.get(c, (0, None)) for c in labels}
    return await assign_mecs(session, labels, old_links)
