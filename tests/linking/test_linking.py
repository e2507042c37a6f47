"""Linking rules, decisions that stick, explanation and concurrency, against real databases."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from hq.case_record import parse_case
from hq.importer import import_lines
from hq.ingest import ingest
from hq.linking import decisions
from hq.linking.explain import explain
from hq.models import Case, CaseLink, Identifier, IdentifierStat, MultiEpisodeCase
from regions import load_directory
from tests.conftest import PEPPER
from tests.helpers import case

CARDS = ["4042438609878024", "5169493100000010", "4400430012345671"]
HOTLINE = "+7 727 330 00 00"


async def load(sessions, *objs) -> None:
    report = await import_lines(sessions, [json.dumps(o) for o in objs], "t", load_directory(), PEPPER.encode())
    assert not report.errors, report.errors


async def partition(sessions) -> set[frozenset[str]]:
    async with sessions() as s:
        rows = await s.execute(
            select(CaseLink.mec_id, Case.registration_number).join(Case, Case.id == CaseLink.case_id)
            .where(CaseLink.mec_id.is_not(None)))
        groups: dict[int, set[str]] = {}
        for mec, reg in rows:
            groups.setdefault(mec, set()).add(reg)
    return {frozenset(g) for g in groups.values()}


async def case_id(sessions, reg: str) -> int:
    async with sessions() as s:
        return (await s.execute(select(Case.id).where(Case.registration_number == reg))).scalar_one()


async def ident_id(sessions, kind: str) -> int:
    async with sessions() as s:
        return (await s.execute(select(Identifier.id).where(Identifier.kind == kind))).scalars().first()


async def test_strong_identifiers_chain_cases_across_regions(sessions) -> None:
    await load(
        sessions,
        case("A1", "KZ-61", ("card", "4042 4386 0987 8024"), ("telegram", "id5014785358")),
        case("A2", "KZ-23", ("card", "4042-4386-0987-8024")),
        case("A3", "KZ-33", ("telegram", "5014785358"), ("telegram", "@Buyer_One")),
        case("A4", "KZ-59", ("telegram", "https://t.me/buyer_one")),
        case("Z9", "KZ-71", ("card", CARDS[1])),
    )
    assert await partition(sessions) == {frozenset({"A1", "A2", "A3", "A4"})}
    async with sessions() as s:
        mec = (await s.execute(select(MultiEpisodeCase).where(MultiEpisodeCase.size > 0))).scalar_one()
        assert (mec.size, mec.region_count, mec.damage_kzt) == (4, 4, 400_000)
        chain = await explain(s, await case_id(sessions, "A2"), await case_id(sessions, "A4"))
    assert chain is not None
    assert [(st.from_case, st.identifier_kind, st.to_case) for st in chain] == [
        ("A2", "card", "A1"), ("A1", "telegram", "A3"), ("A3", "telegram", "A4")]
    assert chain[0].identifier_display == "4042 43** **** 8024"


async def mec_totals(sessions) -> dict[frozenset[str], tuple]:
    """Each live multi-episode case's stored totals, keyed by its registration numbers."""
    async with sessions() as s:
        mecs = {m.id: m for m in (await s.execute(select(MultiEpisodeCase).where(MultiEpisodeCase.size > 0))).scalars()}
        members: dict[int, set[str]] = {}
        for mec, reg in await s.execute(select(CaseLink.mec_id, Case.registration_number)
                                        .join(Case, Case.id == CaseLink.case_id).where(CaseLink.mec_id.is_not(None))):
            members.setdefault(mec, set()).add(reg)
    return {frozenset(members[i]): (m.size, m.region_count, m.victims, m.damage_kzt, m.recovered_kzt,
                                     str(m.first_date), str(m.last_date), m.has_hub) for i, m in mecs.items()}


