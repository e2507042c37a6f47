"""The statistics rollup (`case_stats`) against the cases it summarises, on SQLite and PostgreSQL.

Three things must hold after every way cases are written (new cases, updates that move a
case to another status, scheme, region, month or amount, the bulk path, the migration's
backfill): the rollup table equals a GROUP BY over `cases`; `statistics` (whole months from
the rollup, edge days from `cases`) returns exactly the rows of `direct_statistics` (one
GROUP BY over every case in the period), in the same order; and both equal a tally made in
Python from the case rows themselves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq import case_stats
from hq.bulk_import import bulk_import
from hq.case_record import CaseRecord
from hq.console.stats import GroupBy, StatRow, direct_statistics, split_period, statistics
from hq.db import alembic_config, make_engine, make_sessionmaker
from hq.ingest import ingest
from hq.models import Case, CaseStatus, Scheme
from tests.conftest import PEPPER, _load_directory

REGIONS = ["KZ-61", "KZ-23", "KZ-71", "KZ-75"]
SCHEMES: list[str | None] = [None, *(s.value for s in Scheme)]
STATUSES = [s.value for s in CaseStatus]
FIRST, LAST = dt.date(2021, 11, 1), dt.date(2023, 2, 28)  # cases fall in these 16 months


def record(reg: str, region: str, day: dt.date, scheme: str | None, status: str, damage: int,
           recovered: int) -> CaseRecord:
    return CaseRecord(registration_number=reg, region_code=region, unit_id=None, unit_name=None, registered_at=day,
                      article=None, scheme=scheme, status=status, damage_kzt=damage, recovered_kzt=recovered,
                      victim=None)


def random_record(rng: random.Random, reg: str) -> CaseRecord:
    return record(reg, rng.choice(REGIONS), FIRST + dt.timedelta(days=rng.randrange((LAST - FIRST).days + 1)),
                  rng.choice(SCHEMES), rng.choice(STATUSES), rng.choice([0, 0, 5_000, 120_000, 2_500_000]),
                  rng.choice([0, 1_000, 60_000]))


async def python_tally(s: AsyncSession, date_from: dt.date, date_to: dt.date, group_by: GroupBy,
                       region: str | None) -> dict[str, StatRow]:
    """The expected rows, counted in Python from the case rows (no SQL aggregate at all)."""
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    rows = await s.execute(select(Case.registered_at, Case.region_code, Case.scheme, Case.status, Case.damage_kzt,
                                  Case.recovered_kzt))
    for day, reg_code, scheme, status, damage, recovered in rows:
        if not date_from <= day <= date_to or (region is not None and reg_code != region):
            continue
        key = {GroupBy.REGION: reg_code, GroupBy.SCHEME: scheme or "unknown", GroupBy.STATUS: status,
               GroupBy.MONTH: f"{day.year:04d}-{day.month:02d}"}[group_by]
        a = acc[key]
        a[0] += 1
        a[1] += status in ("solved", "sent_to_court")
        a[2] += status == "suspended"
        a[3] += damage
        a[4] += recovered
    return {k: StatRow(k, *v) for k, v in acc.items()}


async def check(sessions: async_sessionmaker[AsyncSession], periods: list[tuple[dt.date, dt.date]],
                region: str | None = None) -> int:
    """Assert the invariants for every groupBy and period; return how many cases were counted."""
    async with sessions() as s:
        assert await case_stats.current(s) == await case_stats.expected(s)
        counted = 0
        for date_from, date_to in periods:
            for group_by in GroupBy:
                for reg in {None, region}:
                    got = await statistics(s, date_from, date_to, group_by, region=reg)
                    assert got == await direct_statistics(s, date_from, date_to, group_by, region=reg), \
                        (date_from, date_to, group_by, reg)
                    assert {r.key: r for r in got} == await python_tally(s, date_from, date_to, group_by, reg)
                    counted += sum(r.registered for r in got)
    return counted


def test_split_period() -> None:
    D = dt.date
    assert split_period(D(2022, 1, 1), D(2022, 12, 31)) == (("2022-01", "2022-12"), [])
    assert split_period(D(2022, 1, 15), D(2022, 3, 10)) == (
        ("2022-02", "2022-02"), [(D(2022, 1, 15), D(2022, 1, 31)), (D(2022, 3, 1), D(2022, 3, 10))])
    assert split_period(D(2022, 1, 15), D(2022, 2, 10)) == (None, [(D(2022, 1, 15), D(2022, 2, 10))])
    assert split_period(D(2024, 2, 1), D(2024, 2, 29)) == (("2024-02", "2024-02"), [])
    assert split_period(D(2024, 2, 1), D(2024, 2, 28)) == (None, [(D(2024, 2, 1), D(2024, 2, 28))])
    assert split_period(D(2022, 12, 2), D(2023, 1, 31)) == (("2023-01", "2023-01"), [(D(2022, 12, 2), D(2022, 12, 31))])
    assert split_period(D(2022, 5, 5), D(2022, 5, 5)) == (None, [(D(2022, 5, 5), D(2022, 5, 5))])
    assert split_period(D(9999, 12, 2), D(9999, 12, 31))[0] is None
    assert split_period(D(1, 1, 1), D(1, 1, 5))[0] is None


def _days(first: dt.date, last: dt.date) -> st.SearchStrategy[dt.date]:
    """Any day in [first, last], with the days around month boundaries drawn far more often."""
    every = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    edges = [d for d in every if d.day in (1, 2, 15) or (d + dt.timedelta(days=1)).day in (1, 2)]
    return st.one_of(st.sampled_from(edges), st.sampled_from(every))


case_days = _days(FIRST, LAST)
period_days = _days(FIRST - dt.timedelta(days=45), LAST + dt.timedelta(days=45))
periods = st.lists(st.tuples(period_days, period_days).map(lambda p: (min(p), max(p))), min_size=1, max_size=4)
cases = st.tuples(st.integers(0, 40), st.sampled_from(REGIONS), case_days, st.sampled_from(SCHEMES),
                  st.sampled_from(STATUSES), st.sampled_from([0, 5_000, 120_000, 2_500_000]),
                  st.sampled_from([0, 1_000, 60_000]))
batches = st.lists(st.lists(cases, min_size=1, max_size=12), min_size=1, max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches, periods=periods, one_day=period_days, region=st.sampled_from([None, *REGIONS]))
def test_statistics_equal_a_direct_aggregate_for_random_cases_and_periods(db_url: str, batches, periods, one_day,
                                                                           region) -> None:
    """Registration numbers come from 41 slots and examples share the test's database, so
    many writes are updates of earlier cases (another status, scheme, region, day, amount)."""
    async def run() -> None:
        engine = make_engine(db_url)
        sessions = make_sessionmaker(engine)
        for batch in batches:
            async with sessions.begin() as s:
                await ingest(s, [record(f"R{slot:03d}", *rest) for slot, *rest in batch])
        await check(sessions, [*periods, (one_day, one_day), (FIRST, LAST), (dt.date(2022, 1, 1), dt.date(2022, 12, 31)),
                               (dt.date(2021, 12, 15), dt.date(2022, 6, 14))], region)
        await engine.dispose()

    asyncio.run(run())


async def test_updates_move_cases_between_rollup_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    base = record("U1", "KZ-61", dt.date(2022, 3, 10), "fake_bank_call", "registered", 100_000, 0)
    others = [record(f"U{i}", "KZ-23", dt.date(2022, 3, 1 + i), None, "in_progress", 7_000 * i, 0) for i in range(2, 6)]
    periods = [(dt.date(2022, 1, 1), dt.date(2022, 12, 31)), (dt.date(2022, 3, 10), dt.date(2022, 3, 10)),
               (dt.date(2022, 2, 15), dt.date(2022, 4, 15)), (dt.date(2022, 3, 1), dt.date(2022, 5, 31))]
    async with sessions.begin() as s:
        await ingest(s, [base, *others])
    await check(sessions, periods, "KZ-61")
    steps = [
        dict(status="solved"), dict(status="sent_to_court"), dict(status="suspended"),  # solved, then suspended
        dict(damage_kzt=250_000, recovered_kzt=40_000),  # amounts only
        dict(scheme=None), dict(scheme="dropper"),
        dict(region_code="KZ-71"),  # another region
        dict(registered_at=dt.date(2022, 3, 31)), dict(registered_at=dt.date(2022, 5, 1)),  # another month
        dict(registered_at=dt.date(2021, 12, 31), region_code="KZ-75", status="closed", scheme=None),
    ]
    current = base
    for change in steps:
        current = dataclasses.replace(current, **change)
        async with sessions.begin() as s:
            res = await ingest(s, [current])
        assert res.updated == ["U1"], change
        await check(sessions, periods, "KZ-61")
        async with sessions() as s:  # the case is counted exactly once, under what it is now
            rollup = await case_stats.current(s)
        month = case_stats.month_of(current.registered_at)
        mine = {k: v for k, v in rollup.items() if k[1] == month and k[2] == current.region_code}
        assert mine[("status", month, current.region_code, current.status)][0] == 1
        assert mine[("scheme", month, current.region_code, current.scheme or "unknown")][0] == 1
        assert mine[("total", month, current.region_code, "")][0] == 1  # the others are in KZ-23
        for dimension in ("total", "status", "scheme"):
            assert sum(v[0] for k, v in rollup.items() if k[0] == dimension) == 5
    # the rows it left are gone, not kept at zero
    async with sessions() as s:
        rollup = await case_stats.current(s)
    assert all(v[0] > 0 for v in rollup.values())
    assert ("status", "2022-03", "KZ-61", "registered") not in rollup
    assert ("scheme", "2022-03", "KZ-61", "fake_bank_call") not in rollup


async def test_an_unchanged_or_links_only_resend_leaves_the_rollup_alone(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    rec = record("S1", "KZ-61", dt.date(2022, 6, 6), "mirror_site", "suspended", 9_000, 100)
    for _ in range(2):
        async with sessions.begin() as s:
            await ingest(s, [rec])
    async with sessions() as s:
        assert await case_stats.current(s) == {
            ("total", "2022-06", "KZ-61", ""): (1, 0, 1, 9_000, 100),
            ("status", "2022-06", "KZ-61", "suspended"): (1, 0, 1, 9_000, 100),
            ("scheme", "2022-06", "KZ-61", "mirror_site"): (1, 0, 1, 9_000, 100),
        }


def _export(path: Path, rng: random.Random, regs: list[str]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for reg in regs:
            r = random_record(rng, reg)
            obj: dict[str, Any] = {"registration_number": reg, "region": r.region_code,
                                   "registered_at": r.registered_at.isoformat(), "status": r.status,
                                   "damage_kzt": r.damage_kzt, "recovered_kzt": r.recovered_kzt}
            if r.scheme is not None:
                obj["scheme"] = r.scheme
            fh.write(json.dumps(obj) + "\n")


async def test_bulk_import_rebuilds_the_rollup(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    rng = random.Random(7)
    periods = [(FIRST, LAST), (dt.date(2022, 1, 1), dt.date(2022, 12, 31)), (dt.date(2022, 2, 14), dt.date(2022, 9, 3)),
               (dt.date(2022, 7, 7), dt.date(2022, 7, 7))]
    async with sessions.begin() as s:  # cases from the ordinary path first: the rebuild must keep them
        await ingest(s, [random_record(rng, f"B{i:04d}") for i in range(0, 300, 7)])
    first = tmp_path / "first.jsonl"
    _export(first, rng, [f"B{i:04d}" for i in range(300)])  # new cases and updates of those already there
    report = await bulk_import(engine, sessions, [first], PEPPER.encode(), hub_threshold=3, workers=1)
    assert report.inserted == 300 - len(range(0, 300, 7)) and report.updated + report.unchanged == len(range(0, 300, 7))
    assert await check(sessions, periods, "KZ-23") > 0
    second = tmp_path / "second.jsonl"
    _export(second, rng, [f"B{i:04d}" for i in range(150, 450)])  # into a non-empty database
    report = await bulk_import(engine, sessions, [second], PEPPER.encode(), hub_threshold=3, workers=1)
    assert report.inserted == 150 and report.updated == 150
    await check(sessions, periods, "KZ-71")
    async with sessions() as s:
        for dimension in ("total", "status", "scheme"):
            assert (await s.execute(text("SELECT SUM(cases) FROM case_stats WHERE dimension = :d"),
                                    {"d": dimension})).scalar() == 450
    await engine.dispose()


async def _insert_cases_as_0005_did(url: str, n: int) -> None:
    """Cases written straight into a database at revision 0005, which had no rollup."""
    rng = random.Random(11)
    engine = make_engine(url)
    async with make_sessionmaker(engine).begin() as s:
        for i in range(n):
            r = random_record(rng, f"M{i:04d}")
            await s.execute(text(
                "INSERT INTO cases (registration_number, region_code, registered_at, scheme, status, damage_kzt, "
                "recovered_kzt, content_hash, created_at, updated_at) VALUES (:reg, :region, :day, :scheme, :status, "
                ":damage, :recovered, 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").bindparams(
                    reg=r.registration_number, region=r.region_code, day=r.registered_at, scheme=r.scheme,
                    status=r.status, damage=r.damage_kzt, recovered=r.recovered_kzt))
    await engine.dispose()


def test_migration_backfills_the_rollup_from_existing_cases(blank_url: str) -> None:
    cfg = alembic_config(blank_url)
    command.upgrade(cfg, "0005")
    asyncio.run(_load_directory(blank_url))
    asyncio.run(_insert_cases_as_0005_did(blank_url, 400))
    command.upgrade(cfg, "0006")

    async def verify() -> None:
        engine = make_engine(blank_url)
        sessions = make_sessionmaker(engine)
        async with sessions() as s:
            rollup = await case_stats.current(s)
        assert sum(v[0] for k, v in rollup.items() if k[0] == "scheme") == 400
        assert any(k[0] == "scheme" and k[3] == "unknown" for k in rollup)  # cases without a scheme
        await check(sessions, [(FIRST, LAST), (dt.date(2022, 4, 9), dt.date(2022, 10, 20))], "KZ-61")
        async with sessions.begin() as s:  # and the ordinary path carries on from the backfill
            await ingest(s, [random_record(random.Random(3), f"M{i:04d}") for i in range(0, 400, 9)])
        await check(sessions, [(FIRST, LAST), (dt.date(2022, 4, 9), dt.date(2022, 10, 20))], "KZ-61")
        await engine.dispose()

    asyncio.run(verify())
    command.downgrade(cfg, "0005")  # and back: the table goes, the cases stay
    command.upgrade(cfg, "0006")
    asyncio.run(verify())
