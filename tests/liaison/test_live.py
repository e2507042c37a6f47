"""Live delivery to liaisons over real websockets (graphql-transport-ws) against a live
uvicorn server: isolation through the subscriptions, and replay after reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from hq.demo_data import WORKED_EXAMPLE
from hq.demo_data import LIAISON_SCENARIO
from tests.conftest import Tokens, make_settings, need_redis
from tests.liaison.conftest import KASPI_CARD, SANCTION, SIGNER, TURKISTAN, import_demo
from tests.tasking.conftest import LiveServer, wait_until

HALYK_CARD = WORKED_EXAMPLE["holders"][5]["card"]
INCOMING_FEED = """subscription($since: Int!) { incomingRequestFeed(since: $since) {
  id kind change requestId request { id state organisation { id } identifiers { kind value } } } }"""
STAFF_FEED = "subscription($since: Int!) { liaisonRequestFeed(since: $since) { id kind requestId } }"
CREATE = "mutation($input: CreateRequestInput!) { createRequest(input: $input) { id organisation { id } } }"


class FeedClient:
    """A graphql-transport-ws client on one subscription; `events` are its `next` payloads."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.events: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self.ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self, query: str, since: int) -> "FeedClient":
        return await self.start_with(query, {"since": since})

    async def start_with(self, query: str, variables: dict[str, Any]) -> "FeedClient":
        self.ws = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {"token": self.token}}))
        assert json.loads(await asyncio.wait_for(self.ws.recv(), 10))["type"] == "connection_ack"
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe",
                                       "payload": {"query": query, "variables": variables}}))
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                elif msg["type"] == "next" and msg["payload"].get("errors"):
                    self.errors.append(msg["payload"]["errors"])
                elif msg["type"] == "next":
                    self.events.append(next(iter(msg["payload"]["data"].values())))
                elif msg["type"] == "error":
                    self.errors.append(msg["payload"])

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5)


@pytest.fixture
async def live(db_url: str, sessions: Any, tokens: Tokens) -> AsyncIterator[tuple[LiveServer, Tokens]]:
    await import_demo(sessions)
    server = LiveServer(make_settings(db_url, ws_heartbeat_interval=0, liaison_sweep_interval=0,
                                      escalation_interval=0, feed_poll_interval=1.0))
    await server.start()
    yield server, tokens
    await server.stop()


@pytest.fixture
async def feeds() -> AsyncIterator[Any]:
    opened: list[FeedClient] = []

    async def open_feed(url: str, token: str, query: str = INCOMING_FEED, since: int = 0,
                        variables: dict[str, Any] | None = None) -> FeedClient:
        c = FeedClient(url, token)
        opened.append(c)
        return await c.start_with(query, variables if variables is not None else {"since": since})

    yield open_feed
    for c in opened:
        await c.stop()


async def _send(server: LiveServer, token: str, card: str) -> dict[str, Any]:
    data = await server.ok(CREATE, token, {"input": {
        "kind": "account_holder", "caseRegistrationNumber": TURKISTAN, "send": True,
        "details": {"identifiers": [{"kind": "card", "value": card}], "signer": SIGNER, "sanction": SANCTION}}})
    return data["createRequest"][0]  # type: ignore[no-any-return]


async def test_liaison_receives_only_its_requests_live_and_replays_after_reconnect(live, feeds) -> None:
    server, t = live
    kaspi = await feeds(server.ws, t.liaison_kaspi)
    halyk = await feeds(server.ws, t.liaison_halyk)
    first = await _send(server, t.analyst, KASPI_CARD)
    other = await _send(server, t.analyst, HALYK_CARD)
    await wait_until(lambda: kaspi.events and halyk.events, 10, "live delivery")
    [ev] = kaspi.events
    assert (ev["kind"], ev["requestId"]) == ("request_sent", first["id"])
    assert ev["request"]["identifiers"] == [{"kind": "card", "value": KASPI_CARD}]  # in full, to the bank
    assert [e["requestId"] for e in halyk.events] == [other["id"]]
    cursor = ev["id"]

    # Disconnect; three more requests (two for Kaspi) while offline.
    await kaspi.stop()
    missed = [await _send(server, t.analyst, KASPI_CARD), await _send(server, t.analyst, HALYK_CARD),
              await _send(server, t.analyst, KASPI_CARD)]
    again = await feeds(server.ws, t.liaison_kaspi, since=cursor)
    await wait_until(lambda: len(again.events) >= 2, 10, "replay")
    live_one = await _send(server, t.analyst, KASPI_CARD)
    await wait_until(lambda: len(again.events) >= 3, 10, "live after replay")
    await asyncio.sleep(0.3)  # nothing more arrives: no duplicate at the seam
    assert [e["requestId"] for e in again.events] == [missed[0]["id"], missed[2]["id"], live_one["id"]]
    ids = [e["id"] for e in again.events]
    assert ids == sorted(ids) and ids[0] > cursor
    assert all(e["request"]["organisation"]["id"] == "kaspi" for e in again.events)
    assert not again.errors and not halyk.errors


