"""SQLite only: copy the write-ahead log into the database off the writer's path.

By default SQLite checkpoints inside whichever commit pushes the log past 1,000 pages, so
one write in forty pays 10 ms or more for copying and syncing everyone's pages. The
server turns that off (`make_engine(background_checkpoints=True)`) and runs this job
instead: a PASSIVE checkpoint on its own pooled connection, which never waits for or
blocks readers and writers, every half second.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from hq.periodic import Periodic

INTERVAL_SECONDS = 0.5


class WalCheckpointer(Periodic):
    name = "SQLite WAL checkpoint"

    def __init__(self, engine: AsyncEngine, interval: float = INTERVAL_SECONDS) -> None:
        super().__init__(interval if engine.dialect.name == "sqlite" else 0)
        self.engine = engine

    async def sweep(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
