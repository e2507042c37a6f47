"""Answers: validated like imports, saved in parts that lose nothing, completed later."""

from __future__ import annotations

from sqlalchemy import select

from hq.demo_data import LIAISON_SCENARIO
from hq.models import Case, Identifier, Mention
from tests.liaison.conftest import INCOMING_ONE, TURKISTAN

OUT_IBAN = "KZ86125KZT5004100100"
IN_CARD = "4042438609878024"


async def _suspect_keys(sessions) -> set[tuple[str, str, str]]:
    async with sessions() as s:
        rows = await s.execute(
            select(Identifier.kind, Identifier.key, Mention.note).join(Mention, Mention.identifier_id == Identifier.id)
            .join(Case, Case.id == Mention.case_id)
            .where(Case.registration_number == TURKISTAN, Mention.role == "suspect"))
        return {(k, key, note or "") for k, key, note in rows}


async def test_partial_answer_completed_later_and_a_bad_save_loses_nothing(liaison, sessions) -> None:
    t = liaison.tokens
    [req] = await liaison.create()
    holder = {"name": LIAISON_SCENARIO["holder_name"], "iin": LIAISON_SCENARIO["holder_iin"],
              "phone": "8 705 111 22 33", "accounts": [{"kind": "iban", "value": "KZ66 7220 0001 2345 6789"}]}
    first = await liaison.answer(t.liaison_kaspi, req["id"], {"holders": [holder]}, False)
    assert "errors" not in first, first
    part1 = first["data"]["answerRequest"]
    assert (part1["state"], part1["answerComplete"], len(part1["answers"])) == ("received", False, 1)

    # A bad second save: clear error, field path, nothing of the first part lost.
    bad = {"movements": [{"at": "2022-05-20T10:00:00+00:00", "direction": "out", "amountKzt": 5_000_000,
                          "counterparty": {"kind": "iban", "value": "KZ86125KZT5004100101"}}]}
    err = (await liaison.answer(t.liaison_kaspi, req["id"], bad, True))["errors"][0]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["field"] == "answer.movements[0].counterparty.value"
    now = (await liaison.ok(INCOMING_ONE, t.liaison_kaspi, {"id": req["id"]}))["incomingRequest"]
    assert now["answers"] == part1["answers"] and now["state"] == "received"

    for field, answer in [
        ("answer.holders[0].iin", {"holders": [{"iin": "030702590893"}]}),  # check digit
        ("answer.calls", {"calls": [{"at": "2022-05-20T10:00:00Z", "direction": "in", "otherPhone": "87011234567"}]}),
        ("answer.movements[0].direction", {"movements": [{"at": "2022-05-20T10:00:00Z", "direction": "sideways",
                                                          "amountKzt": 1}]}),
        ("answer.files[0].sha256", {"files": [{"sha256": "not-a-digest"}]}),
    ]:
        err = (await liaison.answer(t.liaison_kaspi, req["id"], answer, False))["errors"][0]
        assert err["extensions"]["field"] == field, err

    # Completion later: the statement, with one outgoing and one incoming transfer.
    rest = {"movements": [
        {"at": "2022-05-20T10:00:00+00:00", "direction": "in", "amountKzt": 5_827_000,
         "counterparty": {"kind": "card", "value": IN_CARD}, "counterpartyName": "victim"},
        {"at": "2022-05-20T11:00:00+00:00", "direction": "out", "amountKzt": 5_800_000,
         "counterparty": {"kind": "iban", "value": OUT_IBAN}}],
        "files": [{"sha256": "CD" * 32, "name": "statement.pdf", "sizeBytes": 120_000}]}
    done = (await liaison.answer(t.liaison_kaspi, req["id"], rest, True))["data"]["answerRequest"]
    assert (done["state"], done["answerComplete"], [a["seq"] for a in done["answers"]]) == ("answered", True, [1, 2])
    assert done["answers"][0] == part1["answers"][0]
    assert done["answers"][1]["movements"][0]["counterparty"] == {"kind": "card", "value": "4042 43** **** 8024"}
    assert done["answers"][1]["files"] == [{"sha256": "cd" * 32}]

    keys = await _suspect_keys(sessions)
    note = f"from Kaspi Bank answer to request {req['id']}"
    assert ("iin", LIAISON_SCENARIO["holder_iin"], note) in keys
    assert ("phone", "+77051112233", note) in keys
    assert ("iban", OUT_IBAN, note) in keys  # where the money went on: suspect side
    assert not any(k == "card" and n == note for k, _, n in keys)  # the incoming payer (a victim) is not
    # A supplement after completion is kept as a further part; the state stays answered.
    extra = (await liaison.answer(t.liaison_kaspi, req["id"], {"text": "second statement follows by courier"},
                                  False))["data"]["answerRequest"]
    assert extra["state"] == "answered" and len(extra["answers"]) == 3


async def test_refusal_and_no_data(liaison) -> None:
    t = liaison.tokens
    [a] = await liaison.create()
    refuse = "mutation($id: Int!, $r: String!) { refuseRequest(id: $id, reason: $r) { state refusalReason } }"
    out = (await liaison.ok(refuse, t.liaison_kaspi, {"id": a["id"], "r": "sanction reference does not match"}))
    assert out["refuseRequest"] == {"state": "refused", "refusalReason": "sanction reference does not match"}
    err = (await liaison.answer(t.liaison_kaspi, a["id"], {"noData": True}, True))["errors"][0]
    assert err["extensions"]["code"] == "CONFLICT"
    [b] = [r for r in await liaison.create(allBanks=True) if r["organisation"]["id"] == "halyk"]
    out = (await liaison.answer(t.liaison_halyk, b["id"], {"noData": True}, True))["data"]["answerRequest"]
    assert out["state"] == "answered" and out["answers"][0]["noData"] is True
    err = (await liaison.answer(t.liaison_halyk, b["id"], {}, True))["errors"][0]
    assert err["extensions"]["field"] == "answer"


async def test_reads_of_answers_and_full_card_numbers_are_audited(liaison, sessions) -> None:
    from hq.audit.models import AuditEntry

    t = liaison.tokens
    [req] = await liaison.create()
    await liaison.ok(INCOMING_ONE, t.liaison_kaspi, {"id": req["id"]})
    await liaison.answer(t.liaison_kaspi, req["id"], {"holders": [{"name": "X"}]}, True)
    await liaison.ok("query($id: Int!) { liaisonRequest(id: $id) { id } }", t.analyst, {"id": req["id"]})
    async with sessions() as s:
        reads = [(e.org_id, e.role, e.fields, e.objects) for e in (await s.execute(
            select(AuditEntry).where(AuditEntry.kind == "read").order_by(AuditEntry.seq))).scalars()]
    ref = [["liaison_request", str(req["id"])]]
    assert ("kaspi", "liaison", ["identifiers.card_number"], ref) in reads
    assert ("kaspi", "liaison", ["answers", "identifiers.card_number"], ref) in reads
    assert (None, "hq_analyst", ["answers"], ref) in reads