def expected_totals(objs: list[dict], has_hub: bool) -> tuple:
    """What the totals of a multi-episode case made of these export lines must be, worked
    out here from the lines themselves: victims count by IIN, a victim without one (or no
    victim) counts once per case."""
    victims = {o["victim"]["iin"] if o.get("victim", {}).get("iin") else "case " + o["registration_number"]
               for o in objs}
    days = sorted(o["registered_at"] for o in objs)
    return (len(objs), len({o["region"] for o in objs}), len(victims), sum(o["damage_kzt"] for o in objs),
            sum(o.get("recovered_kzt", 0) for o in objs), days[0], days[-1], has_hub)


async def test_multi_episode_totals_follow_their_cases(sessions) -> None:
    victim = {"name": "Victim", "iin": "900101300123"}
    ring = [
        case("T1", "KZ-61", ("card", CARDS[0]), registered_at="2024-03-05", damage_kzt=250_000,
             recovered_kzt=50_000, victim=victim),
        case("T2", "KZ-23", ("card", CARDS[0]), ("telegram", "@tot_ring"), registered_at="2023-11-30",
             damage_kzt=1_000, victim=victim),  # the same victim again: counted once
        case("T3", "KZ-23", ("telegram", "tot_ring"), registered_at="2024-07-01", damage_kzt=70_000,
             recovered_kzt=7, victim={"name": "No IIN"}),
        case("T4", "KZ-71", ("telegram", "t.me/TOT_RING"), registered_at="2024-01-15", damage_kzt=0),
    ]
    other = [case("U1", "KZ-61", ("card", CARDS[1])), case("U2", "KZ-61", ("card", CARDS[1]), damage_kzt=5)]
    await load(sessions, *ring[:2], *other)  # new cases one batch at a time, then singly (the fast path)
    for obj in ring[2:]:
        await load(sessions, obj)
    assert await mec_totals(sessions) == {
        frozenset({"T1", "T2", "T3", "T4"}): expected_totals(ring, False),
        frozenset({"U1", "U2"}): expected_totals(other, False)}

    ring[0] = {**ring[0], "damage_kzt": 300_000, "registered_at": "2022-02-02"}  # an edited case
    other[1] = {**other[1], "identifiers": []}  # U2 no longer names the card: U1 is alone
    await load(sessions, ring[0], other[1])
    assert await mec_totals(sessions) == {frozenset({"T1", "T2", "T3", "T4"}): expected_totals(ring, False)}
    async with sessions() as s:
        dissolved = (await s.execute(select(MultiEpisodeCase).where(MultiEpisodeCase.size == 0))).scalars().all()
    assert [m.status for m in dissolved] == ["dissolved"]


async def test_victim_witness_and_weak_mentions_never_link(sessions) -> None:
    await load(
        sessions,
        case("V1", "KZ-61", ("phone", "+7 702 111 22 33", "victim"), ("ip", "95.56.12.7")),
        case("V2", "KZ-23", ("phone", "8 702 111 22 33", "victim"), ("ip", "95.56.12.7")),
        case("V3", "KZ-23", ("card", CARDS[0], "witness")),
        case("V4", "KZ-71", ("card", CARDS[0], "witness"), ("url", "instagram.com")),
        case("V5", "KZ-71", ("url", "https://www.instagram.com/")),
    )
    assert await partition(sessions) == set()


async def test_hub_phone_does_not_merge_unrelated_rings(sessions) -> None:
    rings = [
        case(f"R{i}a", "KZ-61", ("card", c), ("phone", HOTLINE)) for i, c in enumerate(
            ["4042438609878024", "5169493100000010", "4400430012345671", "4263982640269299"])
    ] + [
        case(f"R{i}b", "KZ-23", ("card", c)) for i, c in enumerate(
            ["4042438609878024", "5169493100000010", "4400430012345671", "4263982640269299"])
    ]
    await load(sessions, *rings[:2], *rings[4:6])
    # two groups sharing the hotline: below the threshold, the phone still links them
    assert await partition(sessions) == {frozenset({"R0a", "R0b", "R1a", "R1b"})}
    await load(sessions, *rings[2:4], *rings[6:])
    # four unrelated groups: the phone is a hub, and each ring stands alone
    assert await partition(sessions) == {frozenset({f"R{i}a", f"R{i}b"}) for i in range(4)}
    async with sessions() as s:
        stat = (await s.execute(select(IdentifierStat).where(IdentifierStat.hub.is_(True)))).scalar_one()
        assert stat.group_count == 4
        assert all(m.has_hub for m in (await s.execute(
            select(MultiEpisodeCase).where(MultiEpisodeCase.size > 0))).scalars())


