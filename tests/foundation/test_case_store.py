"""`hq.case_store.store_cases` stores a case the same way whether it comes alone or in a batch.

PostgreSQL stores a single new case, the commonest write, with a statement of its own (the
case, its victim, its mentions and the statistics rollup's +1 in one round trip); a batch
goes through the general statements. Both must leave the same rows.
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
from hq.case_store import StoreResult, _insert_one_pg, ensure_identifiers
from hq.db import make_engine, make_sessionmaker
from hq.demo_data import generate
from hq.ingest import ingest
from hq.models import utcnow
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


async def test_a_registration_number_taken_meanwhile_stores_nothing_of_the_case(pg_url: str) -> None:
    """The single-case statement writes the victim, the mentions and the rollup's rows only
    with the case. Where the number was taken after `store_cases` looked (by a writer that
    skipped the write lock), none of them is written and the write is refused."""
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
            ids = await ensure_identifiers(raw, [(m.identifier.kind, m.identifier.key, m.identifier.display,
                                                  m.identifier.strength.value) for m in second.mentions])
            with pytest.raises(IntegrityError):
                await _insert_one_pg(raw, second, second.content_hash(), ids, utcnow(), StoreResult())
            # Read inside the same transaction: the statement itself left nothing behind.
            assert (await s.execute(text("SELECT COUNT(*) FROM victims"))).scalar_one() == 0
            assert (await s.execute(text("SELECT COUNT(*) FROM mentions"))).scalar_one() == 1
            assert await case_stats.current(s) == before["case_stats"]
            await s.rollback()
        assert await _snapshot(sessions) == before
    finally:
        await engine.dispose()
