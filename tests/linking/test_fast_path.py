"""The fast path for a new case (hq/linking/addition.py) must leave exactly what the general path leaves.

Each test imports the same cases one at a time into two databases, once with the fast
path and once with `fast=False`, and compares everything linking writes: groups,
multi-episode cases with their totals and history, and the phones' hub counts.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hq.case_record import parse_case
from hq.db import make_engine, make_sessionmaker
from hq.ingest import ingest
from hq.linking.addition import link_new_case
from hq.linking.decisions import split
from hq.models import Case, CaseLink, IdentifierStat, MecDecision, MultiEpisodeCase
from hq.rawsql import Raw
from regions import load_directory
from tests.conftest import PEPPER, _pg_db, _sqlite_db
from tests.helpers import case

CARDS = ["4042438609878024", "5169493100000010", "4400430012345671", "4263982640269299", "4111111111111111"]
PHONES = ["+7 701 000 00 01", "+7 701 000 00 02", "+7 727 330 00 00"]
POOL = [("card", c) for c in CARDS] + [("phone", p) for p in PHONES] + [
    ("telegram", f"@gang_{i}") for i in range(5)] + [("ip", "95.56.1.1")]


async def _state(sessions: Any) -> dict[str, Any]:
    """Everything linking writes, keyed by registration number where ids could differ."""
    async with sessions() as s:
        reg = {cid: r for cid, r in await s.execute(select(Case.id, Case.registration_number))}
        links = sorted((reg[c], reg[g], m) for c, g, m in await s.execute(
            select(CaseLink.case_id, CaseLink.group_id, CaseLink.mec_id)))
        mecs = sorted(tuple(r) for r in await s.execute(select(
            MultiEpisodeCase.id, MultiEpisodeCase.status, MultiEpisodeCase.size, MultiEpisodeCase.region_count,
            MultiEpisodeCase.victims, MultiEpisodeCase.damage_kzt, MultiEpisodeCase.recovered_kzt,
            MultiEpisodeCase.first_date, MultiEpisodeCase.last_date, MultiEpisodeCase.has_hub,
            MultiEpisodeCase.needs_review, MultiEpisodeCase.merged_into_id)))
        decisions = [(m, a, p) for m, a, p in await s.execute(
            select(MecDecision.mec_id, MecDecision.action, MecDecision.payload).order_by(MecDecision.id))]
        stats = sorted(tuple(r) for r in await s.execute(
            select(IdentifierStat.identifier_id, IdentifierStat.group_count, IdentifierStat.hub)))
    return {"links": links, "mecs": mecs, "decisions": decisions, "stats": stats}


async def _run(url: str, objs: list[dict[str, Any]], fast: bool, split_after: int | None = None) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    directory = load_directory()
    try:
        for i, obj in enumerate(objs):
            async with sessions.begin() as s:
                await ingest(s, [parse_case(obj, directory, pepper=PEPPER.encode())], fast=fast)
            if split_after == i:
                async with sessions.begin() as s:
                    mec = (await s.execute(select(MultiEpisodeCase.id).where(MultiEpisodeCase.size >= 2)
                                           .order_by(MultiEpisodeCase.size.desc(), MultiEpisodeCase.id))).scalar()
                    if mec is not None:
                        members = sorted((await s.execute(
                            select(CaseLink.case_id).where(CaseLink.mec_id == mec))).scalars())
                        await split(s, mec, set(members[: len(members) // 2]), None, "two gangs")
        return await _state(sessions)
    finally:
        await engine.dispose()


# Victims: the same person in several cases (counted once), one without an IIN, none at all.
VICTIMS: list[dict[str, str] | None] = [{"name": "A", "iin": "850101400120"}, {"name": "B", "iin": "900101300123"},
                                        {"name": "No IIN"}, None, {"name": "C", "iin": "030702590893"}]


def _cases(raw: list[list[tuple[tuple[str, str], str]]]) -> list[dict[str, Any]]:
    return [case(f"F{i:03d}", ["KZ-61", "KZ-23", "KZ-71"][i % 3], *[(k, v, r) for (k, v), r in ms],
                 damage_kzt=1000 * (i + 1), recovered_kzt=7 * i, registered_at=f"2023-0{1 + i % 9}-1{i % 10}",
                 **({"victim": VICTIMS[i % 5]} if VICTIMS[i % 5] else {}))
            for i, ms in enumerate(raw)]


def _both_paths(raw: list[list[tuple[tuple[str, str], str]]], seed: int, split: bool,
                new_db: Callable[[], str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same cases, shuffled by `seed`, imported one at a time into two new databases:
    the state the fast path leaves and the state the general path leaves (a split of the
    largest multi-episode case half way through, if `split`)."""
    objs = _cases(raw)
    random.Random(seed).shuffle(objs)
    split_after = len(objs) // 2 if split else None
    return (asyncio.run(_run(new_db(), objs, True, split_after)),
            asyncio.run(_run(new_db(), objs, False, split_after)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(st.lists(st.tuples(st.sampled_from(POOL), st.sampled_from(["suspect", "suspect", "victim"])),
                             max_size=3), min_size=2, max_size=16),
       seed=st.integers(0, 10_000), split=st.booleans())
def test_fast_path_leaves_what_the_general_path_leaves(tmp_path_factory, raw, seed, split) -> None:
    fast, general = _both_paths(raw, seed, split, lambda: _sqlite_db(tmp_path_factory.mktemp("db")))
    assert fast == general


@settings(max_examples=12, deadline=None)
@given(raw=st.lists(st.lists(st.tuples(st.sampled_from(POOL), st.sampled_from(["suspect", "suspect", "victim"])),
                             max_size=3), min_size=2, max_size=16),
       seed=st.integers(0, 10_000), split=st.booleans())
def test_fast_path_leaves_what_the_general_path_leaves_on_postgres(raw, seed, split) -> None:
    """PostgreSQL runs its own statements for the commonest writes (one new case stored in one
    statement, one case joining one multi-episode case in another): the same comparison there."""
    fast, general = _both_paths(raw, seed, split, _pg_db)
    assert fast == general


# Rings tied by cards, most of their cases calling from one hotline: with the hub threshold
# at 3, the hotline becomes a hub once it is in four rings of two or more cases, and stops
# being one when a case naming two cards merges two of them, so most runs make flags flip.
HOTLINE = ("phone", "+7 727 330 00 00")


def _flippy(extras: list[tuple[int | None, str | None, bool]]) -> list[list[tuple[tuple[str, str], str]]]:
    """Case i names card i % 5 (five rings), maybe a second card, the hotline, a Telegram account."""
    cases = []
    for i, (second, hotline, telegram) in enumerate(extras):
        mentions = [(("card", CARDS[i % 5]), "suspect")]
        if second is not None:
            mentions.append((("card", CARDS[second]), "suspect"))
        if hotline is not None:
            mentions.append((HOTLINE, hotline))
        if telegram:
            mentions.append((("telegram", "@gang_0"), "suspect"))
        cases.append(mentions)
    return cases


# Per case: a second card now and then, the hotline mostly as a suspect's, Telegram rarely.
FLIPPY = st.lists(st.tuples(st.sampled_from([None] * 30 + list(range(5))),
                            st.sampled_from(["suspect"] * 4 + ["victim", None]),
                            st.sampled_from([False] * 19 + [True])),
                  min_size=8, max_size=20).map(_flippy)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=FLIPPY, seed=st.integers(0, 10_000), split=st.booleans())
