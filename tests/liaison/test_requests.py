"""Creating and sending requests: required sanction, validation, routing, fan-out, versions, record."""

from __future__ import annotations

import hashlib
import json

from hq.demo_data import WORKED_EXAMPLE
from tests.liaison.conftest import (
    INCOMING_ONE, KASPI_CARD, RECORD, SANCTION, SEND, SIGNER, STAFF_ONE, TURKISTAN,
)

HALYK_CARD = WORKED_EXAMPLE["holders"][5]["card"]  # a Halyk card of the worked example


def _error(body: dict) -> dict:
    assert "errors" in body, body
    return body["errors"][0]


async def test_missing_sanction_is_refused_naming_the_field(liaison) -> None:
    # Sending at once without a sanction: refused, nothing created.
    body = await liaison.gql(
        "mutation($input: CreateRequestInput!) { createRequest(input: $input) { id } }", liaison.tokens.analyst,
        {"input": {"kind": "account_holder", "caseRegistrationNumber": TURKISTAN, "send": True,
                   "details": {"identifiers": [{"kind": "card", "value": KASPI_CARD}], "signer": SIGNER}}})
    err = _error(body)
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == "sanction.reference"
    assert "sanction.reference is missing" in err["message"]

    # A draft may lack it, but cannot be sent; the reference alone is not enough either.
    [draft] = await liaison.create(send=False, details={"sanction": {"reference": "PS-1"}})
    assert draft["state"] == "draft"
    err = _error(await liaison.gql(SEND, liaison.tokens.analyst, {"id": draft["id"]}))
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("BAD_USER_INPUT", "sanction.date")
    await liaison.ok("mutation($id: Int!, $d: RequestDetailsInput!) { updateRequestDraft(id: $id, details: $d) { id } }",
                     liaison.tokens.analyst, {"id": draft["id"], "d": {"sanction": SANCTION}})
    sent = (await liaison.ok(SEND, liaison.tokens.analyst, {"id": draft["id"]}))["sendRequest"]
    assert sent["state"] == "sent" and sent["versions"][0]["sha256"]

    # Subscriber identification needs no sanction; a missing signer is named too.
    [ok] = await liaison.create(kind="subscriber_identification", organisation="kcell",
                                details={"identifiers": [{"kind": "phone", "value": "8 701 555 12 34"}]})
    assert ok["state"] == "sent"
    body = await liaison.gql("mutation($input: CreateRequestInput!) { createRequest(input: $input) { id } }",
                             liaison.tokens.analyst,
                             {"input": {"kind": "ip_attribution", "organisation": "kcell", "send": True,
                                        "caseRegistrationNumber": TURKISTAN,
                                        "details": {"identifiers": [{"kind": "ip", "value": "95.56.12.7"}]}}})
    assert _error(body)["extensions"]["field"] == "signer.name"


async def test_identifiers_and_addressees_are_validated(liaison) -> None:
    q = "mutation($input: CreateRequestInput!) { createRequest(input: $input) { id } }"
    base = {"kind": "account_holder", "caseRegistrationNumber": TURKISTAN}
    cases = [
        ({**base, "details": {"identifiers": [{"kind": "card", "value": "5179 0121 1331 1211"}]}},
         "identifiers[0].value", "Luhn"),
        ({**base, "details": {"identifiers": [{"kind": "phone", "value": "+7 701 555 12 34"}]}},
         "identifiers[0].kind", "asks about card"),
        ({**base, "organisation": "kcell", "details": {"identifiers": [{"kind": "card", "value": KASPI_CARD}]}},
         "organisation", "mobile_operator"),
        ({**base, "organisation": "nope", "details": {"identifiers": [{"kind": "card", "value": KASPI_CARD}]}},
         "organisation", "unknown organisation"),
        ({**base, "caseRegistrationNumber": "000", "details": {"identifiers": [{"kind": "card", "value": KASPI_CARD}]}},
         "caseRegistrationNumber", "no case"),
        ({**base, "kind": "call_billing", "organisation": "kcell", "allBanks": False,
          "details": {"identifiers": [{"kind": "phone", "value": "+7 701 555 12 34"}], "urgent": True}},
         "urgent", "hold_funds"),
    ]
    for input, field, words in cases:
        err = _error(await liaison.gql(q, liaison.tokens.analyst, {"input": input}))
        assert err["extensions"]["field"] == field, (input, err)
        assert words in err["message"], err


async def test_regional_officer_requests_only_for_own_region(liaison) -> None:
    t = liaison.tokens
    [own] = await liaison.create(t.officer_turkistan)
    assert own["senderUnit"] == "kz-61-k"
    body = await liaison.gql("mutation($input: CreateRequestInput!) { createRequest(input: $input) { id } }",
                             t.officer_atyrau, {"input": {"kind": "account_holder", "caseRegistrationNumber": TURKISTAN,
                                                          "details": {"identifiers": [{"kind": "card", "value": KASPI_CARD}]}}})
    assert "no case" in _error(body)["message"]
    # Another region's officer cannot read it, and cannot tell it exists.
    err = _error(await liaison.gql(STAFF_ONE, t.officer_atyrau, {"id": own["id"]}))
    assert err["extensions"]["code"] == "NOT_FOUND"
    assert (await liaison.ok(STAFF_ONE, t.prosecutor, {"id": own["id"]}))["liaisonRequest"]["id"] == own["id"]
    err = _error(await liaison.gql(SEND, t.prosecutor, {"id": own["id"]}))
    assert err["extensions"]["code"] == "FORBIDDEN"


