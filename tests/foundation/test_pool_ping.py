"""A pooled PostgreSQL connection that the server dropped never fails the next request:
the pool pings it on checkout (one round trip) and replaces it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hq.db import make_engine
from tests.conftest import _pg_admin_url


async def _terminate(url: str, pid: int) -> None:
    admin = create_async_engine(_pg_admin_url(url, "postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})).scalar_one() is True
    await admin.dispose()


async def test_a_dropped_pooled_connection_is_replaced_on_checkout(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            before = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await _terminate(pg_url, before)  # the pool still holds that connection
        async with engine.connect() as conn:
            after = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert after != before
    finally:
        await engine.dispose()


async def test_without_the_ping_the_dropped_connection_fails_the_request(pg_url: str) -> None:
    """The control: the same sequence with the ping turned off fails, so the test above
    passes because of the ping."""
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    try:
        async with engine.connect() as conn:
            before = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await _terminate(pg_url, before)
        failed = False
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # asyncpg's ConnectionDoesNotExistError, wrapped by SQLAlchemy
            failed = True
        assert failed
    finally:
        await engine.dispose()


async def test_the_ping_is_one_statement_outside_any_transaction(pg_url: str) -> None:
    """SQLAlchemy's own pre-ping for asyncpg sends BEGIN, the ping and ROLLBACK."""
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    sent: list[str] = []
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            driver = (await conn.get_raw_connection()).driver_connection
        driver.add_query_logger(lambda record: sent.append(record.query))
        async with engine.connect():
            pass  # checkout and checkin: nothing runs but the ping (and the reset on checkin)
        assert sent[0] == ";" and "BEGIN" not in [q.strip(" ;").upper() for q in sent], sent
    finally:
        await engine.dispose()