def test_hub_flips_leave_what_the_general_path_leaves(tmp_path_factory, raw, seed, split) -> None:
    """A new case that flips a phone's hub flag recomputes within the multi-episode cases it
    touches instead of walking the graph: the same comparison, on data where flags flip."""
    fast, general = _both_paths(raw, seed, split, lambda: _sqlite_db(tmp_path_factory.mktemp("db")))
    assert fast == general


@settings(max_examples=10, deadline=None)
@given(raw=FLIPPY, seed=st.integers(0, 10_000), split=st.booleans())
def test_hub_flips_leave_what_the_general_path_leaves_on_postgres(raw, seed, split) -> None:
    fast, general = _both_paths(raw, seed, split, _pg_db)
    assert fast == general


def _hub_scenario() -> list[dict[str, Any]]:
    """Five two-case rings, each tied by its own card, all called from one spoofed hotline,
    then a case that merges two rings (the hotline's count drops back), loose cases, and a
    sixth ring that a case naming the hotline joins."""
    objs = []
    for ring in range(5):
        for member in range(2):
            objs.append(case(f"H{ring}{member}", "KZ-61", ("card", CARDS[ring]), ("phone", "+7 727 330 00 00"),
                             ("phone", f"+7 701 100 0{ring} 0{member}")))
    objs.append(case("HX1", "KZ-23", ("card", CARDS[0]), ("card", CARDS[1])))
    objs.append(case("HX2", "KZ-23", ("phone", "+7 701 100 00 00"), ("phone", "+7 701 100 02 01")))
    objs.append(case("HX3", "KZ-71", ("phone", "+7 727 330 00 00")))
    # A ring of its own; its third case also names the hotline, which by then may be a hub.
    objs += [case(f"HY{i}", "KZ-71", ("telegram", "@hy_ring"), *([("phone", "+7 727 330 00 00")] if i == 3 else []))
             for i in (1, 2, 3)]
    return objs


