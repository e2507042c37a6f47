"""Plain SQL on the session's own connection, for the few paths where every round trip counts.

SQLAlchemy's statement layer costs about 0.3–0.5 ms a statement on top of the driver
(building, cache keys, result processing, the greenlet hop). The bulk path and the
incremental fast path issue fixed statements whose shape never changes, so they talk to
the DBAPI driver directly, inside the same transaction the session holds: aiosqlite's
`execute_fetchall` on SQLite (one thread hop, ~0.07 ms) and asyncpg on PostgreSQL.

On SQLite, once the transaction holds the write lock (`lock_writes`, which marks the
session with `mark_write_locked`), statements go straight to the sqlite3 connection from
the event loop's thread instead of through aiosqlite's worker thread: the hop costs
60–100 µs a statement here against about 8 µs for a small statement itself, and a case
write runs some twenty of them. It is safe only under the write lock: in WAL mode the lock
holder's statements never wait for another connection, so they cannot stall the event loop
on SQLite's busy handler while the writer they would wait for needs that loop to finish.
Before the lock, and after the transaction ends, every statement takes the hop.

SQL is written once with `?` placeholders and rewritten to `$n` for asyncpg. Values that
need the column type's own encoding (timestamps, JSON) go through `Raw.timestamp` and
`Raw.json`, which use the dialect's bind processors, so rows written here read back
through the ORM exactly like rows written by it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import JSON, Column, Date, DateTime, Index, String, Table, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex

_MARK = re.compile(r"\?")
_SQLITE_VARIABLES = 999  # bind variables a statement may hold on any SQLite (3.32+ allows 32766)


@lru_cache(maxsize=512)
def _dollar(sql: str) -> str:
    """`?` placeholders to asyncpg's `$1, $2, …` (our SQL has no `?` inside literals)."""
    counter = iter(range(1, 10_000))
    return _MARK.sub(lambda _: f"${next(counter)}", sql)


def marks(n: int) -> str:
    """`?, ?, …` for an IN list of n values."""
    return ", ".join("?" * n)


def pg_type(column: Column[Any]) -> str:
    """A column's PostgreSQL type as SQL (`DATE`, `BIGINT`…), for a parameter's cast where
    PostgreSQL cannot infer it from the column itself (`INSERT … SELECT ?`). Strings are cast
    to `text`, not `VARCHAR(n)`: an explicit cast would cut a long value silently, where
    storing text in the column rejects it."""
    if isinstance(column.type, String):
        return "text"
    return str(column.type.compile(dialect=postgresql.dialect()))


def columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as `width` column lists: the arrays a PostgreSQL `unnest(?::type[], …)` takes,
    so that any number of rows travels in one statement (empty lists for no rows)."""
    return [list(col) for col in zip(*rows)] if rows else [[] for _ in range(width)]


@lru_cache(maxsize=8)
def _processors(dialect: Dialect) -> tuple[Any, Any, Any]:
    """(timestamp, date, JSON) bind processors: built once per engine's dialect, not per call."""
    return tuple(t.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[return-value]
                 for t in (DateTime(timezone=True), Date(), JSON()))


_WRITE_LOCKED = "hq.write_locked"  # key in Session.info: this transaction holds the write lock
# Key in Session.info: this transaction's `Raw`, made once. A general relink asks for it some
# sixteen times, and each `Raw.of` goes through the session's connection proxies (about a
# quarter of such a relink's time on SQLite, profiled at 100,000 cases).
_RAW = "hq.raw"


def mark_write_locked(session: AsyncSession) -> None:
    """Record that the session's current transaction holds the write lock (see above)."""
    session.info[_WRITE_LOCKED] = True
    session.info.pop(_RAW, None)  # made before the lock: the next one may talk directly


@event.listens_for(Session, "after_transaction_end")
def _lock_released(session: Session, _transaction: Any) -> None:
    session.info.pop(_WRITE_LOCKED, None)
    session.info.pop(_RAW, None)


def _direct(session: AsyncSession, driver: Any) -> sqlite3.Connection | None:
    """aiosqlite's own sqlite3 connection, when statements may go to it directly."""
    if not session.info.get(_WRITE_LOCKED):
        return None
    conn = getattr(driver, "_connection", None)
    if not isinstance(conn, sqlite3.Connection) or not conn.in_transaction:
        return None
    return conn


async def _begin(conn: Any, adapter: Any) -> None:
    """Open the session's transaction on PostgreSQL, so that what `Raw` sends lands in it.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, before the first statement it runs
    itself. Its own `_start_transaction` sends that BEGIN alone (one round trip, and the
    adapter commits or rolls it back as usual); a SQLAlchemy without it gets a statement
    run through the adapter instead (BEGIN, then SELECT 1: two)."""
    start = getattr(adapter, "_start_transaction", None)
    if start is not None and getattr(adapter, "_transaction", False) is None:
        await start()
    else:
        await conn.exec_driver_sql("SELECT 1")