@pytest.mark.parametrize("arrival", ["one_by_one", "one_batch"])
async def test_a_phone_that_becomes_a_hub_is_flagged_where_other_phones_hold_the_case(sessions, arrival) -> None:
    """Four rings, each tied by its own card, chained by three ordinary phones (each in two
    rings), all calling from the hotline. When the hotline's fourth ring forms, it becomes a
    hub: nothing splits, since the chain holds the multi-episode case together, and that
    case must now say it has a hub among its identifiers."""
    cards = CARDS + ["4263982640269299"]
    chain = ["+7 701 200 00 01", "+7 701 200 00 02", "+7 701 200 00 03"]
    objs = []
    for ring in range(4):
        links = [("phone", chain[p]) for p in (ring - 1, ring) if 0 <= p < 3]
        objs += [case(f"C{ring}{member}", "KZ-61", ("card", cards[ring]), ("phone", HOTLINE), *links)
                 for member in range(2)]
    if arrival == "one_by_one":
        for obj in objs:
            await load(sessions, obj)
    else:
        await load(sessions, *objs)
    assert await partition(sessions) == {frozenset(o["registration_number"] for o in objs)}
    async with sessions() as s:
        stat = (await s.execute(select(IdentifierStat).where(IdentifierStat.hub.is_(True)))).scalar_one()
        assert stat.group_count == 4
        (mec,) = (await s.execute(select(MultiEpisodeCase).where(MultiEpisodeCase.size > 0))).scalars()
        assert mec.size == 8 and mec.has_hub


async def test_excluding_an_identifier_undoes_only_its_merges(sessions) -> None:
    await load(
        sessions,
        case("E1", "KZ-61", ("phone", "+7 701 555 00 11"), ("card", CARDS[0])),
        case("E2", "KZ-23", ("phone", "87015550011")),
        case("E3", "KZ-23", ("card", CARDS[0])),
    )
    assert await partition(sessions) == {frozenset({"E1", "E2", "E3"})}
    phone = await ident_id(sessions, "phone")
    async with sessions.begin() as s:
        await decisions.set_excluded(s, phone, True, None, "bank's official number")
    assert await partition(sessions) == {frozenset({"E1", "E3"})}
    # a new case with the excluded phone does not link either
    await load(sessions, case("E4", "KZ-71", ("phone", "+77015550011")))
    assert await partition(sessions) == {frozenset({"E1", "E3"})}
    async with sessions.begin() as s:
        await decisions.set_excluded(s, phone, False, None, "restored")
    assert await partition(sessions) == {frozenset({"E1", "E2", "E3", "E4"})}


