"""Linking benchmark: a synthetic national dataset through the bulk path.

    python -m bench.linking [--cases 1000000] [--backends sqlite,postgres]

Steps, each timed: validate+normalise (parse_case, 2 worker processes), persist (DBAPI
bulk inserts / COPY), indexes+rollup (the statistics rollup and the indexes the load dropped,
built after the rows; on a load into an empty database the cases are linked in memory in a
thread meanwhile), link (hq.linking.bulk.full_relink, then the commit and the planner's
statistics), and the component step alone
(hq.linking.bulk.compute). Then incremental linking of single new cases (p50/p99), set up as
the server runs (background WAL checkpoints, frozen start-up objects), after 20 warm-up cases.
Baselines from the same run: scipy's connected_components on the same edges (for the
component step), SQLite's own time to store the same rows (`store_floor`, for persist), a
noise baseline (bench.noise) and a write transaction of twenty bare statements
(`round_trips`) next to the single-case latencies. It also prints the load's CPU time.
Prints the machine it ran on, and a host speed probe before and after each load (validating
5,000 cases in one process alone): the same code runs at very different speeds here from one
hour to the next, and the ratio of the load to the probe compares runs. Generation of the
synthetic data is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.noise import Baseline

PEPPER = b"bench-pepper-0123456789"


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}, {platform.system()}"


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


async def component_floor(url: str) -> tuple[float, float, int]:
    """Our component step alone vs scipy's connected_components on the same edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from sqlalchemy import select

    from hq.db import make_engine, make_sessionmaker
    from hq.linking.bulk import compute
    from hq.models import Case, Identifier, Mention

    engine = make_engine(url)
    async with make_sessionmaker(engine)() as s:
        case_ids = np.fromiter((await s.execute(select(Case.id).order_by(Case.id))).scalars(), dtype=np.int64)
        rows = (await s.execute(select(Mention.case_id, Mention.identifier_id, Identifier.strength)
                                .join(Identifier, Identifier.id == Mention.identifier_id)
                                .where(Mention.role == "suspect", Identifier.strength.in_(("strong", "phone"))))).all()
    await engine.dispose()
    case_idx = np.searchsorted(case_ids, np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
    ident = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    is_phone = np.fromiter((r[2] == "phone" for r in rows), dtype=bool, count=len(rows))
    _, node = np.unique(ident, return_inverse=True)
    node = node.astype(np.int64).reshape(-1)
    n_cases = len(case_ids)
    t = time.perf_counter()
    compute(case_ids, case_idx, node, ident, is_phone, 3)
    ours = time.perf_counter() - t
    n_nodes = int(node.max()) + 1
    g = coo_matrix((np.ones(len(case_idx)), (case_idx, node + n_cases)), shape=(n_cases + n_nodes,) * 2).tocsr()
    t = time.perf_counter()
    connected_components(g, directed=False)
    floor = time.perf_counter() - t
    return ours, floor, len(rows)


STORED_TABLES = ("identifiers", "cases", "victims", "mentions")  # what the bulk path's persist step writes


def store_floor(db_file: str) -> tuple[float, float]:
    """SQLite's own time to store the rows the persist step stored: the same four tables,
    copied with one INSERT … SELECT each into a fresh database of the same tables, settings
    and checks that a load keeps in place (primary keys, the unique keys in the tables'
    definitions, foreign keys), so no Python touches a row. Indexes, which a load into an
    empty database drops and builds afterwards, are not built here either. Returns (inserts,
    commit) in seconds: the floor that the persist step's figure compares with."""
    import sqlite3

    folder = tempfile.mkdtemp(prefix="hq-bench-floor-")
    target = os.path.join(folder, "floor.db")
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "cache_size=-1000000"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("ATTACH DATABASE ? AS src", (db_file,))
        for (ddl,) in conn.execute("SELECT sql FROM src.sqlite_master WHERE type = 'table' AND sql IS NOT NULL "
                                   "AND name NOT LIKE 'sqlite_%' ORDER BY rowid").fetchall():
            conn.execute(ddl)  # tables with their unique keys; indexes are built after a load
        conn.execute("INSERT INTO main.regions SELECT * FROM src.regions")
        conn.execute("INSERT INTO main.units SELECT * FROM src.units")
        conn.execute("BEGIN")
        t = time.perf_counter()
        for table in STORED_TABLES:
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table} ORDER BY id")
        inserts = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("COMMIT")
        return inserts, time.perf_counter() - t
    finally:
        conn.close()
        shutil.rmtree(folder, ignore_errors=True)