async def test_fan_out_to_all_banks_one_request_each(liaison) -> None:
    reqs = await liaison.create(allBanks=True, organisation=None)
    orgs = sorted(r["organisation"]["id"] for r in reqs)
    banks = sorted(o.id for o in liaison.services.directory.organisations_of_kind("bank"))
    assert orgs == banks and len({r["batchId"] for r in reqs}) == 1
    halyk = (await liaison.ok("query { incomingRequests { id organisation { id } } }",
                              liaison.tokens.liaison_halyk))["incomingRequests"]
    assert [r["organisation"]["id"] for r in halyk] == ["halyk"]
    # Only account_holder fans out.
    err = _error(await liaison.gql("mutation($input: CreateRequestInput!) { createRequest(input: $input) { id } }",
                                   liaison.tokens.analyst,
                                   {"input": {"kind": "hold_funds", "allBanks": True, "caseRegistrationNumber": TURKISTAN,
                                              "details": {"identifiers": [{"kind": "card", "value": KASPI_CARD}]}}}))
    assert err["extensions"]["field"] == "allBanks"


async def test_sent_requests_are_immutable_amendments_are_new_versions(liaison) -> None:
    t = liaison.tokens
    [req] = await liaison.create(details={"question": "holder and movements since May 2022"})
    v1 = req["versions"][0]["sha256"]
    err = _error(await liaison.gql("mutation($id: Int!, $d: RequestDetailsInput!) { updateRequestDraft(id: $id, details: $d) { id } }",
                                   t.analyst, {"id": req["id"], "d": {"question": "changed"}}))
    assert err["extensions"]["code"] == "CONFLICT"
    amend = ("mutation($id: Int!, $d: RequestDetailsInput!, $r: String!) { amendRequest(id: $id, details: $d, reason: $r)"
             " { version versions { version sha256 amendmentReason } history { action } } }")
    out = (await liaison.ok(amend, t.analyst, {"id": req["id"], "d": {"periodFrom": "2022-05-01", "periodTo": "2022-08-31"},
                                               "r": "movements period added"}))["amendRequest"]
    assert out["version"] == 2
    assert out["versions"][0]["sha256"] == v1  # the first version is untouched
    assert out["versions"][1]["amendmentReason"] == "movements period added"
    assert [h["action"] for h in out["history"]] == ["created", "sent", "amended"]
    seen = (await liaison.ok(INCOMING_ONE, t.liaison_kaspi, {"id": req["id"]}))["incomingRequest"]
    assert seen["version"] == 2 and seen["identifiers"][0]["value"] == KASPI_CARD


async def test_request_record_is_one_json_document_with_checkable_hashes(liaison) -> None:
    t = liaison.tokens
    [req] = await liaison.create()
    await liaison.answer(t.liaison_kaspi, req["id"], {"holders": [{"name": "X"}],
                                                      "files": [{"sha256": "ab" * 32, "name": "statement.pdf"}]}, True)

    def canonical_sha(obj: dict) -> str:
        raw = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return hashlib.sha256(raw).hexdigest()

    for token, has_case in ((t.analyst, True), (t.liaison_kaspi, False)):
        doc = (await liaison.ok(RECORD, token, {"id": req["id"]}))["requestRecord"]
        assert doc["format"] == "hq.liaison.request-record/1"
        for v in doc["versions"]:
            assert canonical_sha(v["content"]) == v["sha256"]
        for a in doc["answers"]:
            assert canonical_sha(a["content"]) == a["sha256"]
        body = {k: doc[k] for k in ("request", "versions", "answers", "history")}
        assert canonical_sha(body) == doc["record_sha256"]
        assert doc["answers"][0]["content"]["files"][0]["sha256"] == "ab" * 32
        assert ("case_registration_number" in doc["request"]) is has_case
        text = json.dumps(doc)
        assert KASPI_CARD not in text  # the full card number never leaves the request's secret column
        assert (TURKISTAN in text) is has_case


async def test_request_for_a_multi_episode_case_lands_on_the_episode_that_names_the_card(liaison) -> None:
    t = liaison.tokens
    [req] = await liaison.create()
    mec = req["multiEpisodeCaseId"]
    assert mec is not None
    [by_mec] = await liaison.create(caseRegistrationNumber=None, multiEpisodeCaseId=mec)
    # The earliest episode mentioning the Kaspi card: North Kazakhstan (2 June 2022).
    assert by_mec["caseRegistrationNumber"] == "221559020000384" and by_mec["multiEpisodeCaseId"] == mec
    # A regional officer's request lands on an episode of their own region.
    [own] = await liaison.create(t.officer_turkistan, caseRegistrationNumber=None, multiEpisodeCaseId=mec)
    assert own["caseRegistrationNumber"] == TURKISTAN
    body = await liaison.gql("mutation($input: CreateRequestInput!) { createRequest(input: $input) { id } }",
                             t.officer_atyrau,
                             {"input": {"kind": "account_holder", "multiEpisodeCaseId": 999_999,
                                        "details": {"identifiers": [{"kind": "card", "value": KASPI_CARD}]}}})
    assert _error(body)["extensions"]["field"] == "multiEpisodeCaseId"