async def test_split_sticks_through_reimport_and_new_evidence_on_one_side(sessions) -> None:
    await load(
        sessions,
        case("S1", "KZ-61", ("card", CARDS[0]), ("telegram", "@gang_a")),
        case("S2", "KZ-61", ("telegram", "@gang_a")),
        case("S3", "KZ-23", ("card", CARDS[0]), ("telegram", "@gang_b")),
        case("S4", "KZ-23", ("telegram", "@gang_b")),
    )
    assert await partition(sessions) == {frozenset({"S1", "S2", "S3", "S4"})}
    async with sessions() as s:
        mec_id = (await s.execute(select(CaseLink.mec_id).where(CaseLink.mec_id.is_not(None)))).scalars().first()
    side_b = {await case_id(sessions, "S3"), await case_id(sessions, "S4")}
    async with sessions.begin() as s:
        await decisions.split(s, mec_id, side_b, None, "two different gangs")
    expected = {frozenset({"S1", "S2"}), frozenset({"S3", "S4"})}
    assert await partition(sessions) == expected
    # re-sending S3 unchanged, or with a new note, does not rejoin it through the same card
    await load(sessions, {**case("S3", "KZ-23", ("card", CARDS[0]), ("telegram", "@gang_b")), "status": "solved"})
    assert await partition(sessions) == expected
    # the confirmed side keeps its id and decisions
    async with sessions() as s:
        kept = await s.get(MultiEpisodeCase, mec_id)
        assert kept is not None and kept.size == 2
    # new evidence that ties both sides does join them again (and goes to review)
    await load(sessions, case("S5", "KZ-71", ("telegram", "@gang_a"), ("telegram", "@gang_b")))
    assert await partition(sessions) == {frozenset({"S1", "S2", "S3", "S4", "S5"})}


async def test_reimport_that_drops_the_bridge_splits_the_case(sessions) -> None:
    await load(
        sessions,
        case("D1", "KZ-61", ("card", CARDS[0])),
        case("D2", "KZ-23", ("card", CARDS[0]), ("card", CARDS[1])),
        case("D3", "KZ-33", ("card", CARDS[1])),
    )
    assert await partition(sessions) == {frozenset({"D1", "D2", "D3"})}
    await load(sessions, case("D2", "KZ-23", ("card", CARDS[1])))
    assert await partition(sessions) == {frozenset({"D2", "D3"})}


async def test_confirm_then_invalid_transitions(sessions) -> None:
    await load(sessions, case("C1", "KZ-61", ("card", CARDS[0])), case("C2", "KZ-23", ("card", CARDS[0])))
    async with sessions() as s:
        mec_id = (await s.execute(select(CaseLink.mec_id).where(CaseLink.mec_id.is_not(None)))).scalars().first()
    async with sessions.begin() as s:
        await decisions.reject(s, mec_id, None, "coincidence")
    with pytest.raises(decisions.DecisionError) as err:
        async with sessions.begin() as s:
            await decisions.confirm(s, mec_id, None, "x")
    assert err.value.code == "CONFLICT" and "rejected" in err.value.reason


async def test_concurrent_imports_match_sequential(db_url) -> None:
    """Two regions import at once; their cases tie together through shared cards. On
    PostgreSQL the writers run on separate connections; on SQLite, under the write lock,
    statements run on the event loop's thread (hq.rawsql), so a writer waiting for the lock
    must not stall that loop. Either way both end, and end as if run one after the other."""
    from hq.db import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        a = [case(f"P{i}", "KZ-61", ("card", CARDS[i % 3]), ("telegram", f"@ring_{i % 5}")) for i in range(0, 60, 2)]
        b = [case(f"P{i}", "KZ-23", ("card", CARDS[(i + 1) % 3]), ("telegram", f"@ring_{i % 5}")) for i in range(1, 60, 2)]
        d, p = load_directory(), PEPPER.encode()
        ra, rb = await asyncio.wait_for(asyncio.gather(
            import_lines(sessions, [json.dumps(o) for o in a], "a", d, p, batch_size=3),
            import_lines(sessions, [json.dumps(o) for o in b], "b", d, p, batch_size=3),
        ), timeout=25)  # SQLite's busy timeout is 30 s: a stalled loop would end in an error
        assert not ra.errors and not rb.errors
        got = await partition(sessions)
    finally:
        await engine.dispose()
    assert got == {frozenset(f"P{i}" for i in range(60))}


