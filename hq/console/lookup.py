"""Hit/no-hit search: is this phone, card, account … known, and where?

The value is normalised exactly as the import normalises it (`hq.identifiers.normalise`
with the server pepper), so `8 701 123 45 67` finds `+77011234567` and a card typed with
spaces finds its HMAC key. One indexed query, no matter how many cases match.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from hq.identifiers import Normalised, normalise
from hq.linking.rules import LINKING_ROLE
from hq.rawsql import Raw

OWN_CASES_LIMIT = 50

# One round trip: the identifier, its hub flag, and each case that mentions it with the
# case's region, registration number and multi-episode case. An identifier is unique by
# (kind, key), so the plan starts from that one row and follows indexes: the mentions of
# one identifier (an index range), then cases and links by primary key.
_LOOKUP = (
    "SELECT i.id, i.excluded, i.excluded_reason, s.hub, m.case_id, m.role, c.region_code, "
    "c.registration_number, l.mec_id FROM identifiers i "
    "LEFT JOIN identifier_stats s ON s.identifier_id = i.id "
    "LEFT JOIN mentions m ON m.identifier_id = i.id "
    "LEFT JOIN cases c ON c.id = m.case_id "
    "LEFT JOIN case_links l ON l.case_id = m.case_id "
    "WHERE i.kind = ? AND i.key = ?"
)


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
    rows = await (await Raw.of(session)).fetch(_LOOKUP, (norm.kind, norm.key))
    if not rows:
        return out
    ident, excluded, reason, hub = rows[0][:4]
    out.identifier_id, out.excluded, out.excluded_reason, out.hub = int(ident), bool(excluded), reason, bool(hub)
    cases: dict[int, tuple[str, str, int | None]] = {}  # case id -> (region, registration number, mec id)
    suspect: set[int] = set()
    for *_, case_id, role, region, registration_number, mec_id in rows:
        if case_id is None:
            continue  # an identifier no case mentions any more
        cases[int(case_id)] = (region, registration_number, mec_id)
        if role == LINKING_ROLE:
            suspect.add(int(case_id))
    out.suspect_cases = len(suspect)
    out.region_counts = dict(sorted(Counter(region for region, _, _ in cases.values()).items()))
    if detail:
        out.mec_ids = sorted({int(m) for _, _, m in cases.values() if m is not None})
        out.cases = sorted(r for region, r, _ in cases.values()
                           if cases_region is None or region == cases_region)[:OWN_CASES_LIMIT]
    return out
