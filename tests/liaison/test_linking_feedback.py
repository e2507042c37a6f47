"""An answer's identifiers link cases: the Done-means scenario on the demo data.

The Pavlodar case (LIAISON_SCENARIO) names only the IIN of the Kaspi card's holder, so it
is linked to nothing. The analyst asks Kaspi "holder of card X" for the Turkistan case;
Kaspi answers with that holder's IIN; the Pavlodar case joins the worked example's
multi-episode case and `explain` cites the IIN with the answer's note.
"""

from __future__ import annotations

from sqlalchemy import select

from hq.demo_data import LIAISON_SCENARIO, WORKED_EXAMPLE
from hq.linking.explain import explain
from hq.models import Case, CaseLink
from tests.liaison.conftest import KASPI_CARD, OPEN, TURKISTAN

PAVLODAR = LIAISON_SCENARIO["pavlodar_registration_number"]


async def _links(sessions) -> dict[str, int | None]:
    async with sessions() as s:
        rows = await s.execute(select(Case.registration_number, CaseLink.mec_id)
                               .join(CaseLink, CaseLink.case_id == Case.id))
        return {r: m for r, m in rows}


async def _case_id(sessions, reg: str) -> int:
    async with sessions() as s:
        return (await s.execute(select(Case.id).where(Case.registration_number == reg))).scalar_one()


async def test_holder_iin_from_the_answer_joins_another_regions_case(liaison, sessions) -> None:
    before = await _links(sessions)
    mec = before[TURKISTAN]
    assert mec is not None and before.get(PAVLODAR) != mec  # not linked before

    # Routed by the card's BIN: no organisation named, it goes to Kaspi.
    [req] = await liaison.create(kind="account_holder")
    assert req["organisation"]["id"] == "kaspi" and req["state"] == "sent"
    assert req["identifiers"] == [{"kind": "card", "value": "5179 01** **** 1210"}]  # masked for police

    opened = (await liaison.ok(OPEN, liaison.tokens.liaison_kaspi, {"id": req["id"]}))["openRequest"]
    assert opened["state"] == "received"
    assert opened["identifiers"] == [{"kind": "card", "value": KASPI_CARD}]  # in full for the bank

    body = await liaison.answer(liaison.tokens.liaison_kaspi, req["id"], {
        "holders": [{"name": LIAISON_SCENARIO["holder_name"], "iin": LIAISON_SCENARIO["holder_iin"]}],
    }, complete=True)
    assert "errors" not in body, body
    answered = body["data"]["answerRequest"]
    assert answered["state"] == "answered" and answered["answers"][0]["mentionsAdded"] == 1

    after = await _links(sessions)
    assert after[PAVLODAR] == after[TURKISTAN] is not None
    for reg in WORKED_EXAMPLE["registration_numbers"]:
        assert after[reg] == after[TURKISTAN]
    async with sessions() as s:
        chain = await explain(s, await _case_id(sessions, TURKISTAN), await _case_id(sessions, PAVLODAR))
    assert chain is not None and len(chain) == 1
    step = chain[0]
    assert step.identifier_kind == "iin" and step.identifier_display == LIAISON_SCENARIO["holder_iin"]
    assert step.note_from == f"from Kaspi Bank answer to request {req['id']}"