def _second_db(db_url: str, tmp_path: Path) -> str:
    """Another new database on `db_url`'s backend, for the general path's run (on SQLite in a
    folder of its own: the helper names the file after the folder, which `db_url`'s has)."""
    if not db_url.startswith("sqlite"):
        return _pg_db()
    (tmp_path / "general").mkdir()
    return _sqlite_db(tmp_path / "general")


def _count_flips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the new cases that take the fast path's flip branch, as they arrive."""
    import hq.linking.addition as addition

    flips: list[int] = []
    across = addition._link_across_flips

    async def counted(raw: Any, case_id: int, *args: Any) -> Any:
        flips.append(case_id)
        return await across(raw, case_id, *args)

    monkeypatch.setattr(addition, "_link_across_flips", counted)
    return flips


@pytest.mark.parametrize("order", ["as_written", "reversed"])
def test_hubs_appearing_and_vanishing_give_the_same_state(db_url: str, tmp_path, order: str) -> None:
    objs = _hub_scenario()
    if order == "reversed":
        objs.reverse()
    other = _second_db(db_url, tmp_path)
    fast = asyncio.run(_run(db_url, objs, True))
    general = asyncio.run(_run(other, objs, False))
    assert fast == general
    hubs = [s for s in fast["stats"] if s[2]]
    assert len(hubs) == 1  # the hotline is a hub, and it merged nothing


async def test_the_fast_path_really_runs_and_splits_across_a_hub_flip(db_url: str) -> None:
    """Called directly, without the general path behind it: a new case that makes the
    hotline a hub splits the multi-episode case the hotline held together, by itself."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    directory = load_directory()
    objs = _hub_scenario()
    try:
        async with sessions.begin() as s:  # ring 0: two cases, then a third joins by card
            await ingest(s, [parse_case(o, directory, pepper=PEPPER.encode()) for o in objs[:1]])
        from hq.case_store import store_cases

        async with sessions.begin() as s:
            stored = await store_cases(s, [parse_case(objs[1], directory, pepper=PEPPER.encode())])
            (new_id,) = stored.new_case_ids
            changed = await link_new_case(await Raw.of(s), new_id, 3)
        assert changed is not None and len(changed) == 1  # a new multi-episode case, on the fast path
        for o in objs[2:7]:  # rings 1 and 2, and ring 3's first case: the hotline is in 3 groups of two
            async with sessions.begin() as s:
                await ingest(s, [parse_case(o, directory, pepper=PEPPER.encode())])
        before = await _state(sessions)
        assert sorted(m[2] for m in before["mecs"]) == [7]  # the hotline ties all seven cases
        async with sessions.begin() as s:  # ring 3's second case makes it 4 groups, one more than 3: a hub
            stored = await store_cases(s, [parse_case(objs[7], directory, pepper=PEPPER.encode())])
            (new_id,) = stored.new_case_ids
            changed = await link_new_case(await Raw.of(s), new_id, 3)
        after = await _state(sessions)
        assert changed is not None and len(changed) == 4
        assert sorted(m[2] for m in after["mecs"] if m[1] != "dissolved") == [2, 2, 2, 2]  # one per ring
        assert [(n, hub) for _, n, hub in after["stats"] if hub] == [(4, True)]
        rings = {}
        for reg, _, mec in after["links"]:
            rings.setdefault(mec, set()).add(reg[:2])
        assert sorted(map(sorted, rings.values())) == [["H0"], ["H1"], ["H2"], ["H3"]]
    finally:
        await engine.dispose()


def test_a_case_that_merges_two_rings_and_unmakes_a_hub_regroups_the_cases_it_moves(db_url: str, tmp_path,
                                                                                     monkeypatch) -> None:
    """Four two-case rings called from one hotline make it a hub. A case naming two rings'
    cards merges those two into one core group, so the hotline is in three groups again and
    joins all four rings. That case takes the fast path's flip branch, whose one write moves
    three rings into the first ring's multi-episode case and renames the second ring's group
    at once: both must land on each of the second ring's cases, as the general path leaves them."""
    objs = [case(f"H{ring}{member}", "KZ-61", ("card", CARDS[ring]), HOTLINE,
                 ("phone", f"+7 701 100 0{ring} 0{member}")) for ring in range(4) for member in range(2)]
    objs.append(case("HX1", "KZ-23", ("card", CARDS[0]), ("card", CARDS[1])))
    flips = _count_flips(monkeypatch)
    other = _second_db(db_url, tmp_path)
    fast = asyncio.run(_run(db_url, objs, True))
    assert len(flips) == 2  # the fourth ring's second case makes the hotline a hub, HX1 unmakes it
    general = asyncio.run(_run(other, objs, False))
    assert fast == general
    assert [m[2] for m in fast["mecs"] if m[1] != "dissolved"] == [9]
    groups: dict[str, set[str]] = {}
    for reg, group, _ in fast["links"]:
        groups.setdefault(group, set()).add(reg)
    assert sorted(map(sorted, groups.values())) == [
        ["H00", "H01", "H10", "H11", "HX1"], ["H20", "H21"], ["H30", "H31"]]


