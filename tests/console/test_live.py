"""multiEpisodeCaseUpdated over graphql-transport-ws against a real `hq serve`: a watched
case gains an episode, and a new case above the threshold appears, both pushed live."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import Any

import httpx
import websockets

from hq.db import make_engine, make_sessionmaker
from tests.conftest import PEPPER, make_tokens
from tests.foundation.test_cli import HQ, _free_port

SUB = """subscription($w: [Int!]) { multiEpisodeCaseUpdated(watch: $w, minSize: 3) {
  reason multiEpisodeCase { id size regionCount } } }"""
REGISTER = """mutation($i: CaseInput!) { registerCase(input: $i) { registrationNumber } }"""


def case_input(reg: str, region: str, *idents: tuple[str, str]) -> dict[str, Any]:
    return {"registrationNumber": reg, "region": region, "registeredAt": "2026-03-01", "damageKzt": 50000,
            "identifiers": [{"kind": k, "value": v} for k, v in idents]}


async def _next(ws: Any) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if msg["type"] == "next":
            return msg["payload"]
        assert msg["type"] not in ("error", "complete"), msg


async def test_watch_a_case_grow_and_a_new_case_appear(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    tokens = await make_tokens(make_sessionmaker(engine))
    await engine.dispose()
    port = _free_port()
    proc = subprocess.Popen(HQ + ["serve", "--port", str(port)],
                            env={**os.environ, "HQ_DATABASE_URL": sqlite_url, "HQ_TOKEN_PEPPER": PEPPER},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {tokens.analyst}"}) as http:
            for _ in range(100):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)

            async def register(reg: str, region: str, *idents: tuple[str, str]) -> None:
                r = await http.post("/graphql", json={"query": REGISTER, "variables": {"i": case_input(reg, region, *idents)}})
                assert "errors" not in r.json(), r.json()

            await register("L1", "KZ-61", ("telegram", "@live_gang"))
            await register("L2", "KZ-23", ("telegram", "@live_gang"))
            r = await http.post("/graphql", json={"query": '{ identifier(kind: "telegram", value: "@live_gang") '
                                                           '{ multiEpisodeCases { id } } }'})
            watched = r.json()["data"]["identifier"]["multiEpisodeCases"][0]["id"]
            async with websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {"token": tokens.analyst}}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                          "payload": {"query": SUB, "variables": {"w": [watched]}}}))
                await asyncio.sleep(0.3)
                await register("L3", "KZ-71", ("telegram", "@live_gang"))
                got = (await _next(ws))["data"]["multiEpisodeCaseUpdated"]
                assert got == {"reason": "EPISODE_JOINED", "multiEpisodeCase": {"id": watched, "size": 3, "regionCount": 3}}
                # a small new case is not reported; one of three episodes is
                await register("N1", "KZ-55", ("card", "4042438609878024"))
                await register("N2", "KZ-55", ("card", "4042438609878024"))
                await register("N3", "KZ-10", ("card", "4042438609878024"))
                got = (await _next(ws))["data"]["multiEpisodeCaseUpdated"]
                assert got["reason"] == "NEW_CASE" and got["multiEpisodeCase"]["size"] == 3
    finally:
        proc.terminate()
        proc.wait(10)
