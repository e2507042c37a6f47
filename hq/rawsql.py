"""Plain SQL on the session's own connection, for the few paths where every round trip counts.

SQLAlchemy's statement layer costs about 0.3–0.5 ms a statement on top of the driver
(building, cache keys, result processing, the greenlet hop). The bulk path and the
incremental fast path issue fixed statements whose shape never changes, so they talk to
the DBAPI driver directly, inside the same transaction the session holds: aiosqlite's
`execute_fetchall` on SQLite (one thread hop, ~0.07 ms) and asyncpg on PostgreSQL.

SQL is written once with `?` placeholders and rewritten to `$n` for asyncpg. Values that
need the column type's own encoding (timestamps, JSON) go through `Raw.timestamp` and
`Raw.json`, which use the dialect's bind processors, so rows written here read back
through the ORM exactly like rows written by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Index, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex
from sqlalchemy.ext.asyncio import AsyncSession

_MARK = re.compile(r"\?")


@lru_cache(maxsize=512)
def _dollar(sql: str) -> str:
    """`?` placeholders to asyncpg's `$1, $2, …` (our SQL has no `?` inside literals)."""
    counter = iter(range(1, 10_000))
    return _MARK.sub(lambda _: f"${next(counter)}", sql)


def marks(n: int) -> str:
    """`?, ?, …` for an IN list of n values."""
    return ", ".join("?" * n)


@lru_cache(maxsize=8)
def _processors(dialect: Dialect) -> tuple[Any, Any, Any]:
    """(timestamp, date, JSON) bind processors: built once per engine's dialect, not per call."""
    return tuple(t.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[return-value]
                 for t in (DateTime(timezone=True), Date(), JSON()))


class Raw:
    """The session's DBAPI connection with three calls: fetch, execute, executemany."""

    def __init__(self, driver: Any, dialect: Dialect) -> None:
        self.driver = driver
        self.dialect = dialect
        self.postgres = dialect.name == "postgresql"
        self._ts, self._date, self._json = _processors(dialect)

    @classmethod
    async def of(cls, session: AsyncSession) -> Raw:
        conn = await session.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        if conn.dialect.name == "postgresql" and not driver.is_in_transaction():
            # SQLAlchemy's asyncpg adapter sends BEGIN lazily, before the first statement it
            # runs itself; run one so that what we send lands inside the session's transaction.
            await conn.exec_driver_sql("SELECT 1")
        return cls(driver, conn.dialect)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            return [tuple(r) for r in await self.driver.fetch(_dollar(sql), *params)]
        return list(await self.driver.execute_fetchall(sql, tuple(params)))

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.postgres:
            await self.driver.execute(_dollar(sql), *params)
        else:
            await self.driver.execute_fetchall(sql, tuple(params))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.postgres:
            await self.driver.executemany(_dollar(sql), rows)
        else:
            await self.driver.executemany(sql, rows)

    def timestamp(self, value: Any) -> Any:
        """A timezone-aware datetime as the DateTime column stores it on this dialect."""
        return self._ts(value) if self._ts is not None else value

    def date(self, value: Any) -> Any:
        """A date as the Date column stores it on this dialect."""
        return self._date(value) if self._date is not None else value

    def json(self, value: Any) -> Any:
        """A JSON column's value as the dialect expects it."""
        return self._json(value) if self._json is not None else value


def plain_indexes(*tables: Table) -> dict[str, Index]:
    """The non-unique indexes of these tables by name, as the models declare them: what a
    load may drop and rebuild (unique ones stay, they are the load's own checks)."""
    return {str(ix.name): ix for t in tables for ix in sorted(t.indexes, key=lambda i: str(i.name)) if not ix.unique}


async def drop_indexes(raw: Raw, indexes: Iterable[Index]) -> list[str]:
    """Drop `indexes` in the current transaction; return the statements that rebuild them.

    A big load then pays one sorted build per index instead of a random insert per row.
    DDL is transactional on SQLite and PostgreSQL, so a kill before the commit brings the
    indexes back together with the data.
    """
    rebuild = []
    for ix in indexes:
        await raw.execute(f"DROP INDEX IF EXISTS {ix.name}")
        rebuild.append(str(CreateIndex(ix).compile(dialect=raw.dialect)))
    return rebuild
