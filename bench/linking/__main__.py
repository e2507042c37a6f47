"""Linking benchmark: a synthetic national dataset through the bulk path.

    python -m bench.linking [--cases 1000000] [--backends sqlite,postgres]

Steps, each timed: validate+normalise (parse_case, 2 worker processes), persist (DBAPI
bulk inserts / COPY), link (hq.linking.bulk.full_relink), and the component step alone
(hq.linking.bulk.compute) next to scipy's connected_components on the same edges, the
floor to compare with. Then incremental linking of single new cases (p50/p99).
Prints the machine it ran on. Generation of the synthetic data is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import multiprocessing as mp
import os
import platform
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

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


def _parse_chunk(lines: list[str]) -> list[tuple]:
    from hq.case_record import FieldError, parse_case
    from regions import load_directory

    d = load_directory()
    out = []
    for line in lines:
        try:
            r = parse_case(json.loads(line), d, pepper=PEPPER)
        except FieldError:
            continue
        out.append((
            r.registration_number, r.region_code, r.unit_id, r.unit_name, r.registered_at.isoformat(), r.article,
            r.scheme, r.status, r.damage_kzt, r.recovered_kzt, r.content_hash(),
            None if r.victim is None else (r.victim.name, r.victim.phone, r.victim.iin),
            [(m.identifier.kind, m.identifier.key, m.identifier.display, m.identifier.strength.value, m.role, m.note)
             for m in r.mentions],
        ))
    return out


def parse_all(lines: list[str], workers: int = 2) -> list[tuple]:
    size = 5000
    chunks = [lines[i:i + size] for i in range(0, len(lines), size)]
    with mp.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_parse_chunk, chunks, chunksize=1)
    return [r for part in parts for r in part]


def rows_for_db(parsed: list[tuple]) -> tuple[list, list, list, list]:
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    idents: dict[tuple[str, str], int] = {}
    ident_rows, cases, victims, mentions = [], [], [], []
    for cid, r in enumerate(parsed, start=1):
        cases.append((cid, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], now, now))
        if r[11] is not None:
            victims.append((cid, cid, *r[11]))
        seen = set()
        for kind, key, disp, strength, role, note in r[12]:
            iid = idents.get((kind, key))
            if iid is None:
                iid = len(idents) + 1
                idents[(kind, key)] = iid
                ident_rows.append((iid, kind, key, disp, strength, False, None))
            if (iid, role) in seen:
                continue
            seen.add((iid, role))
            mentions.append((len(mentions) + 1, cid, iid, role, note))
    return ident_rows, cases, victims, mentions


CASE_COLS = ("id, registration_number, region_code, unit_id, unit_name, registered_at, article, scheme, status, "
             "damage_kzt, recovered_kzt, content_hash, created_at, updated_at")


def persist_sqlite(path: str, ident_rows, cases, victims, mentions) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-1000000")
    with con:
        con.executemany("INSERT INTO identifiers (id, kind, key, display, strength, excluded, excluded_reason) "
                        "VALUES (?,?,?,?,?,?,?)", ident_rows)
        con.executemany(f"INSERT INTO cases ({CASE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", cases)
        con.executemany("INSERT INTO victims (id, case_id, name, phone, iin) VALUES (?,?,?,?,?)", victims)
        con.executemany("INSERT INTO mentions (id, case_id, identifier_id, role, note) VALUES (?,?,?,?,?)", mentions)
    con.close()


async def persist_postgres(url: str, ident_rows, cases, victims, mentions) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("identifiers", records=ident_rows,
                                             columns=["id", "kind", "key", "display", "strength", "excluded", "excluded_reason"])
            recs = [(c[0], c[1], c[2], c[3], c[4], dt.date.fromisoformat(c[5]), c[6], c[7], c[8], c[9], c[10], c[11],
                     dt.datetime.fromisoformat(c[12]), dt.datetime.fromisoformat(c[13])) for c in cases]
            await conn.copy_records_to_table("cases", records=recs, columns=[c.strip() for c in CASE_COLS.split(",")])
            await conn.copy_records_to_table("victims", records=victims, columns=["id", "case_id", "name", "phone", "iin"])
            await conn.copy_records_to_table("mentions", records=mentions,
                                             columns=["id", "case_id", "identifier_id", "role", "note"])
            for table in ("identifiers", "cases", "victims", "mentions"):
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    finally:
        await conn.close()


def component_floor(ident_rows, mentions, n_cases: int) -> tuple[float, float]:
    """Our component step alone vs scipy's connected_components on the same edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from hq.linking.bulk import compute

    strength = np.array([0] + [1 if r[4] == "strong" else 2 if r[4] == "phone" else 0 for r in ident_rows], dtype=np.int8)
    m = np.array([(c, i) for _, c, i, role, _ in mentions if role == "suspect"], dtype=np.int64)
    m = m[strength[m[:, 1]] > 0]
    case_idx = m[:, 0] - 1
    ident = m[:, 1]
    is_phone = strength[ident] == 2
    _, node = np.unique(ident, return_inverse=True)
    t = time.perf_counter()
    compute(np.arange(1, n_cases + 1), case_idx, node.astype(np.int64), ident, is_phone, 3)
    ours = time.perf_counter() - t
    n_nodes = int(node.max()) + 1
    g = coo_matrix((np.ones(len(case_idx)), (case_idx, node + n_cases)), shape=(n_cases + n_nodes,) * 2)
    t = time.perf_counter()
    connected_components(g, directed=False)
    floor = time.perf_counter() - t
    return ours, floor