async def test_writers_take_generic_plans_for_their_own_transaction_only(pg_url) -> None:
    """PostgreSQL: a write transaction reuses one generic plan per statement (see
    `lock_writes`); the setting ends with the transaction, so the pooled connection's next
    user, a console query say, plans as usual."""
    from sqlalchemy import text

    from hq.db import make_engine, make_sessionmaker
    from hq.linking.incremental import lock_writes

    engine = make_engine(pg_url, pool_size=1, max_overflow=0)  # one connection: the next user gets it
    sessions = make_sessionmaker(engine)
    show = text("SHOW plan_cache_mode")
    try:
        async with sessions() as s:
            before = (await s.execute(show)).scalar_one()
        async with sessions.begin() as s:
            await lock_writes(s)
            assert (await s.execute(show)).scalar_one() == "force_generic_plan"
        async with sessions() as s:
            assert (await s.execute(show)).scalar_one() == before == "auto"
    finally:
        await engine.dispose()


async def test_plain_statements_land_in_the_sessions_own_transaction(db_url) -> None:
    """`Raw` opens the session's transaction itself when it is the first to talk (on
    PostgreSQL through the adapter's BEGIN): what it writes is rolled back or committed
    with the session, never committed on its own."""
    from hq.db import make_engine, make_sessionmaker
    from hq.rawsql import Raw

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    read = "SELECT version FROM write_lock WHERE id = 1"
    try:
        async with sessions() as s:
            [(start,)] = await (await Raw.of(s)).fetch(read)
        async with sessions() as s:
            raw = await Raw.of(s)  # the first statement of this session
            await raw.execute("UPDATE write_lock SET version = version + 5 WHERE id = 1")
            assert await raw.fetch(read) == [(start + 5,)]
            await s.rollback()
        async with sessions.begin() as s:
            assert await (await Raw.of(s)).fetch(read) == [(start,)]
            await (await Raw.of(s)).execute("UPDATE write_lock SET version = version + 7 WHERE id = 1")
        async with sessions() as s:
            assert await (await Raw.of(s)).fetch(read) == [(start + 7,)]
    finally:
        await engine.dispose()


async def test_statements_skip_the_driver_thread_only_under_the_write_lock(sqlite_url) -> None:
    from hq.db import make_engine, make_sessionmaker
    from hq.linking.incremental import lock_writes
    from hq.rawsql import Raw

    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as s:
            assert (await Raw.of(s)).direct is None  # no lock yet: a statement may have to wait
            await lock_writes(s)
            raw = await Raw.of(s)
            assert raw.direct is not None
            await raw.execute("UPDATE write_lock SET version = version + 1 WHERE id = 1")
            [(version,)] = await raw.fetch("SELECT version FROM write_lock WHERE id = 1")
            await s.commit()
            assert (await Raw.of(s)).direct is None  # the transaction ended: the lock is gone
            assert (await (await Raw.of(s)).fetch("SELECT version FROM write_lock WHERE id = 1")) == [(version,)]
            await lock_writes(s)
            assert (await Raw.of(s)).direct is not None
            await s.rollback()
            assert (await Raw.of(s)).direct is None
            assert (await (await Raw.of(s)).fetch("SELECT version FROM write_lock WHERE id = 1")) == [(version,)]
    finally:
        await engine.dispose()


async def test_a_writer_waiting_for_the_lock_does_not_stall_the_holder_on_sqlite(sqlite_url) -> None:
    """The waiting writer waits on aiosqlite's thread, not on the event loop's: the holder,
    which still needs the loop for its own statements, finishes first."""
    from sqlalchemy import text

    from hq.db import make_engine, make_sessionmaker
    from hq.linking.incremental import lock_writes

    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    order: list[str] = []

    async def holder() -> None:
        async with sessions.begin() as s:
            await lock_writes(s)
            order.append("a locked")
            await asyncio.sleep(0.1)  # the other writer is now waiting for the lock
            for _ in range(5):
                await s.execute(text("SELECT 1"))  # through the driver's thread: needs the loop
            order.append("a done")

    async def waiter() -> None:
        await asyncio.sleep(0.02)
        async with sessions.begin() as s:
            await lock_writes(s)
            order.append("b locked")

    try:
        await asyncio.wait_for(asyncio.gather(holder(), waiter()), timeout=20)
    finally:
        await engine.dispose()
    assert order == ["a locked", "a done", "b locked"]


