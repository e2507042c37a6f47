"""Who sees what: role scoping, a forged `unit` on the feed, tokens, and heartbeats."""

from __future__ import annotations

import json

import websockets

from tests.tasking.conftest import seed, wait_until

TASKS = "{ tasks(first: 100) { id targetUnit senderUnit } }"


async def test_units_only_see_their_own_tasks(pg_url, servers, clients) -> None:
    tokens = await seed(pg_url)
    srv = await servers(pg_url)
    atyrau = await clients(srv.ws, tokens.officer_atyrau)
    await atyrau.subscribe("kz-23-k", 0)
    turkistan = await clients(srv.ws, tokens.officer_turkistan)
    await turkistan.subscribe("kz-61-k", 0)
    to_turkistan = await srv.issue(tokens.analyst, ["kz-61-k"], text="only for Turkistan")
    to_atyrau = await srv.issue(tokens.analyst, ["kz-23-k"], text="only for Atyrau")
    await atyrau.wait_events(1)
    await turkistan.wait_events(1)
    assert atyrau.task_ids == [to_atyrau[0]["id"]]
    assert turkistan.task_ids == [to_turkistan[0]["id"]]

    # queries: officers see their own unit's tasks; analysts and prosecutors see all
    mine = (await srv.ok(TASKS, tokens.officer_atyrau))["tasks"]
    assert [t["id"] for t in mine] == [to_atyrau[0]["id"]]
    assert len((await srv.ok(TASKS, tokens.analyst))["tasks"]) == 2
    assert len((await srv.ok(TASKS, tokens.prosecutor))["tasks"]) == 2
    body = await srv.gql("query($id:Int!){ task(id:$id){ id } }", tokens.officer_atyrau, {"id": to_turkistan[0]["id"]})
    assert body["data"]["task"] is None

    # an officer cannot act on another unit's task; a prosecutor cannot act at all; liaisons see nothing
    body = await srv.gql("mutation($id:Int!){ acceptTask(id:$id){ id } }", tokens.officer_atyrau,
                         {"id": to_turkistan[0]["id"]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await srv.gql("mutation($id:Int!){ cancelTask(id:$id){ id } }", tokens.prosecutor, {"id": to_atyrau[0]["id"]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await srv.gql("""mutation { issueTask(input: {kind: "interview", targetUnits: ["kz-23-k"], text: "x",
                            caseRegistrationNumber: "221561030000457"}) { id } }""", tokens.prosecutor)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await srv.gql(TASKS, tokens.liaison_kaspi)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_forged_unit_on_the_feed_is_refused(pg_url, servers, clients) -> None:
    tokens = await seed(pg_url)
    srv = await servers(pg_url)
    c = await clients(srv.ws, tokens.officer_atyrau)
    await c.subscribe("kz-61-k", 0)  # not their unit
    await wait_until(lambda: c.errors, 10, "the feed to be refused")
    err = c.errors[0][0]
    assert err["extensions"]["code"] == "FORBIDDEN" and err["extensions"]["field"] == "unit"
    await srv.issue(tokens.analyst, ["kz-61-k"])
    assert c.events == []
    liaison = await clients(srv.ws, tokens.liaison_kaspi)
    await liaison.subscribe("kz-61-k", 0)
    await wait_until(lambda: liaison.errors, 10, "the liaison's feed to be refused")
    assert liaison.errors[0][0]["extensions"]["code"] == "FORBIDDEN"


async def test_websocket_without_token_is_closed_with_4401(sqlite_url, servers) -> None:
    srv = await servers(sqlite_url)
    for payload in ({}, {"token": "hq_not-a-real-token"}):
        async with websockets.connect(srv.ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            try:
                await ws.recv()
            except websockets.ConnectionClosed:
                pass
            await ws.wait_closed()
            assert ws.close_code == 4401


async def test_server_pings_and_closes_clients_that_do_not_pong(sqlite_url, servers, clients) -> None:
    tokens = await seed(sqlite_url)
    srv = await servers(sqlite_url, ws_heartbeat_interval=0.2, ws_heartbeat_timeout=0.3)
    good = await clients(srv.ws, tokens.officer_atyrau)
    await good.subscribe("kz-23-k", 0)
    mute = await clients(srv.ws, tokens.officer_turkistan, answer_pings=False)
    await mute.subscribe("kz-61-k", 0)
    await wait_until(lambda: mute.close_code is not None, 10, "the silent client to be closed")
    assert mute.close_code == 4408 and mute.pings >= 1
    await wait_until(lambda: good.pings >= 3, 10, "more pings")
    assert good.close_code is None
    await srv.issue(tokens.analyst, ["kz-23-k"])
    await good.wait_events(1)