async def round_trips(url: str, statements: int = 20, runs: int = 300) -> np.ndarray:
    """Latency (ms) of one write transaction that takes the write lock and runs `statements`
    primary-key reads through the same path as a case write (`Raw`), then commits: what
    that many statements cost here before any linking work. A single new case runs about
    twenty statements."""
    from hq.db import make_engine, make_sessionmaker
    from hq.linking.incremental import lock_writes
    from hq.rawsql import Raw

    engine = make_engine(url, background_checkpoints=True)
    sessions = make_sessionmaker(engine)
    lat = []
    for i in range(runs):
        t = time.perf_counter()
        async with sessions.begin() as s:
            await lock_writes(s)
            raw = await Raw.of(s)
            for j in range(statements - 1):
                await raw.fetch("SELECT id, content_hash FROM cases WHERE id = ?", (1 + (i * statements + j) % 1000,))
        lat.append(time.perf_counter() - t)
    await engine.dispose()
    return np.array(lat[20:]) * 1000  # the first runs fill caches


async def incremental(url: str, sample: list[str], warmup: int = 20) -> tuple[list[float], list[str], Baseline | None]:
    """Latency of linking one new case at a time through the ordinary write path.

    Set up as the server runs (hq.app): SQLite checkpoints in the background and start-up
    objects frozen out of the garbage collector. The first `warmup` cases fill caches and
    are not counted. Also returns, per counted case, which path linked it: "fast" (the
    union of its neighbours'), "flip" (a phone's hub flag flipped: recomputed within the
    old multi-episode cases it touches) or "general" (links out of shape: the general
    path's walks), so the tail can be told apart from the noise.
    """
    import gc

    import hq.linking.addition as addition
    import hq.linking.incremental as linking

    from hq.case_record import parse_case
    from hq.checkpoint import WalCheckpointer
    from hq.db import make_engine, make_sessionmaker
    from hq.ingest import ingest
    from regions import load_directory

    os.sync()  # the bulk load's gigabyte of dirty pages is written back before, not during
    engine = make_engine(url, background_checkpoints=True)
    if url.startswith("postgresql"):
        # The same for PostgreSQL's own buffers, which os.sync does not reach: the load and its
        # vacuum leave much of the database dirty there, and the checkpointer would write it out
        # during the measurement.
        from sqlalchemy import text

        async with engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("CHECKPOINT"))
    checkpointer = WalCheckpointer(engine)
    checkpointer.start()
    sessions = make_sessionmaker(engine)
    d = load_directory()
    lat: list[float] = []
    warm: list[float] = []
    paths: list[str] = []
    baseline: Baseline | None = None
    link_new_case, across_flips = linking.link_new_case, addition._link_across_flips
    flipped: list[bool] = []

    async def counted(*args: Any) -> Any:
        done = await link_new_case(*args)
        paths.append("general" if done is None else "flip" if flipped else "fast")
        flipped.clear()
        return done

    async def flipping(*args: Any) -> Any:
        flipped.append(True)
        return await across_flips(*args)

    linking.link_new_case, addition._link_across_flips = counted, flipping
    try:
        for i, line in enumerate(sample):
            if i == warmup:
                gc.freeze()
                baseline = Baseline(float(np.median(warm)) * 1000)
            obj = json.loads(line)
            obj["registration_number"] = f"9{i:014d}"
            rec = parse_case(obj, d, pepper=PEPPER)
            t = time.perf_counter()
            async with sessions.begin() as s:
                await ingest(s, [rec])
            (lat if baseline is not None else warm).append(time.perf_counter() - t)
            if baseline is not None:
                baseline.tick()
    finally:
        linking.link_new_case, addition._link_across_flips = link_new_case, across_flips
    await checkpointer.stop()
    await engine.dispose()
    return lat, paths[-len(lat):] if lat else [], baseline


