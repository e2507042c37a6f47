"""Listing multi-episode cases: filters, sort and keyset pagination in one or two queries.

Totals (size, regions, victims, damage, dates, hub) are denormalised on the row by the
linker, so most filters are plain column predicates; region and scheme are EXISTS over
the episodes. Pages are keyset (sort value, id), so page 1000 costs what page 1 costs.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.models import Case, CaseLink, MecStatus, MultiEpisodeCase

EPOCH = dt.date(1900, 1, 1)


class MecSort(str, enum.Enum):
    SIZE_DESC = "size_desc"
    DAMAGE_DESC = "damage_desc"
    LAST_DATE_DESC = "last_date_desc"
    UPDATED_DESC = "updated_desc"


@dataclass(slots=True)
class MecFilterSpec:
    region: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    min_damage_kzt: int | None = None
    status: str | None = None
    scheme: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    needs_review: bool | None = None
    has_hub: bool | None = None
    min_regions: int | None = None


def has_episode(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(select(CaseLink.case_id).join(Case, Case.id == CaseLink.case_id)
                  .where(CaseLink.mec_id == MultiEpisodeCase.id, cond))


def conditions(f: MecFilterSpec, *, scope_region: str | None = None) -> list[ColumnElement[bool]]:
    M = MultiEpisodeCase
    out: list[ColumnElement[bool]] = []
    out.append(M.status == f.status if f.status else M.status != MecStatus.DISSOLVED.value)
    if f.min_size is not None:
        out.append(M.size >= f.min_size)
    if f.max_size is not None:
        out.append(M.size <= f.max_size)
    if f.min_damage_kzt is not None:
        out.append(M.damage_kzt >= f.min_damage_kzt)
    if f.min_regions is not None:
        out.append(M.region_count >= f.min_regions)
    if f.needs_review is not None:
        out.append(M.needs_review.is_(f.needs_review))
    if f.has_hub is not None:
        out.append(M.has_hub.is_(f.has_hub))
    if f.date_from is not None:
        out.append(M.last_date >= f.date_from)
    if f.date_to is not None:
        out.append(M.first_date <= f.date_to)
    if f.region is not None:
        out.append(has_episode(Case.region_code == f.region))
    if scope_region is not None and scope_region != f.region:
        out.append(has_episode(Case.region_code == scope_region))
    if f.scheme is not None:
        out.append(has_episode(Case.scheme == f.scheme))
    return out


def sort_column(sort: MecSort) -> Any:
    M = MultiEpisodeCase
    return {
        MecSort.SIZE_DESC: M.size,
        MecSort.DAMAGE_DESC: M.damage_kzt,
        MecSort.LAST_DATE_DESC: func.coalesce(M.last_date, EPOCH),
        MecSort.UPDATED_DESC: M.updated_at,
    }[sort]


def cursor_value(row: MultiEpisodeCase, sort: MecSort) -> Any:
    if sort is MecSort.SIZE_DESC:
        return row.size
    if sort is MecSort.DAMAGE_DESC:
        return row.damage_kzt
    if sort is MecSort.LAST_DATE_DESC:
        return (row.last_date or EPOCH).isoformat()
    return row.updated_at.isoformat()


def parse_cursor_value(sort: MecSort, raw: Any) -> Any:
    if sort in (MecSort.SIZE_DESC, MecSort.DAMAGE_DESC):
        return int(raw)
    if sort is MecSort.LAST_DATE_DESC:
        return dt.date.fromisoformat(str(raw))
    return dt.datetime.fromisoformat(str(raw))


async def page(session: AsyncSession, conds: list[ColumnElement[bool]], sort: MecSort, first: int,
               after: tuple[Any, int] | None) -> tuple[int, list[MultiEpisodeCase]]:
    """(total matching, up to first+1 rows after the cursor)."""
    where = and_(*conds)
    col = sort_column(sort)
    total = (await session.execute(select(func.count()).select_from(MultiEpisodeCase).where(where))).scalar_one()
    q = select(MultiEpisodeCase).where(where)
    if after is not None:
        value, last_id = after
        q = q.where(or_(col < value, and_(col == value, MultiEpisodeCase.id < last_id)))
    rows = (await session.execute(q.order_by(col.desc(), MultiEpisodeCase.id.desc()).limit(first + 1))).scalars().all()
    return int(total), list(rows)
