"""Push latency of live tasking, from the issuing mutation's commit to the client's receipt.

    .venv/bin/python -m bench.realtime [--clients 1000] [--redis-clients 5000] [--pg URL] [--redis URL]

Scenario 1: one `hq serve` process with the embedded (in-process) broker, N regional
clients spread over the 113 regional units (about N/113 per unit): targeted tasks (one
unit, all its clients) and broadcasts (one fan-out to every unit, i.e. all N clients).
Scenario 2: two `hq serve` processes sharing PostgreSQL and Redis, M clients split over
both; tasks are issued on the first, so half the clients are reached through Redis.
Servers run as subprocesses; the clients share this process. Commit time comes from the
server's X-HQ-Committed-At header (same machine, same clock). Targets (issue 5):
targeted p99 < 50 ms, broadcast to 1,000 < 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.realtime import setup
from bench.realtime.clients import Client, connect_all

REPO = Path(__file__).resolve().parents[2]
ISSUE = "mutation($i: IssueTaskInput!) { issueTask(input: $i) { id targetUnit } }"


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        mem = f"{mem_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration):
        mem = "RAM unknown"
    return f"{cpu}, {os.cpu_count()} cores, {mem}, Python {platform.python_version()}, {platform.system()}"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"p50 {pct(ms, 50):6.1f} ms  p99 {pct(ms, 99):6.1f} ms  max {max(ms):6.1f} ms  "
            f"(n={len(ms)})")


def start_server(db_url: str, port: int, redis_url: str, prefix: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HQ_DATABASE_URL": db_url, "HQ_TOKEN_PEPPER": setup.PEPPER, "HQ_LOG_LEVEL": "WARNING",
           "HQ_REDIS_URL": redis_url, "HQ_REDIS_PREFIX": prefix, "HQ_ESCALATION_INTERVAL": "0",
           "PYTHONPATH": str(REPO),
           # many clients share one regional token here; per-principal limits are not what we measure
           "HQ_WS_MAX_CONNECTIONS": "0", "HQ_RATE_LIMIT_REQUESTS": "0"}
    return subprocess.Popen([sys.executable, "-m", "hq.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_up(base: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as c:
        while time.monotonic() < deadline:
            try:
                if (await c.get(base + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


class Issuer:
    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"})

    async def issue(self, units: list[str]) -> tuple[float, dict[str, int]]:
        r = await self.http.post("/graphql", json={"query": ISSUE, "variables": {"i": {
            "kind": "check_prior_crimes", "targetUnits": units, "text": "benchmark",
            "caseRegistrationNumber": setup.CASE}}})
        body = r.json()
        assert "errors" not in body, body
        return float(r.headers["x-hq-committed-at"]), {t["targetUnit"]: t["id"] for t in body["data"]["issueTask"]}


async def wait_arrivals(clients: list[Client], task_of: dict[str, int], timeout: float = 60) -> list[float]:
    """Arrival times of each client's task (poll; clients record as events come in)."""
    deadline = time.monotonic() + timeout
    while True:
        missing = [c for c in clients if task_of[c.unit] not in c.arrivals]
        if not missing:
            return [c.arrivals[task_of[c.unit]] for c in clients]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(missing)} of {len(clients)} clients did not receive their task")
        await asyncio.sleep(0.002)


async def scenario(title: str, bases: list[str], db: setup.BenchDb, n_clients: int, targeted: int,
                   broadcasts: int) -> dict[str, Any]:
    units = sorted(db.officers)
    clients = [Client(bases[i % len(bases)].replace("http://", "ws://") + "/graphql",
                      db.officers[units[i % len(units)]], units[i % len(units)]) for i in range(n_clients)]
    by_unit: dict[str, list[Client]] = {}
    for c in clients:
        by_unit.setdefault(c.unit, []).append(c)
    issuer = Issuer(bases[0], db.analyst)
    print(f"\n== {title}: {n_clients} clients on {len(bases)} process(es), {len(by_unit)} units ==", flush=True)
    took = await connect_all(clients, since=0)
    print(f"connected in {took:.1f}s", flush=True)
    _, warm = await issuer.issue(list(by_unit))  # every subscription live before measuring
    await wait_arrivals(clients, warm, 120)

    lat_t: list[float] = []
    order = list(by_unit)
    for k in range(targeted):
        unit = order[k % len(order)]
        committed, task_of = await issuer.issue([unit])
        arrivals = await wait_arrivals(by_unit[unit], task_of)
        lat_t += [a - committed for a in arrivals]
    lat_b: list[float] = []
    all_done: list[float] = []
    for _ in range(broadcasts):
        committed, task_of = await issuer.issue(list(by_unit))
        arrivals = await wait_arrivals(clients, task_of)
        lat_b += [a - committed for a in arrivals]
        all_done.append(max(arrivals) - committed)
    print(f"targeted (one unit, ~{n_clients // len(by_unit)} clients each, {targeted} tasks): {fmt(lat_t)}")
    print(f"broadcast (fan-out to {len(by_unit)} units = {n_clients} clients, x{broadcasts}): per client {fmt(lat_b)}")
    print(f"broadcast: last of {n_clients} clients reached after: "
          + ", ".join(f"{v * 1000:.0f}" for v in all_done) + " ms (median "
          + f"{statistics.median(all_done) * 1000:.0f} ms)", flush=True)
    for c in clients:
        await c.close()
    await issuer.http.aclose()
    return {"targeted": lat_t, "broadcast": lat_b, "broadcast_all": all_done}


async def main(args: argparse.Namespace) -> int:
    print("machine:", machine())
    db = await setup.create(args.pg)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if args.clients:
            port = free_port()
            procs.append(start_server(db.url, port, "", "bench"))
            base = f"http://127.0.0.1:{port}"
            await wait_up(base)
            await scenario("one process, embedded broker", [base], db, args.clients, args.targeted, args.broadcasts)
            procs.pop().terminate()
        if args.redis_clients and args.redis:
            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            bases = []
            for _ in range(2):
                port = free_port()
                procs.append(start_server(db.url, port, args.redis, prefix))
                bases.append(f"http://127.0.0.1:{port}")
            for b in bases:
                await wait_up(b)
            await scenario("two processes through Redis", bases, db, args.redis_clients, args.targeted,
                           args.broadcasts)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        await setup.drop(db)
    return 0


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.realtime", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", default=os.environ.get("HQ_TEST_POSTGRES_URL",
                                                  "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--redis", default=os.environ.get("HQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--clients", type=int, default=1000, help="clients of the one-process run (0 = skip)")
    p.add_argument("--redis-clients", type=int, default=5000, help="clients of the two-process run (0 = skip)")
    p.add_argument("--targeted", type=int, default=200, help="targeted tasks per scenario")
    p.add_argument("--broadcasts", type=int, default=5, help="broadcasts per scenario")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
