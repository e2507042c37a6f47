"""Engine and session factory, plus the schema-version guard.

SQLite gets WAL, foreign keys and a busy timeout so one embedded process can serve
readers while an import writes. The guard refuses to serve a database whose schema is
behind the code, telling the operator the one command that fixes it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_MINIMUM = (3, 35, 0)  # RETURNING (3.35) and UPDATE … FROM (3.33) in the write path


def require_sqlite(version: tuple[int, int, int]) -> None:
    """Refuse an SQLite too old for the statements HQ writes, naming both versions."""
    if version < SQLITE_MINIMUM:
        raise RuntimeError(f"SQLite {'.'.join(map(str, version))} is too old: HQ needs "
                           f"{'.'.join(map(str, SQLITE_MINIMUM))} or newer (RETURNING, UPDATE … FROM); "
                           "use a Python whose sqlite3 module is built on a newer SQLite, or PostgreSQL")


def make_engine(url: str, *, background_checkpoints: bool = False, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`. `background_checkpoints` (SQLite): commits never copy the WAL
    into the database themselves; the caller runs `checkpoint.WalCheckpointer` instead.
    On PostgreSQL, `pool_pre_ping` (default True) turns on HQ's own one-query ping
    (`_ping_postgres`) instead of SQLAlchemy's."""
    if url.startswith("sqlite"):
        require_sqlite(sqlite3.sqlite_version_info)
        # check_same_thread off: under the write lock, hq.rawsql talks to the sqlite3 connection
        # from the event loop's thread as well as through aiosqlite's (never both at once).
        engine = create_async_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                # "database is locked": a bulk load into the empty database holds it on a
                # rollback journal (hq.bulk_import). This connection's statements wait for it
                # like for any writer (busy timeout), and SQLite opens the file in WAL mode
                # again by itself once the load has put WAL back.
                if "locked" not in str(exc):
                    raise
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            if background_checkpoints:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    ping = kwargs.pop("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if ping:
        event.listen(engine.sync_engine, "checkout", _ping_postgres)
    return engine


def _ping_postgres(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Check a pooled PostgreSQL connection before handing it out, in one round trip.

    A connection the server dropped (a restart, a failover, `pg_terminate_backend`) must not
    fail the request that happens to get it. SQLAlchemy's `pool_pre_ping` does this for
    asyncpg in three round trips (BEGIN, the ping, ROLLBACK: a transaction for pgbouncer's
    transaction mode, which HQ does not use); measured on a 200,000-case database, that was
    0.7 ms of a single case's 9 ms write. Raising DisconnectionError makes the pool discard
    the connection and check out another, as the built-in pre-ping does.
    """
    try:
        await_only(dbapi_conn.driver_connection.fetchval(";"))
    except Exception as exc:  # any failure of the ping: the connection is not to be trusted
        raise DisconnectionError(f"pooled PostgreSQL connection failed its ping: {exc!r}") from exc


def dialect_name(session: AsyncSession) -> str:
    """"sqlite" or "postgresql": which SQL the session's engine speaks."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


class SchemaBehind(RuntimeError):
    pass


async def check_schema(engine: AsyncEngine) -> None:
    """Raise SchemaBehind unless the database is at the code's head revision."""
    url = engine.url.render_as_string(hide_password=False)
    head = head_revision(url)
    async with engine.connect() as conn:
        current = await conn.run_sync(_current_revision)
    if current != head:
        raise SchemaBehind(
            f"database schema is at revision {current or 'none (empty database)'}, "
            f"the code needs {head}: run `hq db upgrade` (same HQ_DATABASE_URL) and start again"
        )
