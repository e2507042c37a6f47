"""A liaison sees only requests addressed to its organisation, through every query and
mutation, and a forged id is NOT_FOUND exactly like an id that does not exist.
(Subscriptions are tried against a live server in test_live.py.)"""

from __future__ import annotations

import json

from hq.demo_data import WORKED_EXAMPLE
from tests.liaison.conftest import INCOMING, KASPI_CARD, RECORD, REQUEST_FIELDS, STAFF_FIELDS, TURKISTAN

HALYK_CARD = WORKED_EXAMPLE["holders"][5]["card"]
ID_OPS = {
    "incomingRequest": "query($id: Int!) { incomingRequest(id: $id) { id } }",
    "requestRecord": RECORD,
    "openRequest": "mutation($id: Int!) { openRequest(id: $id) { id } }",
    "answerRequest": "mutation($id: Int!) { answerRequest(id: $id, answer: {noData: true}, complete: true) { id } }",
    "refuseRequest": "mutation($id: Int!) { refuseRequest(id: $id, reason: \"no\") { id } }",
    "sendRequest": "mutation($id: Int!) { sendRequest(id: $id) { id } }",
    "updateRequestDraft": "mutation($id: Int!) { updateRequestDraft(id: $id, details: {question: \"x\"}) { id } }",
    "amendRequest": "mutation($id: Int!) { amendRequest(id: $id, details: {question: \"x\"}, reason: \"r\") { id } }",
}
STAFF_ONLY = {
    "liaisonRequest": "query($id: Int!) { liaisonRequest(id: $id) { id } }",
    "liaisonRequests": "query { liaisonRequests { id } }",
    "overdueRequests": "query { overdueRequests { id } }",
    "liaisonFigures": "query { liaisonFigures { organisation } }",
    "createRequest": "mutation { createRequest(input: {kind: \"account_holder\", caseRegistrationNumber: \"%s\", "
                     "details: {identifiers: [{kind: \"card\", value: \"%s\"}]}}) { id } }" % (TURKISTAN, KASPI_CARD),
}


def _code(body: dict) -> tuple[str, str]:
    assert "errors" in body, body
    err = body["errors"][0]
    return err["extensions"]["code"], err["message"]


async def test_liaison_reads_only_its_own_organisations_requests(liaison) -> None:
    t = liaison.tokens
    [kaspi] = await liaison.create()
    [halyk] = await liaison.create(details={"identifiers": [{"kind": "card", "value": HALYK_CARD}]})
    [draft] = await liaison.create(send=False)
    fan = await liaison.create(allBanks=True)
    assert halyk["organisation"]["id"] == "halyk" and draft["organisation"]["id"] == "kaspi"
    kaspi_fan = next(r for r in fan if r["organisation"]["id"] == "kaspi")

    listed = (await liaison.ok(INCOMING, t.liaison_kaspi))["incomingRequests"]
    assert sorted(r["id"] for r in listed) == sorted([kaspi["id"], kaspi_fan["id"]])  # no draft, no Halyk
    text = json.dumps(listed)
    for secret in (TURKISTAN, HALYK_CARD, "halyk", "Halyk", kaspi_fan["batchId"], "D. S.",
                   *WORKED_EXAMPLE["registration_numbers"]):
        assert secret not in text, secret
    assert KASPI_CARD in text  # what it must answer, in full

    # The liaison type has no case, batch or multi-episode fields at all.
    for field in ("caseRegistrationNumber", "batchId", "multiEpisodeCaseId"):
        body = await liaison.gql("query { incomingRequests { %s } }" % field, t.liaison_kaspi)
        assert "Cannot query field" in body["errors"][0]["message"]

    # Forged ids: another organisation's request, our own draft and a missing id all read the same.
    for name, op in ID_OPS.items():
        answers = []
        for rid in (halyk["id"], draft["id"], 999_999):
            code, message = _code(await liaison.gql(op, t.liaison_kaspi, {"id": rid}))
            answers.append((code, message.replace(str(rid), "N")))
        assert answers == [("NOT_FOUND", "no request N")] * 3, (name, answers)

    # Police-only operations are refused by role, without looking at any request.
    for name, op in STAFF_ONLY.items():
        code, _ = _code(await liaison.gql(op, t.liaison_kaspi, {"id": kaspi["id"]} if "$id" in op else None))
        assert code == "FORBIDDEN", name
    # Cases stay invisible to liaisons.
    data = await liaison.ok("query { cases(first: 5) { totalCount edges { node { registrationNumber } } } }",
                            t.liaison_kaspi)
    assert data["cases"]["totalCount"] == 0
    # The Halyk request is untouched by all of the above.
    seen = (await liaison.ok("query($id: Int!) { incomingRequest(id: $id) { %s } }" % REQUEST_FIELDS,
                             t.liaison_halyk, {"id": halyk["id"]}))["incomingRequest"]
    assert seen["state"] == "sent" and [h["action"] for h in seen["history"]] == ["created", "sent"]
    assert seen["identifiers"] == [{"kind": "card", "value": HALYK_CARD}]
    # Police see the card masked, never in full.
    staff = (await liaison.ok("query($id: Int!) { liaisonRequest(id: $id) { %s } }" % STAFF_FIELDS, t.analyst,
                              {"id": halyk["id"]}))["liaisonRequest"]
    assert HALYK_CARD not in json.dumps(staff) and staff["caseRegistrationNumber"] == TURKISTAN
