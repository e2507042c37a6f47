"""Alembic environment: runs migrations through the async engine on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from hq.db import make_engine
from hq.models import Base
import hq.tasking.models  # noqa: F401
import hq.liaison.models  # noqa: F401
import hq.audit.models  # noqa: F401
import hq.hardening.models  # noqa: F401

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite's way to change a table is to rebuild it (new table, copy, drop, rename),
        # and dropping a table that others reference needs foreign keys off. The pragma only
        # takes outside a transaction: here, before any migration has written. Every
        # foreign key is checked after the migrations instead.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migrations left rows whose foreign key points nowhere (table, rowid, "
                               f"parent, key): {broken[:5]}")


async def _run_async() -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()  # closes the connection that ran with foreign keys off


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
