"""Analyst decisions the engine must honour through every later relink.

- confirm / reject: a status on the multi-episode case, which keeps its id while it
  keeps most of its episodes (see mec_store.plan_identities);
- split: the evidence that bridged the two sides is cut for the named side (a SplitCut
  per mention), so the same evidence cannot rejoin them; new evidence still can, and
  such a rejoin goes to the review queue;
- exclude / restore an identifier: "not evidence" everywhere; merges it alone caused
  come undone by relinking every case that mentions it.
Every decision is appended to mec_decisions with who, when and why.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.graph import chunks
from hq.linking.incremental import hub_ids, edges_of_cases, lock_writes, relink
from hq.linking.rules import PHONE_STRENGTH
from hq.models import CaseLink, Identifier, MecDecision, Mention, MecStatus, MultiEpisodeCase, SplitCut, utcnow


class DecisionError(ValueError):
    def __init__(self, code: str, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.code = code  # NOT_FOUND, CONFLICT or BAD_USER_INPUT
        self.field = field
        self.reason = reason


async def _mec(session: AsyncSession, mec_id: int) -> MultiEpisodeCase:
    row = await session.get(MultiEpisodeCase, mec_id, with_for_update=True)
    if row is None:
        raise DecisionError("NOT_FOUND", "id", f"no multi-episode case {mec_id}")
    return row


def _record(session: AsyncSession, mec_id: int, principal_id: int | None, action: str,
            reason: str | None, **payload: object) -> None:
    session.add(MecDecision(mec_id=mec_id, principal_id=principal_id, action=action, reason=reason,
                            payload=payload, created_at=utcnow()))


async def confirm(session: AsyncSession, mec_id: int, principal_id: int | None, reason: str | None) -> MultiEpisodeCase:
    await lock_writes(session)
    mec = await _mec(session, mec_id)
    if mec.status == MecStatus.REJECTED.value:
        raise DecisionError("CONFLICT", "id", "cannot confirm a rejected multi-episode case; reopen it first")
    if mec.status == MecStatus.DISSOLVED.value:
        into = f" (its episodes are now in {mec.merged_into_id})" if mec.merged_into_id else ""
        raise DecisionError("CONFLICT", "id", f"multi-episode case {mec_id} no longer exists{into}")
    mec.status = MecStatus.CONFIRMED.value
    mec.needs_review = False
    mec.updated_at = utcnow()
    _record(session, mec_id, principal_id, "confirm", reason)
    return mec


async def reject(session: AsyncSession, mec_id: int, principal_id: int | None, reason: str) -> MultiEpisodeCase:
    await lock_writes(session)
    mec = await _mec(session, mec_id)
    if mec.status == MecStatus.DISSOLVED.value:
        raise DecisionError("CONFLICT", "id", f"multi-episode case {mec_id} no longer exists")
    mec.status = MecStatus.REJECTED.value
    mec.needs_review = False
    _record(session, mec_id, principal_id, "reject", reason)
    return mec


async def split(session: AsyncSession, mec_id: int, side_b: set[int], principal_id: int | None,
                reason: str | None) -> set[int]:
    """Cut the evidence between side_b (case ids) and the rest; return changed mec ids."""
    await lock_writes(session)
    mec = await _mec(session, mec_id)
    members = {int(c) for c in (await session.execute(
        select(CaseLink.case_id).where(CaseLink.mec_id == mec_id))).scalars()}
    if not side_b:
        raise DecisionError("BAD_USER_INPUT", "caseIds", "name at least one case for the other side")
    outside = side_b - members
    if outside:
        raise DecisionError("BAD_USER_INPUT", "caseIds", f"{len(outside)} of the named cases are not in this multi-episode case")
    side_a = members - side_b
    if not side_a:
        raise DecisionError("BAD_USER_INPUT", "caseIds", "the other side would be empty; name a proper subset")
    edges = await edges_of_cases(session, members)
    hubs = await hub_ids(session, {i for _, i, _, s in edges if s == PHONE_STRENGTH})
    nodes_a = {(i, t) for c, i, t, s in edges if c in side_a and not (s == PHONE_STRENGTH and i in hubs)}
    decision = MecDecision(mec_id=mec_id, principal_id=principal_id, action="split", reason=reason,
                           payload={}, created_at=utcnow())
    session.add(decision)
    await session.flush()
    cuts = []
    for c, i, t, s in edges:
        if c in side_b and (i, t) in nodes_a:
            cuts.append({"case_id": c, "identifier_id": i, "tag": decision.id})
    known = {(c.case_id, c.identifier_id): c for chunk in chunks({c["case_id"] for c in cuts})
             for c in (await session.execute(select(SplitCut).where(SplitCut.case_id.in_(chunk)))).scalars()}
    for cut in cuts:  # one query for the existing cuts, not one per cut
        existing = known.get((cut["case_id"], cut["identifier_id"]))
        if existing is None:
            session.add(SplitCut(**cut))
        else:
            existing.tag = cut["tag"]
    await session.flush()
    decision.payload = {"side_b_case_ids": sorted(side_b), "cut_identifier_ids": sorted({c["identifier_id"] for c in cuts})}
    mec.updated_at = utcnow()
    return await relink(session, members)


async def set_excluded(session: AsyncSession, identifier_id: int, excluded: bool, principal_id: int | None,
                       reason: str | None) -> set[int]:
    """Exclude ("not evidence") or restore an identifier everywhere; return changed mec ids."""
    await lock_writes(session)
    ident = await session.get(Identifier, identifier_id, with_for_update=True)
    if ident is None:
        raise DecisionError("NOT_FOUND", "identifier", f"no identifier {identifier_id}")
    if ident.excluded == excluded:
        state = "excluded" if excluded else "not excluded"
        raise DecisionError("CONFLICT", "identifier", f"identifier is already {state}")
    mecs_before = {int(m) for m in (await session.execute(
        select(CaseLink.mec_id).distinct().join(Mention, Mention.case_id == CaseLink.case_id)
        .where(Mention.identifier_id == identifier_id, CaseLink.mec_id.is_not(None)))).scalars()}
    await session.execute(update(Identifier).where(Identifier.id == identifier_id)
                          .values(excluded=excluded, excluded_reason=reason if excluded else None))
    changed = await relink(session, (), expand={identifier_id})
    for mec_id in sorted(mecs_before | changed):
        _record(session, mec_id, principal_id, "exclude_identifier" if excluded else "restore_identifier",
                reason, identifier_id=identifier_id, kind=ident.kind, value=ident.display)
    return changed
