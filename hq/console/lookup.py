"""Hit/no-hit search: is this phone, card, account … known, and where?

The value is normalised exactly as the import normalises it (`hq.identifiers.normalise`
with the server pepper), so `8 701 123 45 67` finds `+77011234567` and a card typed with
spaces finds its HMAC key. A handful of indexed queries, no matter how many cases match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.identifiers import Normalised, normalise
from hq.models import Case, CaseLink, Identifier, IdentifierStat, Mention

OWN_CASES_LIMIT = 50
CHUNK = 5000


def _chunks(ids: set[int]) -> list[list[int]]:
    items = sorted(ids)
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


@dataclass(slots=True)
class LookupResult:
    norm: Normalised
    identifier_id: int | None = None
    excluded: bool = False
    excluded_reason: str | None = None
    hub: bool = False
    region_counts: dict[str, int] = field(default_factory=dict)
    suspect_cases: int = 0
    mec_ids: list[int] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)  # registration numbers within `region` (or all)

    @property
    def known(self) -> bool:
        return self.identifier_id is not None and self.case_count > 0

    @property
    def case_count(self) -> int:
        return sum(self.region_counts.values())


async def lookup(session: AsyncSession, kind: str, value: str, pepper: bytes, *,
                 detail: bool = True, cases_region: str | None = None) -> LookupResult:
    """Answer one search. `detail=False` stops after the counts (liaison view);
    `cases_region` limits the listed registration numbers to one region (officer view).
    Raises hq.identifiers.IdentifierError for a value that is not valid for its kind."""
    norm = normalise(kind, value, pepper=pepper)
    out = LookupResult(norm=norm)
    row = (await session.execute(
        select(Identifier.id, Identifier.excluded, Identifier.excluded_reason, IdentifierStat.hub)
        .outerjoin(IdentifierStat, IdentifierStat.identifier_id == Identifier.id)
        .where(Identifier.kind == norm.kind, Identifier.key == norm.key)
    )).first()
    if row is None:
        return out
    out.identifier_id, out.excluded, out.excluded_reason, out.hub = int(row[0]), bool(row[1]), row[2], bool(row[3])
    # Two steps on purpose: the mentions of one identifier first (an index range), then
    # those cases by primary key. A join lets the planner guess a seq scan of `cases`.
    suspect: set[int] = set()
    case_ids: set[int] = set()
    for cid, role in await session.execute(
            select(Mention.case_id, Mention.role).where(Mention.identifier_id == out.identifier_id)):
        case_ids.add(int(cid))
        if role == "suspect":
            suspect.add(int(cid))
    out.suspect_cases = len(suspect)
    mec_ids: set[int] = set()
    regs: list[str] = []
    for chunk in _chunks(case_ids):
        for region, n in await session.execute(
                select(Case.region_code, func.count()).where(Case.id.in_(chunk)).group_by(Case.region_code)):
            out.region_counts[region] = out.region_counts.get(region, 0) + int(n)
        if not detail:
            continue
        mec_ids.update(int(m) for m in (await session.execute(
            select(CaseLink.mec_id).distinct().where(CaseLink.case_id.in_(chunk), CaseLink.mec_id.is_not(None))
        )).scalars())
        q = (select(Case.registration_number).where(Case.id.in_(chunk))
             .order_by(Case.registration_number).limit(OWN_CASES_LIMIT))
        if cases_region is not None:
            q = q.where(Case.region_code == cases_region)
        regs.extend((await session.execute(q)).scalars())
    out.region_counts = dict(sorted(out.region_counts.items()))
    out.mec_ids = sorted(mec_ids)
    out.cases = sorted(regs)[:OWN_CASES_LIMIT]
    return out
