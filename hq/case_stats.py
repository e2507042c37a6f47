"""The statistics rollup `case_stats`, kept equal to a GROUP BY over `cases`.

`case_stats` answers `statistics(period, groupBy)` for the whole months of a period (see
`hq.console.stats`). It holds three breakdowns of the same cases, per month 'YYYY-MM' and
region, each with the case count, how many are solved (solved or sent to court) and
suspended, and the summed damage and recovered amounts:

* `dimension = 'total'`, `value = ''`: all the region's cases that month; serves groupBy
  REGION and MONTH (a year is at most 20 x 12 = 240 rows);
* `dimension = 'status'`, `value` = the status: groupBy STATUS (at most 1,440 rows a year);
* `dimension = 'scheme'`, `value` = the scheme, 'unknown' for a case without one: groupBy
  SCHEME (at most 2,880 rows a year).

Narrow breakdowns rather than one (month, region, scheme, status) cube because a request
reads every row of its months, and a cube year can hold 17,280, whatever the number of
cases. Rows with no cases do not exist. The invariant: at every commit the table equals
`rebuild`'s SELECT.

Every write of `cases` goes through one of two places, and each keeps the rollup in its
own transaction (never a separate job that could lag behind or be skipped):

* `hq.case_store.store_cases` (interactive edits, file imports, task results and the bulk
  path's updates of existing cases) adds +1 for each new case and -1 (as it was) / +1 (as
  it is now) for each updated one, so changes of status, scheme, region, date and amounts
  all move the case; `Deltas` sums a batch per rollup row and `apply` writes it with one
  upsert batch (plus one DELETE batch for rows that may have reached zero). A single new
  case on PostgreSQL runs the same upsert inside the statement that stores the case
  (`upsert_unnest_pg`).
* `hq.bulk_import` writes new cases with COPY/executemany and then calls `rebuild` once:
  one INSERT ... SELECT ... GROUP BY in SQL over `cases`.

Nothing deletes cases today; a delete path must `Deltas.add(..., sign=-1)` each case it
removes and `apply` them in the same transaction.

Why not triggers: a row trigger would tax the bulk path once per row (a million rows must
load in under a minute), disabling it for the load needs table-owner rights, and it would
be written twice (PL/pgSQL and SQLite). The application's write paths are already this
narrow. Writers are serialised by the write lock (`hq.linking.incremental.lock_writes`);
even without it the upserts add to whatever a row holds, in sorted key order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hq.db import dialect_name
from hq.models import CaseStatus
from hq.rawsql import Raw

SOLVED = (CaseStatus.SOLVED.value, CaseStatus.SENT_TO_COURT.value)  # a case sent to court was solved first
SUSPENDED = CaseStatus.SUSPENDED.value
UNKNOWN_SCHEME = "unknown"  # what `statistics(groupBy: SCHEME)` calls a case without a scheme
TOTAL, STATUS, SCHEME = "total", "status", "scheme"  # the values of case_stats.dimension

Key = tuple[str, str, str, str]  # (dimension, month, region_code, value)
COLUMNS = ("dimension", "month", "region_code", "value", "cases", "solved", "suspended", "damage_kzt",
           "recovered_kzt")

# 'YYYY-MM' of a case's registration date, in each dialect (also hq.console.stats' month key).
MONTH_SQL = {"postgresql": "to_char(registered_at, 'YYYY-MM')", "sqlite": "strftime('%Y-%m', registered_at)"}
_MEASURES = "SUM(n), SUM(s), SUM(p), SUM(d), SUM(r) FROM grain"
# One pass over cases into the finest grain (solved and suspended counted there, once),
# then the three breakdowns from that.
_SELECT = (
    f"WITH grain AS (SELECT {{month}} AS month, region_code, COALESCE(scheme, '{UNKNOWN_SCHEME}') AS scheme, "
    "status, COUNT(*) AS n, "
    f"CASE WHEN status IN ({', '.join(repr(s) for s in SOLVED)}) THEN COUNT(*) ELSE 0 END AS s, "
    f"CASE WHEN status = '{SUSPENDED}' THEN COUNT(*) ELSE 0 END AS p, "
    "COALESCE(SUM(damage_kzt), 0) AS d, COALESCE(SUM(recovered_kzt), 0) AS r "
    "FROM cases GROUP BY 1, 2, 3, 4) "
    "{insert}"
    f"SELECT '{STATUS}', month, region_code, status, {_MEASURES} GROUP BY 2, 3, 4 "
    "UNION ALL "
    f"SELECT '{SCHEME}', month, region_code, scheme, {_MEASURES} GROUP BY 2, 3, 4 "
    "UNION ALL "
    f"SELECT '{TOTAL}', month, region_code, '', {_MEASURES} GROUP BY 2, 3"
)
_INSERT = f"INSERT INTO case_stats ({', '.join(COLUMNS)}) "
# What an upsert does with a row whose key is there already: add the delta to it.
_ADD = ("ON CONFLICT (dimension, month, region_code, value) DO UPDATE SET "
        + ", ".join(f"{c} = case_stats.{c} + excluded.{c}" for c in COLUMNS[4:]))
_UPSERT = f"INSERT INTO case_stats ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) {_ADD}"
_DROP_EMPTY = ("DELETE FROM case_stats WHERE dimension = ? AND month = ? AND region_code = ? AND value = ? "
               "AND cases = 0")


def upsert_unnest_pg(where: str) -> str:
    """PostgreSQL: `_UPSERT` for rows given as column arrays (`hq.rawsql.columns`), one
    statement whatever their number, run by a writer as a data-modifying CTE of its own
    statement with `where` limiting its rows (`hq.case_store`, a single new case). Without a
    WHERE, PostgreSQL would read ON CONFLICT as a join's ON."""
    return (f"INSERT INTO case_stats ({', '.join(COLUMNS)}) SELECT * FROM unnest(?::text[], ?::text[], "
            "?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) "
            f"AS d({', '.join(COLUMNS)}) {where} {_ADD}")