@pytest.mark.parametrize("count", [1, 198, 199, 200, 401])
@pytest.mark.parametrize("per", [None, 1])
@pytest.mark.parametrize("flat", [False, True])
async def test_insert_stores_every_row_as_given(db_url, count: int, per: int | None, flat: bool) -> None:
    """`Raw.insert` splits rows into statements of many rows (199 of identifier_stats' three
    columns fit SQLite's bind limit of 999) and a tail: every row lands once, unchanged,
    whatever the count, and nothing lands if a row breaks a constraint. `Raw.insert_flat`
    does the same with the rows given as one flat list of values."""
    from itertools import chain

    from sqlalchemy import insert as sa_insert

    from hq.db import make_engine, make_sessionmaker
    from hq.models import Identifier
    from hq.rawsql import Raw

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    rows = [(i, i * 7 % 13, i % 3 == 0) for i in range(1, count + 1)]
    try:
        async with sessions.begin() as s:
            await s.execute(sa_insert(Identifier), [
                {"id": i, "kind": "phone", "key": f"+7701{i:07d}", "display": "x", "strength": "phone"}
                for i in range(1, count + 2)])
            raw = await Raw.of(s)
            if flat:
                await raw.insert_flat("identifier_stats", ("identifier_id", "group_count", "hub"),
                                      list(chain.from_iterable(rows)), rows_per_statement=per)
            else:
                await raw.insert("identifier_stats", ("identifier_id", "group_count", "hub"), rows,
                                 rows_per_statement=per)
        async with sessions() as s:
            got = (await s.execute(select(IdentifierStat.identifier_id, IdentifierStat.group_count, IdentifierStat.hub)
                                   .order_by(IdentifierStat.identifier_id))).all()
        assert [tuple(r) for r in got] == rows
        with pytest.raises(Exception):  # a duplicate key in the last statement: the whole call fails
            async with sessions.begin() as s:
                bad = [(count + 1, 0, False)] + rows[-1:]
                if flat:
                    await (await Raw.of(s)).insert_flat("identifier_stats", ("identifier_id", "group_count", "hub"),
                                                        list(chain.from_iterable(bad)), rows_per_statement=per)
                else:
                    await (await Raw.of(s)).insert("identifier_stats", ("identifier_id", "group_count", "hub"),
                                                   bad, rows_per_statement=per)
        async with sessions() as s:
            assert (await s.execute(select(IdentifierStat.identifier_id).where(
                IdentifierStat.identifier_id == count + 1))).first() is None
    finally:
        await engine.dispose()


async def test_insert_flat_refuses_values_that_are_not_whole_rows(sqlite_url) -> None:
    from hq.db import make_engine, make_sessionmaker
    from hq.rawsql import Raw

    engine = make_engine(sqlite_url)
    try:
        async with make_sessionmaker(engine)() as s:
            with pytest.raises(ValueError, match="7 values are not whole rows of 3 columns"):
                await (await Raw.of(s)).insert_flat("identifier_stats", ("identifier_id", "group_count", "hub"),
                                                    [1, 0, False, 2, 0, False, 3])
    finally:
        await engine.dispose()


