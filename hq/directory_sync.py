"""Copy the directory data in `regions/data/` into the database (`hq directory load`).

The JSON files are the source; the tables are a copy that foreign keys can point at.
Loading is an upsert, so it can be re-run after the data changes without touching cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from hq.models import Organisation, Region, Unit
from regions import Directory


@dataclass(frozen=True, slots=True)
class LoadCounts:
    regions: int
    units: int
    organisations: int


def _parents_first(directory: Directory) -> list:  # type: ignore[type-arg]
    by_id = {u.id: u for u in directory.units}
    ordered: list = []  # type: ignore[type-arg]
    seen: set[str] = set()

    def visit(unit_id: str) -> None:
        if unit_id in seen:
            return
        unit = by_id[unit_id]
        if unit.parent_id:
            visit(unit.parent_id)
        seen.add(unit_id)
        ordered.append(unit)

    for unit in directory.units:
        visit(unit.id)
    return ordered


async def load_directory_into_db(session: AsyncSession, directory: Directory) -> LoadCounts:
    for r in directory.regions:
        await session.merge(
            Region(code=r.code, name_kk=r.name_kk, name_ru=r.name_ru, name_en=r.name_en,
                   centre=r.centre, aliases=list(r.aliases))
        )
    await session.flush()
    for u in _parents_first(directory):
        await session.merge(
            Unit(id=u.id, kind=u.kind, region_code=u.region_code, parent_id=u.parent_id,
                 name_en=u.name_en, name_ru=u.name_ru, name_kk=u.name_kk, is_head=u.head)
        )
        await session.flush()
    for o in directory.organisations:
        await session.merge(
            Organisation(id=o.id, kind=o.kind, name=o.name, card_bins=list(o.card_bins),
                         phone_prefixes=list(o.phone_prefixes))
        )
    await session.flush()
    return LoadCounts(len(directory.regions), len(directory.units), len(directory.organisations))
