"""The national picture: registered, solved, suspended, damage and recovered, grouped.

One GROUP BY over `cases` per request, filtered on the indexed registration date, so
the database does the work at a million cases, not Python. "Solved" counts cases solved
or sent to court (a case sent to court was solved first), as prosecutors' statistics do.
Month buckets are `YYYY-MM` strings built by each dialect's own date function.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.models import Case, CaseStatus

SOLVED = (CaseStatus.SOLVED.value, CaseStatus.SENT_TO_COURT.value)


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
    if dialect == "postgresql":
        return func.to_char(Case.registered_at, literal_column("'YYYY-MM'"))
    return func.strftime("%Y-%m", Case.registered_at)


def _key(group_by: GroupBy, dialect: str) -> ColumnElement[str]:
    if group_by is GroupBy.REGION:
        return Case.region_code
    if group_by is GroupBy.STATUS:
        return Case.status
    if group_by is GroupBy.SCHEME:
        return func.coalesce(Case.scheme, "unknown")
    return month_bucket(dialect)


async def statistics(session: AsyncSession, date_from: dt.date, date_to: dt.date, group_by: GroupBy,
                     *, region: str | None = None) -> list[StatRow]:
    """Rows for [date_from, date_to] (inclusive), ordered by key."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    key = _key(group_by, dialect).label("k")
    q = (
        select(
            key,
            func.count(),
            func.sum(case((Case.status.in_(SOLVED), 1), else_=0)),
            func.sum(case((Case.status == CaseStatus.SUSPENDED.value, 1), else_=0)),
            func.coalesce(func.sum(Case.damage_kzt), 0),
            func.coalesce(func.sum(Case.recovered_kzt), 0),
        )
        .where(Case.registered_at >= date_from, Case.registered_at <= date_to)
        .group_by(key)
        .order_by(key)
    )
    if region is not None:
        q = q.where(Case.region_code == region)
    rows = await session.execute(q)
    return [StatRow(str(k), int(n), int(s or 0), int(p or 0), int(d or 0), int(r or 0)) for k, n, s, p, d, r in rows]
