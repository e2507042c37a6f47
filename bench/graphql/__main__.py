"""Console benchmark: N synthetic cases on PostgreSQL, measured through a real `hq serve`.

    python -m bench.graphql --cases 1000000
    python -m bench.graphql --cases 100000 --only statistics   # one scenario

Needs wrk (`apt-get install wrk`; `make bench-graphql` installs it).

Loads the national synthetic dataset (bench.datagen) plus one 200-episode ring through the
bulk path (hq.bulk_import, then ANALYZE), starts `hq serve`, and
measures p50/p99 latency and throughput over HTTP at 1 and 32 concurrent clients of:
identifier hit, identifier no-hit, a 200-episode multi-episode case page, and statistics
by region for one year. First comes the floor, measured in the same run: `{ __typename }`
with the same token through the same server and client, which is what any query costs
before it touches the data. Prints the figures and the machine (client and server share it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.linking.__main__ import PEPPER, _pg_fresh, machine, migrate

BIG_RING = 200
HIT = """query($k: String!, $v: String!) { identifier(kind: $k, value: $v) { known caseCount hub excluded
  regions { count region { code } contact { id } } multiEpisodeCases { id size } } }"""
PAGE = """query($id: Int!) { multiEpisodeCase(id: $id) { id size regionCount victims damageKzt status
  regions { count region { code } } tyingIdentifiers { kind value caseCount }
  qualificationHints { hints { code part } }
  episodes(first: 200) { totalCount edges { node { registrationNumber regionCode registeredAt status damageKzt } } } } }"""
STATS = """query($f: Date!, $t: Date!) { statistics(period: {from: $f, to: $t}, groupBy: REGION) {
  rows { key registered solved suspended damageKzt recoveredKzt } total { registered } } }"""

FLOOR = "{ __typename }"  # authenticated, through the same server and client, no data work

SCENARIOS = ("floor", "hit", "no-hit", "mec", "statistics")  # names for --only, in the order they run


def big_ring() -> list[dict[str, Any]]:
    regions = ["KZ-61", "KZ-23", "KZ-33", "KZ-59", "KZ-71", "KZ-75", "KZ-79", "KZ-55"]
    return [{"registration_number": f"24{9999900000000 + i:013d}", "region": regions[i % len(regions)],
             "registered_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", "scheme": "fake_investment",
             "status": "suspended", "damage_kzt": 150_000 + i,
             "identifiers": [{"kind": "telegram", "value": "@bench_big_ring"}]} for i in range(BIG_RING)]


def luhn_card(prefix: str, rng: random.Random) -> str:
    from hq.identifiers import make_card

    return make_card(prefix, rng)


async def load(url: str, n: int, reuse: bool = False) -> list[tuple[str, str]]:
    """Load the dataset through the bulk path (hq.bulk_import); return (kind, value) samples
    of suspect-side identifiers for the hit queries. With `reuse` the database already holds
    this dataset (the generator is seeded): only the samples are drawn again."""
    from sqlalchemy import text

    from bench.datagen import write_jsonl
    from hq.bulk_import import bulk_import
    from hq.db import make_engine, make_sessionmaker

    folder = Path(tempfile.mkdtemp(prefix="hq-bench-graphql-"))
    path = folder / "national.jsonl"
    write_jsonl(path, n)
    with path.open("a", encoding="utf-8") as fh:
        for obj in big_ring():
            fh.write(json.dumps(obj) + "\n")
    rng = random.Random(1)
    samples: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if rng.random() < 5000 / (n + BIG_RING):
                for m in json.loads(line).get("identifiers", []):
                    if m.get("role", "suspect") == "suspect" and m["kind"] in ("card", "phone", "telegram", "iban"):
                        samples.append((m["kind"], m["value"]))
    if reuse:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"reusing the {n + BIG_RING:,} cases already loaded (--reuse)")
        return samples
    t = time.perf_counter()
    engine = make_engine(url)
    report = await bulk_import(engine, make_sessionmaker(engine), [path], PEPPER, hub_threshold=3, workers=2)
    async with engine.connect() as conn:  # fresh planner statistics after the bulk load
        await conn.execute(text("ANALYZE"))
    await engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    print(f"loaded and linked {n + BIG_RING:,} cases in {time.perf_counter() - t:.1f} s ({report.summary()})")
    return samples


async def analyst_token(url: str) -> tuple[str, int]:
    from sqlalchemy import select

    from hq.auth import create_principal
    from hq.db import make_engine, make_sessionmaker
    from hq.models import Case, CaseLink

    engine = make_engine(url)
    async with make_sessionmaker(engine).begin() as s:
        _, token = await create_principal(s, name="bench analyst", role="hq_analyst", pepper=PEPPER)
        mec = (await s.execute(select(CaseLink.mec_id).join(Case, Case.id == CaseLink.case_id)
                               .where(Case.registration_number == big_ring()[0]["registration_number"]))).scalar_one()
    await engine.dispose()
    return token, int(mec)


WRK_SCRIPT = Path(__file__).with_name("load.lua")
DISTINCT_BODIES = 2000


async def measure(base: str, token: str, name: str, make: Callable[[int], dict[str, Any]], clients: int,
                  seconds: float) -> str:
    """p50/p99 and throughput of `clients` closed-loop connections for `seconds`, driven by wrk.

    The load generator is wrk (C): an asyncio Python client costs more CPU per request than
    the server does here (httpx measured 4.9 ms a request at 32 connections against the
    server's 2.5 ms), and on a 2-core machine that CPU is taken from the server.
    """
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        for i in range(3):  # warm-up, and a check that the query answers cleanly
            r = await http.post("/graphql", json=make(i))
            data = r.json()
            if r.status_code != 200 or "errors" in data:
                raise RuntimeError(f"{name}: {r.status_code} {str(data)[:300]}")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for i in range(DISTINCT_BODIES):
            fh.write(json.dumps(make(i)) + "\n")
        bodies = fh.name
    try:
        proc = await asyncio.create_subprocess_exec(
            "wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(WRK_SCRIPT), base,
            "--", bodies, token, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
    finally:
        os.unlink(bodies)
    result = [line for line in out.decode().splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not result:
        raise RuntimeError(f"{name}: wrk failed: {err.decode()[-500:]}")
    n, duration_us, p50_us, p99_us, bad, socket_errors = (int(v) for v in result[0].split()[1:])
    if bad or socket_errors:
        raise RuntimeError(f"{name}: {bad} responses were errors, {socket_errors} socket errors")
    return (f"  {name:<34} clients {clients:>2}: p50 {p50_us / 1000:7.1f} ms  p99 {p99_us / 1000:7.1f} ms"
            f"  {n / (duration_us / 1e6):8.1f} req/s  ({n} requests)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else list(SCENARIOS)
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (or `make bench-graphql`, which does)")
    if args.reuse:
        url = args.postgres_url.rsplit("/", 1)[0] + f"/{args.database}"
    else:
        url = await _pg_fresh(args.postgres_url, args.database)
        await asyncio.to_thread(migrate, url)
    samples = await load(url, args.cases, reuse=args.reuse)
    token, mec = await analyst_token(url)
    port = free_port()
    env = {**os.environ, "HQ_DATABASE_URL": url, "HQ_TOKEN_PEPPER": PEPPER.decode(), "HQ_LOG_LEVEL": "WARNING",
           "HQ_MAX_PAGE_SIZE": "200", "HQ_RATE_LIMIT_REQUESTS": "100000000"}
    server = subprocess.Popen([sys.executable, "-m", "hq.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as c:
            for _ in range(300):
                try:
                    if (await c.get(base + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        rng = random.Random(2)
        misses = [luhn_card("999999", rng) for _ in range(1000)]
        scenarios: list[tuple[str, str, Callable[[int], dict[str, Any]]]] = [
            ("floor", "floor: { __typename }", lambda i: {"query": FLOOR}),
            ("hit", "identifier hit",
             lambda i: {"query": HIT, "variables": dict(zip(("k", "v"), samples[i % len(samples)]))}),
            ("no-hit", "identifier no-hit",
             lambda i: {"query": HIT, "variables": {"k": "card", "v": misses[i % len(misses)]}}),
            ("mec", f"multi-episode case, {BIG_RING} episodes",
             lambda i: {"query": PAGE, "variables": {"id": mec}}),
            ("statistics", "statistics by region, one year",
             lambda i: {"query": STATS, "variables": {"f": "2024-01-01", "t": "2024-12-31"}}),
        ]
        print(f"\nGraphQL over HTTP, {args.cases + BIG_RING:,} cases on PostgreSQL (one uvicorn process; "
              f"wrk on the same machine)")
        for key, name, make in scenarios:
            if key not in only:
                continue
            for clients in (1, 32):
                print(await measure(base, token, name, make, clients, args.seconds), flush=True)
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.graphql")
    p.add_argument("--cases", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=10, help="seconds of load per scenario and client count")
    p.add_argument("--only", default="", help=f"comma-separated scenarios to run (default all): {', '.join(SCENARIOS)}")
    p.add_argument("--database", default="hq_bench_graphql", help="name of the (re-created) benchmark database")
    p.add_argument("--reuse", action="store_true",
                   help="measure the database an earlier run with the same --cases loaded, without reloading it")
    p.add_argument("--postgres-url", default=os.environ.get("HQ_TEST_POSTGRES_URL",
                                                            "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