async def test_identifiers_committed_while_the_writer_waits_are_still_found(pg_url) -> None:
    """PostgreSQL: `ensure_identifiers` inserts and reads ids in one statement. A row that
    another transaction commits while that statement waits on it is neither inserted nor
    in the statement's snapshot; the writer must still come back with its id."""
    from hq.case_store import ensure_identifiers
    from hq.db import make_engine, make_sessionmaker
    from hq.rawsql import Raw

    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    other = ("phone", "+77010009999", "+7 701 000 9999", "phone")
    fresh = ("card", "card-key-only-here", "4400 43** **** 5671", "card")
    try:
        async with sessions() as a, sessions() as b:
            raw_a = await Raw.of(a)
            await raw_a.execute("INSERT INTO identifiers (kind, key, display, strength, excluded) "
                                "VALUES (?, ?, ?, ?, FALSE)", other)
            [(other_id,)] = await raw_a.fetch("SELECT id FROM identifiers WHERE kind = ? AND key = ?", other[:2])

            async def write() -> dict[tuple[str, str], int]:
                return await ensure_identifiers(await Raw.of(b), [other, fresh])

            waiting = asyncio.create_task(write())
            await asyncio.sleep(0.5)
            assert not waiting.done()  # b's insert waits for a's row
            await a.commit()
            ids = await asyncio.wait_for(waiting, 10)
            await b.commit()
        assert ids[other[:2]] == other_id and set(ids) == {other[:2], fresh[:2]}
        async with sessions() as s:
            keys = (await s.execute(select(Identifier.kind, Identifier.key, Identifier.id).where(
                Identifier.key.in_([other[1], fresh[1]])))).all()
        assert sorted(keys) == sorted([("card", fresh[1], ids[fresh[:2]]), ("phone", other[1], other_id)])
    finally:
        await engine.dispose()


@pytest.mark.parametrize("with_victim", [True, False])
async def test_a_case_write_stores_its_victim_and_mentions_as_given(sessions, with_victim: bool) -> None:
    """One write of new and edited cases keeps every victim field and every mention's
    role and note in its own column (PostgreSQL sends both tables in one statement)."""
    from hq.models import Mention, Victim

    victim = {"name": "Айгүл С.", "phone": "+7 701 555 12 34", "iin": "850101400120"}
    a = case("W1", "KZ-61", ("card", CARDS[0]), ("phone", "+7 701 000 00 07", "victim"), **(
        {"victim": victim} if with_victim else {}))
    a["identifiers"][0]["note"] = "перевод 150 000"
    b = case("W2", "KZ-23", ("telegram", "@w_gang"))
    await load(sessions, a, b)
    b2 = {**b, "victim": {"name": "Only a name"}}
    b2["identifiers"] = [{"kind": "telegram", "value": "@w_gang", "note": "writes first"}]
    await load(sessions, b2)  # an edit: its victim and mentions are written again
    async with sessions() as s:
        reg = {cid: r for cid, r in await s.execute(select(Case.id, Case.registration_number))}
        victims = sorted((reg[v.case_id], v.name, v.phone, v.iin) for v in (await s.execute(select(Victim))).scalars())
        mentions = sorted((reg[m.case_id], kind, m.role, m.note) for m, kind in await s.execute(
            select(Mention, Identifier.kind).join(Identifier, Identifier.id == Mention.identifier_id)))
    assert victims == ([("W1", victim["name"], "+77015551234", victim["iin"])] if with_victim else []) + [
        ("W2", "Only a name", None, None)]
    assert mentions == [("W1", "card", "suspect", "перевод 150 000"), ("W1", "phone", "victim", None),
                        ("W2", "telegram", "suspect", "writes first")]


async def _confirm(sessions, reg: str) -> int:
    """Confirm the multi-episode case that holds `reg`; return its id."""
    async with sessions.begin() as s:
        mec_id = (await s.execute(select(CaseLink.mec_id).join(Case, Case.id == CaseLink.case_id)
                                  .where(Case.registration_number == reg))).scalar_one()
        await decisions.confirm(s, mec_id, None, "checked")
    return mec_id


async def _needs_review(sessions, mec_id: int) -> bool:
    async with sessions() as s:
        return (await s.get(MultiEpisodeCase, mec_id)).needs_review