async def bulk(url: str, path: Path) -> tuple[dict[str, float], int]:
    from sqlalchemy import func, select

    from hq.bulk_import import bulk_import
    from hq.db import make_engine, make_sessionmaker
    from hq.models import MultiEpisodeCase

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    timings: dict[str, float] = {}
    await bulk_import(engine, sessions, [path], PEPPER, hub_threshold=3, workers=2, timings=timings)
    async with sessions() as s:
        n_mecs = (await s.execute(select(func.count()).select_from(MultiEpisodeCase).where(MultiEpisodeCase.size > 1))).scalar_one()
    await engine.dispose()
    return timings, n_mecs


def migrate(url: str) -> None:
    from alembic import command

    from hq.db import alembic_config, make_engine, make_sessionmaker
    from hq.directory_sync import load_directory_into_db
    from regions import load_directory

    command.upgrade(alembic_config(url), "head")

    async def load() -> None:
        engine = make_engine(url)
        async with make_sessionmaker(engine).begin() as s:
            await load_directory_into_db(s, load_directory())
        await engine.dispose()

    asyncio.run(load())


async def _pg_fresh(base: str, name: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(base.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"


def run_backend(backend: str, path: Path, n: int, lines_tail: list[str], args: argparse.Namespace) -> None:
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="hq-bench-")
        try:
            measure(backend, f"sqlite+aiosqlite:///{os.path.join(folder, 'bench.db')}", path, n, lines_tail, args)
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the database: about a gigabyte per million cases
    else:
        measure(backend, asyncio.run(_pg_fresh(args.postgres_url, "hq_bench_linking")), path, n, lines_tail, args)


def speed_probe(path: Path, lines: int = 5000) -> float:
    """µs a case to validate the dataset's first `lines` lines in one process alone, best of
    three: how fast the host runs our Python at the moment. Nearly the same load took 126 s
    one day and 74 s the next morning here, so runs from different hours compare by this.
    In a child process, so that the caches it fills are not the load's."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        return float(pool.apply(_probe, (str(path), lines)))


def _probe(path: str, lines: int) -> float:
    from hq.bulk_import import _Job, _parse_job

    with open(path, "rb") as fh:
        job = _Job(path, 1, b"".join(fh.readline() for _ in range(lines)), PEPPER)
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        good, _bad = _parse_job(job)
        best = min(best, time.process_time() - t)
    return best / max(1, len(good)) * 1e6


def measure(backend: str, url: str, path: Path, n: int, lines_tail: list[str], args: argparse.Namespace) -> None:
    migrate(url)
    probe_before = speed_probe(path)
    gc.collect()
    t0, c0 = time.perf_counter(), os.times()
    timings, n_mecs = asyncio.run(bulk(url, path))
    total, c1 = time.perf_counter() - t0, os.times()
    cpu_main = c1.user + c1.system - c0.user - c0.system
    cpu_workers = c1.children_user + c1.children_system - c0.children_user - c0.children_system
    floor_store = store_floor(url.split("///", 1)[1]) if backend == "sqlite" else None
    nm = int(timings["mentions"])
    ours, floor, edges = asyncio.run(component_floor(url))
    lat, paths, baseline = asyncio.run(incremental(url, lines_tail))
    trips = asyncio.run(round_trips(url)) if lines_tail else None
    probe_after = speed_probe(path)
    lat_ms = np.array(lat) * 1000
    print(f"\n[{backend}] {n:,} cases, {nm:,} mentions ({edges:,} linking edges) -> {n_mecs:,} multi-episode cases")
    print(f"  validate+normalise {timings['validate_normalise']:6.1f} s   persist {timings['persist']:6.1f} s   "
          f"indexes+rollup {timings['indexes_rollup']:5.1f} s   link {timings['link']:6.1f} s")
    print(f"    link = relink {timings['relink']:.1f} s + commit {timings['commit']:.1f} s "
          f"+ {'vacuum and ' if backend == 'postgres' else ''}planner statistics {timings['vacuum_analyze']:.1f} s")
    print(f"  end to end {total:6.1f} s = {n / total:,.0f} cases/s, {nm / total:,.0f} mentions/s")
    probe = (probe_before + probe_after) / 2
    print(f"  host speed probe (validating 5,000 cases in one process alone): {probe_before:.1f} µs a case before "
          f"the load, {probe_after:.1f} after; end to end = {total / (probe * n / 1e6):.2f}x the time one core "
          f"takes to validate all the cases at that speed (compare runs of different hours by this)")
    print(f"  CPU of HQ's processes (a database server's own is not counted): this process {cpu_main:.1f} s, "
          f"workers {cpu_workers:.1f} s; {(cpu_main + cpu_workers) / total:.2f} of {os.cpu_count()} cores on average")
    if floor_store is not None:
        print(f"  SQLite alone stores the same rows (INSERT ... SELECT, no Python per row) in {floor_store[0]:.1f} s "
              f"+ commit {floor_store[1]:.1f} s; persist took {timings['persist'] / floor_store[0]:.1f}x its inserts")
    print(f"  component step alone {ours:.2f} s; scipy connected_components on the same edges {floor:.2f} s "
          f"(ratio {ours / floor if floor else float('nan'):.1f}x)")
    if len(lat_ms):
        print(f"  incremental linking of one new case: p50 {np.percentile(lat_ms, 50):.1f} ms, "
              f"p99 {np.percentile(lat_ms, 99):.1f} ms over {len(lat_ms)} cases "
              f"(p99/p50 {np.percentile(lat_ms, 99) / np.percentile(lat_ms, 50):.2f})")
        if len(paths) == len(lat_ms):
            kinds = np.array(paths)
            parts = []
            for kind, label in (("fast", "fast path"), ("flip", "a hub flag flips"), ("general", "general path")):
                sel = lat_ms[kinds == kind]
                if len(sel):
                    parts.append(f"{label}, {len(sel)} cases: p50 {np.percentile(sel, 50):.1f} ms, "
                                 f"p99 {np.percentile(sel, 99):.1f} ms, max {sel.max():.1f} ms")
            print("    " + "; ".join(parts))
        if baseline is not None:
            print(f"    {baseline.summary()}")
        if trips is not None:
            print(f"    same-run floor, a write transaction of 20 primary-key statements and nothing else: "
                  f"p50 {np.percentile(trips, 50):.1f} ms, p99 {np.percentile(trips, 99):.1f} ms")
    print(f"  peak memory {peak_mb():,.0f} MB (max of this process and its workers)")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.linking")
    p.add_argument("--cases", type=int, default=1_000_000)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--incremental", type=int, default=1000)  # a p99 needs many more than 100
    p.add_argument("--postgres-url", default=os.environ.get("HQ_TEST_POSTGRES_URL",
                                                            "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))
    args = p.parse_args()
    from bench.datagen import write_jsonl

    print(f"machine: {machine()}")
    folder = Path(tempfile.mkdtemp(prefix="hq-bench-data-"))
    path = folder / "national.jsonl"
    t = time.perf_counter()
    write_jsonl(path, args.cases)
    with path.open() as fh:
        tail = fh.readlines()[-args.incremental:] if args.incremental else []
    print(f"generated {args.cases:,} synthetic cases in {time.perf_counter() - t:.1f} s (not counted)")
    try:
        for backend in args.backends.split(","):
            run_backend(backend.strip(), path, args.cases, tail, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # half a gigabyte per million cases


if __name__ == "__main__":
    main()
