"""Analyst decisions beyond the engine's own (confirm, split, exclude live in hq.linking.decisions):
naming the lead unit, notes, and a region's request to split. Each is one append-only
`mec_decisions` row with who, when and why, taken under the same write lock as linking.
"""

from __future__ import annotations

from sqlalchemy import select

from sqlalchemy.ext.asyncio import AsyncSession

from hq.linking.decisions import DecisionError
from hq.linking.incremental import lock_writes
from hq.models import Case, CaseLink, MecDecision, MecStatus, MultiEpisodeCase, utcnow
from regions import Directory


async def live_mec(session: AsyncSession, mec_id: int) -> MultiEpisodeCase:
    mec = await session.get(MultiEpisodeCase, mec_id, with_for_update=True)
    if mec is None:
        raise DecisionError("NOT_FOUND", "id", f"no multi-episode case {mec_id}")
    if mec.status == MecStatus.DISSOLVED.value:
        into = f"; its episodes are now in {mec.merged_into_id}" if mec.merged_into_id else ""
        raise DecisionError("CONFLICT", "id", f"multi-episode case {mec_id} no longer exists{into}")
    return mec


async def regions_of(session: AsyncSession, mec_id: int) -> set[str]:
    return set((await session.execute(
        select(Case.region_code).distinct().join(CaseLink, CaseLink.case_id == Case.id)
        .where(CaseLink.mec_id == mec_id))).scalars())


def record(session: AsyncSession, mec_id: int, principal_id: int | None, action: str, reason: str | None,
           **payload: object) -> None:
    session.add(MecDecision(mec_id=mec_id, principal_id=principal_id, action=action, reason=reason,
                            payload=payload, created_at=utcnow()))


async def set_lead(session: AsyncSession, directory: Directory, mec_id: int, unit_id: str,
                   reason: str | None, principal_id: int | None) -> MultiEpisodeCase:
    """Name the unit that leads the joined investigation. A unit outside the regions of the
    episodes needs a reason (materials should not travel to an uninvolved region unexplained)."""
    await lock_writes(session)
    mec = await live_mec(session, mec_id)
    unit = directory.find_unit(unit_id.strip())
    if unit is None:
        raise DecisionError("BAD_USER_INPUT", "unit", f"unknown unit {unit_id!r} (see the `units` query)")
    reason = (reason or "").strip() or None
    involved = await regions_of(session, mec_id)
    if unit.region_code not in involved and reason is None:
        raise DecisionError("BAD_USER_INPUT", "reason",
                            f"unit {unit.id} is in {unit.region_code or 'no region'}, outside the regions involved "
                            f"({', '.join(sorted(involved))}); give a reason")
    previous = mec.lead_unit_id
    mec.lead_unit_id = unit.id
    mec.lead_reason = reason
    mec.updated_at = utcnow()
    record(session, mec_id, principal_id, "set_lead", reason, unit_id=unit.id, region=unit.region_code,
           previous_unit_id=previous)
    return mec


async def add_note(session: AsyncSession, mec_id: int, text: str, principal_id: int | None) -> MultiEpisodeCase:
    text = text.strip()
    if not text:
        raise DecisionError("BAD_USER_INPUT", "text", "a note cannot be empty")
    if len(text) > 10_000:
        raise DecisionError("BAD_USER_INPUT", "text", "a note is limited to 10,000 characters")
    mec = await session.get(MultiEpisodeCase, mec_id)
    if mec is None:
        raise DecisionError("NOT_FOUND", "id", f"no multi-episode case {mec_id}")
    record(session, mec_id, principal_id, "note", text)
    return mec


async def request_split(session: AsyncSession, mec_id: int, region: str | None, registration_numbers: list[str],
                        reason: str, principal_id: int | None) -> MultiEpisodeCase:
    """A region asks HQ to take its episodes out ("split_requested"); HQ decides.
    `region` limits the named cases to the requester's own region (None for HQ)."""
    reason = reason.strip()
    if not reason:
        raise DecisionError("BAD_USER_INPUT", "reason", "say why these episodes are a different gang")
    mec = await live_mec(session, mec_id)
    rows = (await session.execute(
        select(Case.registration_number, Case.region_code, CaseLink.mec_id)
        .join(CaseLink, CaseLink.case_id == Case.id)
        .where(Case.registration_number.in_([r.strip() for r in registration_numbers])))).all()
    found = {r: (reg, m) for r, reg, m in rows}
    for r in registration_numbers:
        hit = found.get(r.strip())
        if hit is None or hit[1] != mec_id:
            raise DecisionError("BAD_USER_INPUT", "caseIds", f"case {r} is not an episode of {mec_id}")
        if region is not None and hit[0] != region:
            raise DecisionError("FORBIDDEN", "caseIds", f"case {r} belongs to another region")
    if region is not None and region not in await regions_of(session, mec_id):
        raise DecisionError("FORBIDDEN", "id", "none of this case's episodes is in your region")
    record(session, mec_id, principal_id, "split_requested", reason, region=region,
           case_registration_numbers=sorted(r.strip() for r in registration_numbers))
    mec.needs_review = True
    return mec
