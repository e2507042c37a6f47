"""The national picture: registered, solved, suspended, damage and recovered, grouped.

"Solved" counts cases solved or sent to court (a case sent to court was solved first), as
prosecutors' statistics do. Month buckets are `YYYY-MM` strings; a case without a scheme
is counted under "unknown".

A request costs about the same at a thousand cases as at a million: the whole months of
the period come from the rollup `case_stats` (a year is at most 240 rows by region or
month, 1,440 by status, 2,880 by scheme; `hq.case_stats` keeps it equal to a GROUP BY
over `cases` in every write's transaction), and only the days of the partial months at the period's edges are
aggregated from `cases` itself, on the registration-date index, so any date range is
answered exactly. Both parts are one SQL statement, so they read one snapshot.
`direct_statistics` is the plain GROUP BY over `cases` that answers must always equal
(tests compare the two).
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, literal_column, or_, select, union_all
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession

from hq.case_stats import MONTH_SQL, SCHEME, SOLVED, STATUS, SUSPENDED, TOTAL, UNKNOWN_SCHEME, month_of
from hq.db import dialect_name
from hq.models import Case, CaseStat


class GroupBy(str, enum.Enum):
    REGION = "region"
    SCHEME = "scheme"
    MONTH = "month"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class StatRow:
    key: str
    registered: int
    solved: int
    suspended: int
    damage_kzt: int
    recovered_kzt: int


def month_bucket(dialect: str) -> ColumnElement[str]:
    return literal_column(MONTH_SQL[dialect])  # the rollup's own month key, over `cases`


def _key(group_by: GroupBy, dialect: str) -> ColumnElement[str]:
    if group_by is GroupBy.REGION:
        return Case.region_code
    if group_by is GroupBy.STATUS:
        return Case.status
    if group_by is GroupBy.SCHEME:
        return func.coalesce(Case.scheme, UNKNOWN_SCHEME)
    return month_bucket(dialect)


def split_period(date_from: dt.date, date_to: dt.date) -> tuple[tuple[str, str] | None, list[tuple[dt.date, dt.date]]]:
    """[date_from, date_to] as (first and last whole month 'YYYY-MM', or None) plus the
    day ranges outside those whole months (at most two, at the edges)."""
    whole: list[tuple[dt.date, dt.date]] = [(date_from, date_to)]
    first = date_from  # the first whole month starts on date_from if it is a 1st, else the 1st after it
    if date_from.day != 1:
        if (date_from.year, date_from.month) == (dt.MAXYEAR, 12):
            return None, whole
        first = dt.date(date_from.year + date_from.month // 12, date_from.month % 12 + 1, 1)
    last = date_to  # the last whole month ends on date_to if it is a month's last day, else before it
    if date_to.day != calendar.monthrange(date_to.year, date_to.month)[1]:
        if (date_to.year, date_to.month) == (dt.MINYEAR, 1):
            return None, whole
        last = date_to.replace(day=1) - dt.timedelta(days=1)
    if first > last:
        return None, whole
    edges = []
    if date_from < first:
        edges.append((date_from, first - dt.timedelta(days=1)))
    if last < date_to:
        edges.append((last + dt.timedelta(days=1), date_to))
    return (month_of(first), month_of(last)), edges


_DIMENSION = {GroupBy.REGION: TOTAL, GroupBy.MONTH: TOTAL, GroupBy.STATUS: STATUS, GroupBy.SCHEME: SCHEME}


def _rollup_key(group_by: GroupBy) -> ColumnElement[str]:
    return {GroupBy.REGION: CaseStat.region_code, GroupBy.MONTH: CaseStat.month}.get(group_by, CaseStat.value)


# The statements are built once per shape, with bound parameters, and reused: building a
# SQLAlchemy select costs more Python per request than the rollup query costs PostgreSQL.

def _from_cases(group_by: GroupBy, dialect: str, by_region: bool, ranges: int) -> Select:
    """Aggregate over the cases registered in `ranges` day ranges (params from0/to0, …)."""
    key = _key(group_by, dialect).label("k")
    q = (
        select(
            key,
            func.count().label("n"),
            func.sum(case((Case.status.in_(SOLVED), 1), else_=0)).label("s"),
            func.sum(case((Case.status == SUSPENDED, 1), else_=0)).label("p"),
            func.coalesce(func.sum(Case.damage_kzt), 0).label("d"),
            func.coalesce(func.sum(Case.recovered_kzt), 0).label("r"),
        )
        .where(or_(*(and_(Case.registered_at >= bindparam(f"from{i}"), Case.registered_at <= bindparam(f"to{i}"))
                     for i in range(ranges))))
        .group_by(key)
    )
    return q.where(Case.region_code == bindparam("region")) if by_region else q


def _from_rollup(group_by: GroupBy, by_region: bool) -> Select:
    """Aggregate over the rollup's months first_month..last_month."""
    key = _rollup_key(group_by).label("k")
    q = (
        select(
            key,
            func.sum(CaseStat.cases).label("n"),
            func.sum(CaseStat.solved).label("s"),
            func.sum(CaseStat.suspended).label("p"),
            func.sum(CaseStat.damage_kzt).label("d"),
            func.sum(CaseStat.recovered_kzt).label("r"),
        )
        .where(CaseStat.dimension == _DIMENSION[group_by],
               CaseStat.month >= bindparam("first_month"), CaseStat.month <= bindparam("last_month"))
        .group_by(key)
    )
    return q.where(CaseStat.region_code == bindparam("region")) if by_region else q


@lru_cache(maxsize=256)
def _statement(group_by: GroupBy, dialect: str, by_region: bool, whole_months: bool, edges: int) -> Select:
    parts = ([_from_rollup(group_by, by_region)] if whole_months else []) + \
            ([_from_cases(group_by, dialect, by_region, edges)] if edges else [])
    if len(parts) == 1:
        return parts[0].order_by(literal_column("k"))
    u = union_all(*parts).subquery()
    return (select(u.c.k, func.sum(u.c.n), func.sum(u.c.s), func.sum(u.c.p), func.sum(u.c.d), func.sum(u.c.r))
            .group_by(u.c.k).order_by(u.c.k))


async def statistics(session: AsyncSession, date_from: dt.date, date_to: dt.date, group_by: GroupBy,
                     *, region: str | None = None) -> list[StatRow]:
    """Rows for [date_from, date_to] (inclusive), ordered by key: whole months from the
    rollup, the days at the edges from `cases`, summed per key in one statement."""
    months, edges = split_period(date_from, date_to)
    params: dict[str, Any] = {"region": region}
    if months is not None:
        params.update(first_month=months[0], last_month=months[1])
    for i, (a, b) in enumerate(edges):
        params.update({f"from{i}": a, f"to{i}": b})
    q = _statement(group_by, dialect_name(session), region is not None, months is not None, len(edges))
    return _rows(await session.execute(q, params))


async def direct_statistics(session: AsyncSession, date_from: dt.date, date_to: dt.date, group_by: GroupBy,
                            *, region: str | None = None) -> list[StatRow]:
    """The same rows from one GROUP BY over every case in the period (no rollup)."""
    q = _statement(group_by, dialect_name(session), region is not None, False, 1)
    return _rows(await session.execute(q, {"region": region, "from0": date_from, "to0": date_to}))


def _rows(rows: Result[Any]) -> list[StatRow]:
    return [StatRow(str(k), int(n), int(s or 0), int(p or 0), int(d or 0), int(r or 0)) for k, n, s, p, d, r in rows]