async def _run_with_exclusion(url: str, before: list[dict], phone_key: str, after: list[dict],
                              fast: bool) -> dict[str, Any]:
    """`_run`, with an analyst's "not evidence" on the phone `phone_key` between the two lists."""
    from hq.linking.decisions import set_excluded
    from hq.models import Identifier

    await _run(url, before, fast)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine).begin() as s:
            phone = (await s.execute(select(Identifier.id).where(Identifier.key == phone_key))).scalar_one()
            await set_excluded(s, phone, True, None, "the bank's official number")
    finally:
        await engine.dispose()
    return await _run(url, after, fast)


def test_an_excluded_hub_still_flags_the_cases_a_flip_recounts(db_url: str, tmp_path, monkeypatch) -> None:
    """"Not evidence" on a hub stops it linking, not being a hub: multi-episode cases that name
    it keep their hub flag. The fast path's flip branch works that flag out from the mentions it
    has read, and must count the excluded hub too, as the general path does. Here a hotline is a
    hub in five rings and excluded; a second phone is a hub in four others, one of which also
    calls the hotline; a case that merges two of those four unmakes the second hub, and the four
    rings become one multi-episode case whose only hub is the excluded hotline."""
    hotline, other = ("phone", "+7 727 330 00 00"), ("phone", "+7 727 244 00 00")

    def ring(k: int, *phones: tuple[str, str]) -> list[dict[str, Any]]:
        return [case(f"R{k}{m}", "KZ-61", ("telegram", f"@ring_{k}"), *phones) for m in range(2)]

    before = [*ring(5, hotline), *ring(6, hotline), *ring(7, hotline), *ring(8, hotline), *ring(1, hotline, other),
              *ring(2, other), *ring(3, other), *ring(4, other)]
    after = [case("RX", "KZ-23", ("telegram", "@ring_1"), ("telegram", "@ring_2"))]
    flips = _count_flips(monkeypatch)
    other_db = _second_db(db_url, tmp_path)
    fast = asyncio.run(_run_with_exclusion(db_url, before, "+77273300000", after, True))
    assert len(flips) == 3  # the hotline and the other phone become hubs, RX unmakes the other one
    general = asyncio.run(_run_with_exclusion(other_db, before, "+77273300000", after, False))
    assert fast == general
    live = sorted((size, has_hub) for _, status, size, *rest in fast["mecs"] if status != "dissolved"
                  for has_hub in [rest[6]])
    assert live == [(2, True)] * 4 + [(9, True)]  # rings 5-8, and rings 1-4 with RX
