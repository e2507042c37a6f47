"""Why two cases are in one multi-episode case: the shortest chain of shared evidence.

The chain alternates case, identifier, case, … using exactly the edges the linker used
(suspect mentions of linkable, non-excluded, non-hub identifiers, respecting split
cuts), so the explanation can never cite evidence the engine ignored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.incremental import hub_ids, edges_of_cases
from hq.linking.rules import PHONE_STRENGTH
from hq.models import Case, CaseLink, Identifier, Mention


@dataclass(frozen=True, slots=True)
class Step:
    from_case: str  # registration number
    identifier_kind: str
    identifier_display: str
    identifier_id: int
    to_case: str
    note_from: str | None
    note_to: str | None


async def explain(session: AsyncSession, case_a: int, case_b: int) -> list[Step] | None:
    """Return the chain from case_a to case_b, [] if they are the same, None if unlinked."""
    if case_a == case_b:
        return []
    links = dict(
        (int(c), m) for c, m in await session.execute(
            select(CaseLink.case_id, CaseLink.mec_id).where(CaseLink.case_id.in_([case_a, case_b])))
    )
    mec = links.get(case_a)
    if mec is None or links.get(case_b) != mec:
        return None
    members = {int(c) for c in (await session.execute(select(CaseLink.case_id).where(CaseLink.mec_id == mec))).scalars()}
    edges = await edges_of_cases(session, members)
    hubs = await hub_ids(session, {i for _, i, _, s in edges if s == PHONE_STRENGTH})
    by_case: dict[int, list[tuple[int, int]]] = {}
    by_node: dict[tuple[int, int], list[int]] = {}
    for c, i, tag, strength in edges:
        if strength == PHONE_STRENGTH and i in hubs:
            continue
        by_case.setdefault(c, []).append((i, tag))
        by_node.setdefault((i, tag), []).append(c)
    prev: dict[int, tuple[int, tuple[int, int]]] = {}
    queue = deque([case_a])
    seen = {case_a}
    while queue and case_b not in seen:
        c = queue.popleft()
        for node in sorted(by_case.get(c, [])):
            for nxt in sorted(by_node[node]):
                if nxt not in seen:
                    seen.add(nxt)
                    prev[nxt] = (c, node)
                    queue.append(nxt)
    if case_b not in seen:
        return None
    hops: list[tuple[int, int, int]] = []
    cur = case_b
    while cur != case_a:
        p, (ident, _) = prev[cur]
        hops.append((p, ident, cur))
        cur = p
    hops.reverse()
    case_ids = {x for h in hops for x in (h[0], h[2])}
    ident_ids = {h[1] for h in hops}
    regs = dict((int(i), r) for i, r in await session.execute(
        select(Case.id, Case.registration_number).where(Case.id.in_(case_ids))))
    idents = {int(i): (k, d) for i, k, d in await session.execute(
        select(Identifier.id, Identifier.kind, Identifier.display).where(Identifier.id.in_(ident_ids)))}
    notes = {(int(c), int(i)): n for c, i, n in await session.execute(
        select(Mention.case_id, Mention.identifier_id, Mention.note)
        .where(Mention.case_id.in_(case_ids), Mention.identifier_id.in_(ident_ids), Mention.role == "suspect"))}
    return [
        Step(from_case=regs[a], identifier_kind=idents[i][0], identifier_display=idents[i][1], identifier_id=i,
             to_case=regs[b], note_from=notes.get((a, i)), note_to=notes.get((b, i)))
        for a, i, b in hops
    ]
