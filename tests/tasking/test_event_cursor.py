"""The late-commit gap, on real PostgreSQL.

With ids from a sequence, a transaction that took a smaller id but commits later is
skipped by a reader that already moved its cursor past it (the control test shows the
hazard is real). With `append_events` the second writer cannot even get an id until the
first has committed, so the reader that read in between still gets both, in order.
"""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import text

from hq.db import make_engine, make_sessionmaker
from hq.tasking.events import NewEvent, append_events, read_events
from hq.models import utcnow


def ev(unit: str, n: int) -> NewEvent:
    return NewEvent(unit_id=unit, task_id=n, kind="task_issued", payload={"n": n})


async def test_sequence_cursor_skips_a_late_commit(pg_url) -> None:
    """Control: the naive design loses an event, so the next test has teeth."""
    engine = make_engine(pg_url)
    async with engine.begin() as c:
        await c.execute(text("CREATE TABLE naive (id BIGSERIAL PRIMARY KEY, v TEXT)"))
    a, b = await engine.connect(), await engine.connect()
    await a.begin()
    await b.begin()
    await a.execute(text("INSERT INTO naive (v) VALUES ('first')"))  # takes id 1
    await b.execute(text("INSERT INTO naive (v) VALUES ('second')"))  # takes id 2
    await b.commit()
    async with engine.connect() as r:
        seen = [row[0] for row in await r.execute(text("SELECT id FROM naive WHERE id > 0 ORDER BY id"))]
    cursor = max(seen)
    await a.commit()
    async with engine.connect() as r:
        later = [row[0] for row in await r.execute(text(f"SELECT id FROM naive WHERE id > {cursor} ORDER BY id"))]
    await a.close()
    await b.close()
    await engine.dispose()
    assert seen == [2] and later == []  # id 1 was never seen: the gap


async def test_counter_cursor_cannot_skip_a_late_commit(pg_url) -> None:
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    t1 = sessions()
    await t1.begin()
    first = await append_events(t1, [ev("kz-23-k", 1)], utcnow())  # holds the counter until commit
    assert first.ids == [1]

    async def second() -> list[int]:
        async with sessions.begin() as t2:
            return (await append_events(t2, [ev("kz-23-k", 2)], utcnow())).ids

    t2 = asyncio.create_task(second())
    done, _ = await asyncio.wait({t2}, timeout=0.3)
    assert not done, "the second writer must wait for the first to commit"

    async with sessions() as r:  # a reader in between sees neither
        assert await read_events(r, after=0, unit="kz-23-k") == []

    await t1.commit()
    await t1.close()
    assert await asyncio.wait_for(t2, 10) == [2]
    async with sessions() as r:
        assert [e.id for e in await read_events(r, after=0, unit="kz-23-k")] == [1, 2]
    await engine.dispose()


async def test_no_event_is_ever_skipped_under_concurrent_writers(pg_url) -> None:
    """30 writers commit after random delays while a reader follows with its cursor."""
    engine = make_engine(pg_url, pool_size=20, max_overflow=20)
    sessions = make_sessionmaker(engine)
    writers_done = asyncio.Event()
    seen: list[int] = []

    async def writer(n: int) -> list[int]:
        await asyncio.sleep(random.random() * 0.05)
        async with sessions.begin() as s:
            await s.execute(text("SELECT pg_sleep(:d)"), {"d": random.random() * 0.02})
            ids = (await append_events(s, [ev("kz-61-k", n), ev("hq", n)], utcnow())).ids
            await s.execute(text("SELECT pg_sleep(:d)"), {"d": random.random() * 0.02})  # commit late
        return ids

    async def reader() -> None:
        cursor = 0
        while True:
            finished = writers_done.is_set()
            async with sessions() as s:
                batch = await read_events(s, after=cursor)
            for e in batch:
                seen.append(e.id)
                cursor = e.id
            if finished and not batch:
                return
            await asyncio.sleep(0.001)

    r = asyncio.create_task(reader())
    written = await asyncio.gather(*(writer(n) for n in range(30)))
    writers_done.set()
    await asyncio.wait_for(r, 30)
    await engine.dispose()
    all_ids = sorted(i for ids in written for i in ids)
    assert seen == all_ids == list(range(1, 61))


async def test_sqlite_ids_follow_commit_order(sqlite_url) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    for n in range(3):
        async with sessions.begin() as s:
            await append_events(s, [ev("kz-23-k", n)], utcnow())
    async with sessions() as s:
        assert [e.id for e in await read_events(s, after=1, unit="kz-23-k")] == [2, 3]
    await engine.dispose()