def month_of(value: dt.date | str) -> str:
    """'YYYY-MM' of a date, or of a date as SQLite stores it ('YYYY-MM-DD'); zero-padded
    like PostgreSQL's to_char(…, 'YYYY-MM') and SQLite's strftime('%Y-%m', …)."""
    if isinstance(value, str):
        return value[:7]
    return f"{value.year:04d}-{value.month:02d}"


class Deltas:
    """Changes to the rollup collected over one write, summed per rollup row."""

    def __init__(self) -> None:
        self._rows: dict[Key, list[int]] = {}

    def add(self, registered_at: dt.date | str, region_code: str, scheme: str | None, status: str,
            damage_kzt: int, recovered_kzt: int, sign: int = 1) -> None:
        """Count one case (sign=+1) or stop counting it (sign=-1), as these values describe it."""
        month = month_of(registered_at)
        measures = (sign, sign if status in SOLVED else 0, sign if status == SUSPENDED else 0,
                    sign * int(damage_kzt or 0), sign * int(recovered_kzt or 0))
        for key in ((TOTAL, month, region_code, ""), (STATUS, month, region_code, status),
                    (SCHEME, month, region_code, scheme if scheme is not None else UNKNOWN_SCHEME)):
            row = self._rows.setdefault(key, [0, 0, 0, 0, 0])
            for i, v in enumerate(measures):
                row[i] += v

    def rows(self) -> list[tuple[Any, ...]]:
        """Non-zero deltas as (*key, *measures) in key order (a stable lock order)."""
        return [(*k, *m) for k, m in sorted(self._rows.items()) if any(m)]


async def apply(raw: Raw, deltas: Deltas) -> None:
    """Add `deltas` to the rollup in the current transaction; drop rows left with no cases."""
    rows = deltas.rows()
    if not rows:
        return
    await raw.executemany(_UPSERT, rows)
    emptied = [row[:4] for row in rows if row[4] < 0]
    if emptied:
        await raw.executemany(_DROP_EMPTY, emptied)


async def rebuild(session: AsyncSession) -> None:
    """Recompute the whole rollup from `cases` in SQL, in the session's transaction."""
    await session.execute(text("DELETE FROM case_stats"))
    await session.execute(text(_SELECT.format(month=MONTH_SQL[dialect_name(session)], insert=_INSERT)))


async def expected(session: AsyncSession) -> dict[Key, tuple[int, ...]]:
    """What the rollup must hold, straight from `cases` (for checks and tests)."""
    return _as_dict(await session.execute(text(_SELECT.format(month=MONTH_SQL[dialect_name(session)], insert=""))))


async def current(session: AsyncSession) -> dict[Key, tuple[int, ...]]:
    """What the rollup holds."""
    return _as_dict(await session.execute(text(f"SELECT {', '.join(COLUMNS)} FROM case_stats")))


def _as_dict(rows: Any) -> dict[Key, tuple[int, ...]]:
    return {(str(a), str(m), str(g), str(v)): tuple(int(x) for x in measures) for a, m, g, v, *measures in rows}