async def test_feeds_are_chosen_by_the_token_not_by_the_client(live, feeds) -> None:
    server, t = live
    # A liaison cannot open the police feed, police cannot open a liaison feed.
    police_feed = await feeds(server.ws, t.liaison_kaspi, query=STAFF_FEED)
    bank_feed = await feeds(server.ws, t.analyst, query=INCOMING_FEED)
    await wait_until(lambda: police_feed.errors and bank_feed.errors, 10, "refusals")
    assert police_feed.errors[0][0]["extensions"]["code"] == "FORBIDDEN"
    assert bank_feed.errors[0][0]["extensions"]["code"] == "FORBIDDEN"
    # The task feed does not lead to liaison events either.
    task_feed = await feeds(server.ws, t.liaison_kaspi,
                            query='subscription($since: Int!) { taskFeed(unit: "liaison:org:kaspi", since: $since) { id } }')
    await wait_until(lambda: task_feed.errors, 10, "task feed refusal")
    assert task_feed.errors[0][0]["extensions"]["code"] == "FORBIDDEN"
    # HQ's feed carries the sender-side events of what HQ sent.
    hq = await feeds(server.ws, t.analyst, query=STAFF_FEED)
    sent = await _send(server, t.analyst, KASPI_CARD)
    await wait_until(lambda: hq.events, 10, "HQ feed")
    assert hq.events[0]["requestId"] == sent["id"] and hq.events[0]["kind"] == "request_changed"


MEC_FEED = """subscription($watch: [Int!]) { multiEpisodeCaseUpdated(watch: $watch) {
  reason multiEpisodeCase { id size } } }"""
EXPLAIN = """query($a: String!, $b: String!) { explain(caseA: $a, caseB: $b) {
  linked steps { identifierKind identifierValue noteFrom noteTo } } }"""


async def test_done_means_on_the_demo(live, feeds) -> None:
    """Analyst asks Kaspi for the card's holder; Kaspi gets it live and answers; the
    multi-episode case grows live by the Pavlodar case, explained by the answer's IIN;
    an unanswered request shows in the overdue view once past due."""
    server, t = live
    pavlodar = LIAISON_SCENARIO["pavlodar_registration_number"]
    bank = await feeds(server.ws, t.liaison_kaspi)
    data = await server.ok(CREATE, t.analyst, {"input": {
        "kind": "account_holder", "caseRegistrationNumber": TURKISTAN, "send": True,
        "details": {"identifiers": [{"kind": "card", "value": LIAISON_SCENARIO["card"]}], "signer": SIGNER,
                    "sanction": SANCTION, "question": "holder of the card and movements, 18-29 May 2022"}}})
    [req] = data["createRequest"]
    assert req["organisation"]["id"] == "kaspi"  # the right bank, from the card's BIN
    mec = (await server.ok("query($id: Int!) { liaisonRequest(id: $id) { multiEpisodeCaseId } }", t.analyst,
                           {"id": req["id"]}))["liaisonRequest"]["multiEpisodeCaseId"]
    watcher = await feeds(server.ws, t.analyst, query=MEC_FEED, variables={"watch": [mec]})
    await wait_until(lambda: bank.events, 10, "the request to reach the bank")
    assert bank.events[0]["request"]["identifiers"][0]["value"] == LIAISON_SCENARIO["card_number"]

    await server.ok("mutation($id: Int!) { openRequest(id: $id) { state } }", t.liaison_kaspi, {"id": req["id"]})
    await server.ok("""mutation($id: Int!, $a: AnswerInput!) { answerRequest(id: $id, answer: $a, complete: true)
                       { state } }""", t.liaison_kaspi,
                    {"id": req["id"], "a": {"holders": [{"name": LIAISON_SCENARIO["holder_name"],
                                                         "iin": LIAISON_SCENARIO["holder_iin"]}]}})
    await wait_until(lambda: watcher.events, 10, "the analyst to see the case grow")
    update = watcher.events[0]
    assert update["reason"] == "EPISODE_JOINED" and update["multiEpisodeCase"]["id"] == mec
    chain = (await server.ok(EXPLAIN, t.analyst, {"a": TURKISTAN, "b": pavlodar}))["explain"]
    assert chain["linked"] and chain["steps"][0]["identifierKind"] == "iin"
    assert chain["steps"][0]["noteFrom"] == f"from Kaspi Bank answer to request {req['id']}"

    # A request left unanswered past its due time shows in the overdue view.
    other = await _send(server, t.analyst, KASPI_CARD)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3, minutes=1)
    server.services.extras["clock"] = lambda: later
    overdue = (await server.ok("query { overdueRequests { id organisation { id } overdue } }", t.analyst))
    assert [r["id"] for r in overdue["overdueRequests"]] == [other["id"]]


async def test_liaison_feed_across_two_instances_through_redis(db_url, sessions, tokens, feeds) -> None:
    redis_url = need_redis()
    await import_demo(sessions)
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    servers = [LiveServer(make_settings(db_url, redis_url=redis_url, redis_prefix=prefix, ws_heartbeat_interval=0,
                                        liaison_sweep_interval=0, escalation_interval=0, feed_poll_interval=0))
               for _ in range(2)]
    for s in servers:
        await s.start()
    try:
        bank = await feeds(servers[1].ws, tokens.liaison_kaspi)
        sent = await _send(servers[0], tokens.analyst, KASPI_CARD)
        await wait_until(lambda: bank.events, 10, "delivery through Redis")
        assert bank.events[0]["requestId"] == sent["id"]
    finally:
        for s in servers:
            await s.stop()