async def link_and_incremental(url: str, n_incremental: int, sample: list[str]) -> tuple[float, list[float], int]:
    from hq.case_record import parse_case
    from hq.db import make_engine, make_sessionmaker
    from hq.ingest import ingest
    from hq.linking.bulk import full_relink
    from regions import load_directory

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    t = time.perf_counter()
    async with sessions.begin() as s:
        changed = await full_relink(s, 3)
    link_s = time.perf_counter() - t
    d = load_directory()
    lat = []
    for i, line in enumerate(sample[:n_incremental]):
        obj = json.loads(line)
        obj["registration_number"] = f"9{i:014d}"
        rec = parse_case(obj, d, pepper=PEPPER)
        t = time.perf_counter()
        async with sessions.begin() as s:
            await ingest(s, [rec])
        lat.append(time.perf_counter() - t)
    await engine.dispose()
    return link_s, lat, len(changed)


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


def run_backend(backend: str, lines: list[str], args: argparse.Namespace) -> None:
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="hq-bench-")
        path = os.path.join(folder, "bench.db")
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = asyncio.run(_pg_fresh(args.postgres_url, "hq_bench_linking"))
    migrate(url)
    gc.collect()
    t0 = time.perf_counter()
    parsed = parse_all(lines)
    t1 = time.perf_counter()
    ident_rows, cases, victims, mentions = rows_for_db(parsed)
    del parsed
    if backend == "sqlite":
        persist_sqlite(path, ident_rows, cases, victims, mentions)
    else:
        asyncio.run(persist_postgres(url, ident_rows, cases, victims, mentions))
    t2 = time.perf_counter()
    ours, floor = component_floor(ident_rows, mentions, len(cases))
    link_s, lat, n_mecs = asyncio.run(link_and_incremental(url, args.incremental, lines[-args.incremental:]))
    total = (t2 - t0) + link_s
    n, nm = len(cases), len(mentions)
    lat_ms = np.array(lat) * 1000
    print(f"\n[{backend}] {n:,} cases, {nm:,} mentions, {len(ident_rows):,} identifiers -> {n_mecs:,} multi-episode cases")
    print(f"  validate+normalise {t1 - t0:7.1f} s   persist {t2 - t1:7.1f} s   link {link_s:7.1f} s")
    print(f"  end to end {total:7.1f} s = {n / total:,.0f} cases/s, {nm / total:,.0f} mentions/s")
    print(f"  component step alone {ours:.2f} s; scipy connected_components on the same edges {floor:.2f} s "
          f"(ratio {ours / floor if floor else float('nan'):.1f}x)")
    if len(lat_ms):
        print(f"  incremental linking of one new case: p50 {np.percentile(lat_ms, 50):.1f} ms, "
              f"p99 {np.percentile(lat_ms, 99):.1f} ms over {len(lat_ms)} cases")
    print(f"  peak memory {peak_mb():,.0f} MB (max of this process and its workers)")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.linking")
    p.add_argument("--cases", type=int, default=1_000_000)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--incremental", type=int, default=200)
    p.add_argument("--postgres-url", default=os.environ.get("HQ_TEST_POSTGRES_URL",
                                                            "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))
    args = p.parse_args()
    from bench.datagen import generate_national

    print(f"machine: {machine()}")
    t = time.perf_counter()
    gc.disable()
    lines = [json.dumps(o) for o in generate_national(args.cases)]
    gc.enable()
    print(f"generated {len(lines):,} synthetic cases in {time.perf_counter() - t:.1f} s (not counted)")
    for backend in args.backends.split(","):
        run_backend(backend.strip(), lines, args)


if __name__ == "__main__":
    main()
