"""`hq.case_store.store_cases` stores a case the same way whether it comes alone or in a batch.

PostgreSQL stores a single new case, the commonest write, with a statement of its own (its
missing identifiers, the case, its victim, its mentions and the statistics rollup's +1 in one
round trip, before anything is read); a batch goes through the general statements. Both must
leave the same rows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq import case_stats
from hq.case_record import parse_case
from hq.case_store import StoreResult, _insert_new_pg
from hq.db import make_engine, make_sessionmaker
from hq.demo_data import generate
from hq.ingest import ingest
from hq.rawsql import Raw
from regions import load_directory
from tests.conftest import PEPPER, _pg_db, _sqlite_db
from tests.helpers import case

_SNAPSHOT = {
    "cases": "SELECT registration_number, region_code, unit_id, unit_name, registered_at, article, scheme, status, "
             "damage_kzt, recovered_kzt, content_hash FROM cases",
    "victims": "SELECT c.registration_number, v.name, v.phone, v.iin FROM victims v JOIN cases c ON c.id = v.case_id",
    "mentions": "SELECT c.registration_number, i.kind, i.key, i.display, i.strength, m.role, m.note FROM mentions m "
                "JOIN cases c ON c.id = m.case_id JOIN identifiers i ON i.id = m.identifier_id",
}


async def _snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Every row storing a case leaves, by registration number (ids differ: a batch numbers its
    new cases in registration number order). Linking is compared in tests/linking."""
    async with sessions() as s:
        out: dict[str, Any] = {name: sorted(tuple(map(str, r)) for r in await s.execute(text(sql)))
                               for name, sql in _SNAPSHOT.items()}
        out["case_stats"] = await case_stats.current(s)
        assert out["case_stats"] == await case_stats.expected(s)  # the rollup's invariant
    return out


async def _store(url: str, objs: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    directory = load_directory()
    try:
        records = [parse_case(o, directory, pepper=PEPPER.encode()) for o in objs]
        for start in range(0, len(records), batch):
            async with sessions.begin() as s:
                await ingest(s, records[start:start + batch])
        return await _snapshot(sessions)
    finally:
        await engine.dispose()


async def test_a_case_stored_alone_leaves_what_a_batch_leaves(db_url: str, tmp_path) -> None:
    objs = generate()[:120] + [
        case("ALONE-1", "KZ-61", ("card", "4042438609878024"), victim={"name": "A", "phone": "+7 701 000 00 09",
                                                                        "iin": "850101400120"}),
        case("ALONE-2", "KZ-23", ("card", "4042438609878024", "suspect"), ("phone", "+7 701 000 00 09", "victim")),
        case("ALONE-3", "KZ-71"),  # no identifiers, no victim
    ]
    one_by_one = await _store(db_url, objs, batch=1)
    (tmp_path / "batch").mkdir()
    other = await asyncio.to_thread(_pg_db) if db_url.startswith("postgresql") else _sqlite_db(tmp_path / "batch")
    in_batches = await _store(other, objs, batch=500)
    assert one_by_one == in_batches
    assert len(one_by_one["victims"]) >= 100 and len(one_by_one["mentions"]) >= 200


async def test_a_registration_number_already_taken_stores_nothing_of_the_case(pg_url: str) -> None:
    """The single-case statement writes the victim, the mentions and the rollup's rows only
    with the case. Where the number is taken, none of them is written and it says so, so that
    `store_cases` goes on to update the stored case."""
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    directory = load_directory()
    first = parse_case(case("TAKEN-1", "KZ-61", ("card", "4042438609878024")), directory, pepper=PEPPER.encode())
    second = parse_case(case("TAKEN-1", "KZ-23", ("card", "5169493100000010"),
                             victim={"name": "B", "iin": "900101300123"}), directory, pepper=PEPPER.encode())
    try:
        async with sessions.begin() as s:
            await ingest(s, [first])
        before = await _snapshot(sessions)
        async with sessions.begin() as s:
            raw = await Raw.of(s)
            assert await _insert_new_pg(raw, second, second.content_hash(), StoreResult()) is False
            # Read inside the same transaction: the statement itself left no case data behind.
            assert (await s.execute(text("SELECT COUNT(*) FROM victims"))).scalar_one() == 0
            assert (await s.execute(text("SELECT COUNT(*) FROM mentions"))).scalar_one() == 1
            assert await case_stats.current(s) == before["case_stats"]
            await s.rollback()
        assert await _snapshot(sessions) == before
        async with sessions.begin() as s:  # the whole write path: an update of the stored case
            result = await ingest(s, [second])
        assert result.updated == ["TAKEN-1"] and result.inserted == []
        after = await _snapshot(sessions)
        assert [m[1:3] for m in after["mentions"]] == [("card", second.mentions[0].identifier.key)]
        assert after["victims"] == [("TAKEN-1", "B", "None", "900101300123")]
    finally:
        await engine.dispose()


async def test_an_identifier_added_meanwhile_is_not_left_out_of_a_new_case(pg_url: str) -> None:
    """An identifier that another transaction commits while the single-case statement waits on
    its key is neither inserted by the statement nor in its snapshot. The statement then stores
    no case at all, and the ordinary path stores it with every mention."""
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    directory = load_directory()
    rec = parse_case(case("RACE-1", "KZ-61", ("card", "4042438609878024"), ("phone", "+7 701 000 00 09")),
                     directory, pepper=PEPPER.encode())
    card = next(m.identifier for m in rec.mentions if m.identifier.kind == "card")
    try:
        async with engine.connect() as other:
            await other.execute(text("INSERT INTO identifiers (kind, key, display, strength, excluded) "
                                     "VALUES (:k, :key, :d, :s, FALSE)"),
                                {"k": card.kind, "key": card.key, "d": card.display, "s": card.strength.value})

            async def store() -> StoreResult:
                async with sessions.begin() as s:
                    return await ingest(s, [rec])

            task = asyncio.create_task(store())
            for _ in range(200):  # until the statement waits for the other transaction's key
                async with engine.connect() as probe:
                    waiting = (await probe.execute(text(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query LIKE 'WITH v AS%'"))).scalar_one()
                if waiting:
                    break
                await asyncio.sleep(0.02)
            assert waiting, "the single-case statement never waited for the uncommitted identifier"
            await other.commit()
            result = await asyncio.wait_for(task, 30)
        assert result.inserted == ["RACE-1"]
        stored = await _snapshot(sessions)
        assert sorted(m[1] for m in stored["mentions"]) == ["card", "phone"]
    finally:
        await engine.dispose()
