"""Delivery against real PostgreSQL, real Redis and real websockets.

- two app instances sharing Redis and PostgreSQL: issued on A, received on B;
- a client offline while 100 tasks are issued gets all 100 on reconnect, in order, once;
- a server killed mid-stream: `hq agent` resumes from its cursor on the restarted server;
- Redis stopped and started: issuing still works, /readyz says so, replay on reconnect
  delivers, and live push resumes by itself.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import httpx

from tests.tasking.conftest import (
    REPO,
    free_port,
    seed,
    start_subprocess_server,
    subprocess_env,
    wait_http,
    wait_until,
)


async def readyz(base: str) -> tuple[int, dict]:
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.get(base + "/readyz")
    return r.status_code, r.json()


async def test_two_instances_share_redis_and_postgres(pg_url, shared_redis, redis_prefix, servers, clients) -> None:
    tokens = await seed(pg_url)
    opts = dict(redis_url=shared_redis, redis_prefix=redis_prefix, feed_poll_interval=0)
    a = await servers(pg_url, **opts)
    b = await servers(pg_url, **opts)
    for s in (a, b):
        code, body = await readyz(s.http)
        assert code == 200 and body["checks"]["broker"] == "ok" and body["status"] == "ready", body
    on_b = await clients(b.ws, tokens.officer_atyrau)
    await on_b.subscribe("kz-23-k", 0)
    issued = await a.issue(tokens.analyst, ["kz-23-k", "kz-61-k"], text="two regions at once")
    events = await on_b.wait_events(1)
    assert events[0]["task"]["id"] == issued[0]["id"] and events[0]["task"]["targetUnit"] == "kz-23-k"
    # the other unit's task never reaches this unit's feed
    more = await a.issue(tokens.analyst, ["kz-23-k"], text="second")
    events = await on_b.wait_events(2)
    assert [e["task"]["id"] for e in events] == [issued[0]["id"], more[0]["id"]]


async def test_offline_client_gets_all_100_in_order_exactly_once(pg_url, servers, clients) -> None:
    tokens = await seed(pg_url)
    srv = await servers(pg_url)
    c = await clients(srv.ws, tokens.officer_atyrau)
    await c.subscribe("kz-23-k", 0)
    first = await srv.issue(tokens.analyst, ["kz-23-k"], text="before going offline")
    await c.wait_events(1)
    cursor = c.ids[-1]
    await c.close()

    issued = []
    for n in range(100):
        issued.append((await srv.issue(tokens.analyst, ["kz-23-k"], text=f"offline task {n}"))[0]["id"])

    back = await clients(srv.ws, tokens.officer_atyrau)
    await back.subscribe("kz-23-k", cursor)
    await back.wait_events(100, timeout=20)
    assert back.task_ids == issued  # all, in order
    assert back.ids == sorted(set(back.ids)) and back.ids[0] > cursor  # once each, after the cursor
    assert first[0]["id"] not in back.task_ids
    after = await srv.issue(tokens.analyst, ["kz-23-k"], text="live again")
    await back.wait_events(101)
    assert back.task_ids[100] == after[0]["id"]
    await asyncio.sleep(0.2)  # nothing else trails in (no duplicate at the seam)
    assert len(back.events) == 101


async def test_agent_resumes_from_its_cursor_after_the_server_is_killed(pg_url, tmp_path) -> None:
    tokens = await seed(pg_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_subprocess_server(pg_url, port, HQ_WS_HEARTBEAT_INTERVAL="1", HQ_WS_HEARTBEAT_TIMEOUT="1")
    jsonl = tmp_path / "events.jsonl"
    state = tmp_path / "state.json"
    agent = subprocess.Popen(
        [sys.executable, "-m", "hq.cli", "agent", "--url", base, "--token", tokens.officer_atyrau,
         "--unit", "kz-23-k", "--state-file", str(state), "--jsonl", str(jsonl), "--silence", "5"],
        cwd=REPO, env=subprocess_env(pg_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    query = """mutation($input: IssueTaskInput!) { issueTask(input: $input) { id } }"""

    async def issue(n: int) -> None:
        body = {"query": query, "variables": {"input": {
            "kind": "interview", "targetUnits": ["kz-23-k"], "text": f"task {n}",
            "caseRegistrationNumber": "221561030000457"}}}
        async with httpx.AsyncClient(timeout=5) as c:
            r = await c.post(base + "/graphql", json=body, headers={"Authorization": f"Bearer {tokens.analyst}"})
            assert r.status_code == 200 and "errors" not in r.json(), r.text

    def received() -> list[dict]:
        if not jsonl.exists():
            return []
        return [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]

    try:
        await wait_http(base)
        for n in range(15):
            await issue(n)
        await wait_until(lambda: len(received()) >= 5, 15, "the agent to print some tasks")
        server.send_signal(signal.SIGKILL)  # mid-stream: no goodbye to anyone
        server.wait(10)
        server = start_subprocess_server(pg_url, port, HQ_WS_HEARTBEAT_INTERVAL="1", HQ_WS_HEARTBEAT_TIMEOUT="1")
        await wait_http(base)
        for n in range(15, 30):
            await issue(n)
        async with httpx.AsyncClient(timeout=5) as c:
            r = await c.post(base + "/graphql", headers={"Authorization": f"Bearer {tokens.analyst}"},
                             json={"query": '{ tasks(unit: "kz-23-k", first: 100) { id } }'})
        in_db = sorted(t["id"] for t in r.json()["data"]["tasks"])
        assert len(in_db) == 30

        def issued_events() -> list[int]:
            return [e["task"]["id"] for e in received() if e["kind"] == "task_issued"]

        await wait_until(lambda: sorted(issued_events()) == in_db, 30, "the agent to catch up")
        ids = [e["id"] for e in received()]
        assert ids == sorted(set(ids)), "events repeated or out of order across the restart"
        assert issued_events() == in_db
        # and it acknowledged every one of them
        async with httpx.AsyncClient(timeout=5) as c:
            async def all_delivered() -> bool:
                r = await c.post(base + "/graphql", headers={"Authorization": f"Bearer {tokens.analyst}"},
                                 json={"query": '{ tasks(unit: "kz-23-k", first: 100) { state } }'})
                return all(t["state"] == "delivered" for t in r.json()["data"]["tasks"])

            await wait_until(all_delivered, 15, "every task to be acknowledged")
        await wait_until(lambda: json.loads(state.read_text())["cursor"] == received()[-1]["id"], 10,
                         "the saved cursor to be the last event handled")
        ids = [e["id"] for e in received()]
        assert ids == sorted(set(ids))
    finally:
        for p in (agent, server):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


async def test_redis_stopped_and_started(pg_url, private_redis, redis_prefix, servers, clients) -> None:
    tokens = await seed(pg_url)
    opts = dict(redis_url=private_redis.url, redis_prefix=redis_prefix, feed_poll_interval=0)
    a = await servers(pg_url, **opts)
    b = await servers(pg_url, **opts)
    live = await clients(b.ws, tokens.officer_atyrau)
    await live.subscribe("kz-23-k", 0)
    t1 = await a.issue(tokens.analyst, ["kz-23-k"], text="with redis")
    await live.wait_events(1)

    private_redis.stop()

    async def down() -> bool:
        code, body = await readyz(a.http)
        return code == 200 and body["status"] == "degraded" and body["checks"]["broker"].startswith("down")

    await wait_until(down, 15, "/readyz to report the broker down")
    code, body = await readyz(a.http)
    assert body["checks"]["database"] == "ok"

    t2 = await a.issue(tokens.analyst, ["kz-23-k"], text="while redis is down")  # still works
    fresh = await clients(b.ws, tokens.officer_atyrau)
    await fresh.subscribe("kz-23-k", live.ids[0])  # a reconnecting client replays it from the DB
    await fresh.wait_events(1)
    assert fresh.task_ids == [t2[0]["id"]]

    private_redis.start()

    async def up() -> bool:
        return all([(await readyz(s.http))[1]["checks"]["broker"] == "ok" for s in (a, b)])

    await wait_until(up, 20, "the brokers to reconnect")
    # the client that stayed connected gets what it missed, then live push resumes
    await live.wait_events(2, timeout=10)
    t3 = await a.issue(tokens.analyst, ["kz-23-k"], text="redis is back")
    await live.wait_events(3, timeout=10)
    assert live.task_ids == [t1[0]["id"], t2[0]["id"], t3[0]["id"]]
