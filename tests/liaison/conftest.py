"""Liaison fixtures: the demo dataset imported, the real app with a controllable clock.

`liaison` is the real ASGI app over httpx (like `api`), plus the app's services so a test
can move the clock and run the overdue sweep; the background sweep is off so only the
test decides when time passes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq.demo_data import LIAISON_SCENARIO, WORKED_EXAMPLE, generate
from hq.importer import import_lines
from hq.settings import Settings
from regions import load_directory
from tests.conftest import PEPPER, Api, Tokens, make_settings

_LINES = [json.dumps(c, ensure_ascii=False) for c in generate()]
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)  # a Monday
SANCTION = {"reference": "PS-2026/0412", "date": "2026-03-01", "prosecutor": "Astana city prosecutor"}
SIGNER = {"name": "Capt. A. Nurlanov", "position": "senior investigator, Cyberpol", "role": "investigator"}
TURKISTAN = WORKED_EXAMPLE["turkistan_registration_number"]
KASPI_CARD = LIAISON_SCENARIO["card_number"]

REQUEST_FIELDS = """id kind state organisation { id name } senderUnit identifiers { kind value } version
  versions { version sha256 sealedAt amendmentReason } dueAt sentAt receivedAt answeredAt overdue escalatedAt
  answerComplete holdExpiresAt holdExpired refusalReason
  answers { seq sha256 complete mentionsAdded holders { name iin phone accounts { kind value } }
            movements { direction amountKzt counterparty { kind value } } files { sha256 } noData content }
  history { action actor details }"""
STAFF_FIELDS = REQUEST_FIELDS + " caseRegistrationNumber batchId multiEpisodeCaseId"
CREATE = "mutation($input: CreateRequestInput!) { createRequest(input: $input) { %s } }" % STAFF_FIELDS
SEND = "mutation($id: Int!) { sendRequest(id: $id) { %s } }" % STAFF_FIELDS
OPEN = "mutation($id: Int!) { openRequest(id: $id) { %s } }" % REQUEST_FIELDS
ANSWER = ("mutation($id: Int!, $answer: AnswerInput!, $complete: Boolean!) { answerRequest(id: $id, answer: $answer,"
          " complete: $complete) { %s } }" % REQUEST_FIELDS)
INCOMING = "query { incomingRequests(openOnly: false) { %s } }" % REQUEST_FIELDS
INCOMING_ONE = "query($id: Int!) { incomingRequest(id: $id) { %s } }" % REQUEST_FIELDS
STAFF_ONE = "query($id: Int!) { liaisonRequest(id: $id) { %s } }" % STAFF_FIELDS
OVERDUE = "query { overdueRequests { id state overdue dueAt escalatedAt organisation { id } } }"
RECORD = "query($id: Int!) { requestRecord(id: $id) }"


class Clock:
    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


class Liaison(Api):
    services: Any
    clock: Clock
    tokens: Tokens

    def __init__(self, client: httpx.AsyncClient, services: Any, clock: Clock, tokens: Tokens) -> None:
        super().__init__(client)
        self.services, self.clock, self.tokens = services, clock, tokens

    async def create(self, token: str | None = None, *, send: bool = True, **input: Any) -> list[dict[str, Any]]:
        input.setdefault("kind", "account_holder")
        if "caseRegistrationNumber" not in input and "multiEpisodeCaseId" not in input:
            input["caseRegistrationNumber"] = TURKISTAN
        details = input.setdefault("details", {})
        details.setdefault("identifiers", [{"kind": "card", "value": KASPI_CARD}])
        details.setdefault("signer", SIGNER)
        if input["kind"] in ("account_holder", "call_billing", "ewallet_logs", "hold_funds"):
            details.setdefault("sanction", SANCTION)
        input["send"] = send
        data = await self.ok(CREATE, token or self.tokens.analyst, {"input": input})
        return data["createRequest"]

    async def answer(self, token: str, request_id: int, answer: dict[str, Any], complete: bool) -> dict[str, Any]:
        return await self.gql(ANSWER, token, {"id": request_id, "answer": answer, "complete": complete})

    async def sweep(self) -> Any:
        return await self.services.extras["liaison_sweeper"].sweep()


async def import_demo(sessions: async_sessionmaker[AsyncSession]) -> None:
    report = await import_lines(sessions, _LINES, "demo", load_directory(), PEPPER.encode())
    assert not report.errors, report.errors[:3]


@pytest.fixture
def liaison_settings(db_url: str) -> Settings:
    return make_settings(db_url, liaison_sweep_interval=0, escalation_interval=0, feed_poll_interval=0.5)


@pytest.fixture
async def liaison(liaison_settings: Settings, sessions: async_sessionmaker[AsyncSession],
                  tokens: Tokens) -> AsyncIterator[Liaison]:
    from hq.app import create_app

    await import_demo(sessions)
    app = create_app(liaison_settings)
    clock = Clock()
    async with app.router.lifespan_context(app):
        services = app.state.services
        services.extras["clock"] = clock
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hq.test") as client:
            yield Liaison(client, services, clock, tokens)