async def test_a_confirmed_multi_episode_case_that_grows_goes_back_to_review(sessions) -> None:
    """Whichever way a confirmed multi-episode case gains episodes (one new case joins it, a
    new case merges another into it, an edited case joins it through the general path), it
    is back in the analysts' review queue."""
    await load(sessions, case("R1", "KZ-61", ("card", CARDS[0])), case("R2", "KZ-23", ("card", CARDS[0])),
               case("D1", "KZ-33", ("card", CARDS[2])))
    mec = await _confirm(sessions, "R1")
    assert not await _needs_review(sessions, mec)
    await load(sessions, case("R3", "KZ-71", ("card", CARDS[0])))  # joins it alone
    assert await _needs_review(sessions, mec)

    await load(sessions, case("B1", "KZ-61", ("card", CARDS[1])), case("B2", "KZ-23", ("card", CARDS[1])))
    await _confirm(sessions, "R1")
    await load(sessions, case("C1", "KZ-59", ("card", CARDS[0]), ("card", CARDS[1])))  # merges B's into it
    assert await partition(sessions) == {frozenset({"R1", "R2", "R3", "B1", "B2", "C1"})}
    assert await _needs_review(sessions, mec)

    await _confirm(sessions, "R1")
    await load(sessions, case("D1", "KZ-33", ("card", CARDS[2]), ("card", CARDS[0])))  # an edit: the general path
    assert await partition(sessions) == {frozenset({"R1", "R2", "R3", "B1", "B2", "C1", "D1"})}
    assert await _needs_review(sessions, mec)


def hub_elsewhere_cases() -> list[dict]:
    """Three rings (C0*, C1*, C2*) tied by their cards, chained by two ordinary phones and all
    calling from the hotline; then a fourth ring elsewhere (D0, D1) of which only the last
    case names the hotline, making it a hub in four rings."""
    chain = ["+7 701 200 00 01", "+7 701 200 00 02"]
    objs = []
    for ring in range(3):
        links = [("phone", chain[p]) for p in (ring - 1, ring) if 0 <= p < 2]
        objs += [case(f"C{ring}{member}", "KZ-61", ("card", CARDS[ring]), ("phone", HOTLINE), *links)
                 for member in range(2)]
    return objs + [case("D0", "KZ-23", ("card", "4263982640269299")),
                   case("D1", "KZ-23", ("card", "4263982640269299"), ("phone", HOTLINE))]


@pytest.mark.parametrize("arrival", ["one_by_one", "one_by_one_general_path", "one_batch"])
async def test_a_phone_that_becomes_a_hub_elsewhere_is_flagged_on_a_case_that_does_not_change(sessions,
                                                                                                arrival) -> None:
    """Three rings chained by ordinary phones, all calling from the hotline, form one
    multi-episode case. A fourth ring forms elsewhere (its second case names the hotline):
    the hotline becomes a hub, the fourth ring is not joined, and the first multi-episode case
    keeps every case, but it now has a hub among its identifiers and must say so. One by one,
    the last case takes the fast path's hub-flip branch, or the general path when forced."""
    objs = hub_elsewhere_cases()
    if arrival == "one_by_one":
        for obj in objs:
            await load(sessions, obj)
    elif arrival == "one_by_one_general_path":
        for obj in objs:
            async with sessions.begin() as s:
                await ingest(s, [parse_case(obj, load_directory(), pepper=PEPPER.encode())], fast=False)
    else:
        await load(sessions, *objs)
    assert await partition(sessions) == {frozenset(f"C{r}{m}" for r in range(3) for m in range(2)),
                                         frozenset({"D0", "D1"})}
    async with sessions() as s:
        stat = (await s.execute(select(IdentifierStat).where(IdentifierStat.hub.is_(True)))).scalar_one()
        assert stat.group_count == 4
        mecs = (await s.execute(select(MultiEpisodeCase).where(MultiEpisodeCase.size > 0))).scalars().all()
        assert sorted((m.size, m.has_hub) for m in mecs) == [(2, True), (6, True)]