class Raw:
    """The session's DBAPI connection with three calls: fetch, execute, executemany."""

    def __init__(self, driver: Any, dialect: Dialect, direct: sqlite3.Connection | None = None) -> None:
        self.driver = driver
        self.dialect = dialect
        self.postgres = dialect.name == "postgresql"
        self.direct = direct  # SQLite under the write lock: the sqlite3 connection itself
        self._ts, self._date, self._json = _processors(dialect)

    @classmethod
    async def of(cls, session: AsyncSession, *, direct: bool = True) -> Raw:
        """The session's connection. `direct=False` keeps aiosqlite's thread even under the
        write lock: the bulk paths run a few big statements, for which the hop costs nothing,
        and measured at 200,000 cases their load ran 1.5–2.5 s slower on the loop's thread.
        The default kind is kept for the rest of the transaction (`_RAW`)."""
        if direct and (made := session.info.get(_RAW)) is not None:
            return made  # type: ignore[no-any-return]
        conn = await session.connection()
        fairy = await conn.get_raw_connection()
        driver = fairy.driver_connection
        if conn.dialect.name == "postgresql":
            if not driver.is_in_transaction():
                await _begin(conn, fairy.dbapi_connection)
            raw = cls(driver, conn.dialect)
        else:
            raw = cls(driver, conn.dialect, _direct(session, driver) if direct else None)
        if direct:
            session.info[_RAW] = raw
        return raw

    def among(self, ids: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
        """`IN (…)` over ids, as SQL to follow a column and its parameters. PostgreSQL gets
        one array parameter instead (`= ANY(?)`), so that the statement's text, and with it
        asyncpg's prepared statement and its plan, is the same for any number of ids: each
        new IN-list length costs a prepare round trip and 1.5–2 ms of planning there."""
        if self.postgres:
            return "= ANY(?::bigint[])", (list(ids),)
        return f"IN ({marks(len(ids))})", tuple(ids)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            return [tuple(r) for r in await self.driver.fetch(_dollar(sql), *params)]
        if self.direct is not None:
            return self.direct.execute(sql, tuple(params)).fetchall()
        return list(await self.driver.execute_fetchall(sql, tuple(params)))

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.postgres:
            await self.driver.execute(_dollar(sql), *params)
        elif self.direct is not None:
            self.direct.execute(sql, tuple(params)).fetchall()
        else:
            await self.driver.execute_fetchall(sql, tuple(params))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.postgres:
            await self.driver.executemany(_dollar(sql), rows)
        elif self.direct is not None:
            self.direct.executemany(sql, rows)
        else:
            await self.driver.executemany(sql, rows)

    async def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]], *,
                     rows_per_statement: int | None = None) -> None:
        """Append many rows: COPY on PostgreSQL; on SQLite, INSERTs of many rows each.

        sqlite3's executemany steps once per row, binding and releasing the GIL every time;
        a VALUES list of a couple of hundred rows per statement stores mentions, cases,
        victims and links in 55–70 % of the time (measured at 200,000 cases). Not every
        table gains: pass `rows_per_statement=1` where a measurement says so.
        """
        if not rows:
            return
        if self.postgres:
            await self.driver.copy_records_to_table(table, records=rows, columns=list(cols))
            return
        await self.insert_flat(table, cols, list(chain.from_iterable(rows)), rows_per_statement=rows_per_statement)

    async def insert_flat(self, table: str, cols: Sequence[str], values: list[Any], *,
                          rows_per_statement: int | None = None) -> None:
        """`insert` for rows given as one flat list, row after row (`len(cols)` values each).

        The bulk load builds its rows this way: a statement's parameters are then one slice of
        the list, not a tuple per row chained together (and freed) again."""
        width = len(cols)
        if len(values) % width:
            raise ValueError(f"{len(values)} values are not whole rows of {width} columns")
        if not values:
            return
        if self.postgres:
            await self.driver.copy_records_to_table(table, records=zip(*[iter(values)] * width), columns=list(cols))
            return
        per = rows_per_statement or max(1, _SQLITE_VARIABLES // width)  # within SQLite's bind limit
        head = f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
        one = f"({marks(width)})"
        step = per * width
        whole = len(values) // step * step if per > 1 else 0  # values that fill many-row statements
        if whole:
            await self.executemany(head + ", ".join([one] * per), [values[i:i + step] for i in range(0, whole, step)])
        if whole < len(values):
            await self.executemany(head + one, [values[i:i + width] for i in range(whole, len(values), width)])

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


async def drop_foreign_keys(raw: Raw, tables: Iterable[str]) -> list[str]:
    """PostgreSQL: drop the foreign keys of `tables` in the current transaction; return the
    statements that add them back, exactly as they were defined (`pg_get_constraintdef`).

    COPY checks a foreign key with a trigger and a lookup per row; adding the constraint
    back after a load checks all rows with one join. Adding it back fails, and with it the
    whole transaction, if any row breaks it. SQLite cannot drop a constraint: nothing to do.
    """
    if not raw.postgres:
        return []
    names = list(tables)
    rows = await raw.fetch(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE contype = 'f' AND conrelid::regclass::text IN ({marks(len(names))}) ORDER BY 1, 2", names)
    for table, name, _ in rows:
        await raw.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in rows]
