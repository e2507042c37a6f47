"""`hq agent`: the demo scenario end to end, and detection of a silent server."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import websockets

from hq.agent import Agent
from tests.tasking.conftest import REPO, seed, subprocess_env, wait_until


def new_tasks(path: Path) -> list[int]:
    return [int(m) for m in re.findall(r"NEW TASK #(\d+)", path.read_text())] if path.exists() else []


def start_agent(db_url: str, base: str, token: str, tmp: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hq.cli", "agent", "--url", base, "--token", token, "--unit", "kz-23-k",
         "--state-file", str(tmp / "state.json"), "--jsonl", str(tmp / "events.jsonl")],
        cwd=REPO, env=subprocess_env(db_url), stdout=out.open("ab"), stderr=subprocess.DEVNULL)


async def test_demo_agent_prints_acknowledges_and_resumes(pg_url, servers, tmp_path) -> None:
    tokens = await seed(pg_url)
    srv = await servers(pg_url)
    out = tmp_path / "agent.out"
    agent = start_agent(pg_url, srv.http, tokens.officer_atyrau, tmp_path, out)
    try:
        first = (await srv.issue(tokens.analyst, ["kz-23-k"], text="Bring in the holder of card 4042…"))[0]
        await wait_until(lambda: new_tasks(out) == [first["id"]], 20, "the agent to print the task")

        async def delivered() -> bool:
            t = (await srv.ok("query($id:Int!){task(id:$id){state}}", tokens.analyst, {"id": first["id"]}))["task"]
            return t["state"] == "delivered"

        await wait_until(delivered, 10, "the analyst to see 'delivered'")
        await wait_until(lambda: json.loads((tmp_path / "state.json").read_text())["pending_acks"] == [], 10,
                         "the acknowledgement to be confirmed")
        agent.send_signal(signal.SIGTERM)
        agent.wait(10)

        three = [(await srv.issue(tokens.analyst, ["kz-23-k"], text=f"while the agent was off {n}"))[0]["id"]
                 for n in range(3)]
        agent = start_agent(pg_url, srv.http, tokens.officer_atyrau, tmp_path, out)
        await wait_until(lambda: new_tasks(out) == [first["id"], *three], 20, "exactly those three")
        text = out.read_text()
        assert "priority NORMAL" in text and "find and bring in a person" in text
    finally:
        agent.terminate()
        agent.wait(10)
    assert new_tasks(out) == [first["id"], *three]


async def test_agent_reconnects_when_the_server_goes_silent(tmp_path) -> None:
    connections = 0

    async def silent(ws) -> None:  # acknowledges, then never says anything again
        nonlocal connections
        connections += 1
        await ws.recv()
        await ws.send(json.dumps({"type": "connection_ack"}))
        await ws.wait_closed()

    async with websockets.serve(silent, "127.0.0.1", 0, subprotocols=["graphql-transport-ws"]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        agent = Agent(f"http://127.0.0.1:{port}", "hq_x", "kz-23-k", tmp_path / "s.json", silence=0.3,
                      max_backoff=0.2)
        stop = asyncio.Event()
        run = asyncio.create_task(agent.run(stop))
        await wait_until(lambda: connections >= 3, 10, "the agent to reconnect to a silent server")
        stop.set()
        assert await asyncio.wait_for(run, 5) == 0
