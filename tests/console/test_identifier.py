"""identifier(kind, value): normalisation, and what each role sees."""

from __future__ import annotations

from tests.conftest import Api, Tokens

Q = """query($k: String!, $v: String!) { identifier(kind: $k, value: $v) {
  known caseCount value visibility hub excluded suspectCaseCount
  regions { count region { code } contact { id } } registrationNumbers multiEpisodeCaseCount
  multiEpisodeCases { id size regionCount episodes(first: 50) { totalCount edges { node { registrationNumber regionCode } } }
                      tyingIdentifiers { kind value } } } }"""


def spaced(card: str) -> str:
    return " ".join(card[i:i + 4] for i in range(0, len(card), 4))


async def test_worked_example_found_from_any_card_typed_with_spaces(api: Api, tokens: Tokens, demo) -> None:
    for card in demo["card_numbers"]:
        hit = (await api.ok(Q, tokens.analyst, {"k": "card", "v": spaced(card)}))["identifier"]
        assert hit["known"] and hit["visibility"] == "full"
        assert hit["value"].startswith(card[:4]) and "*" in hit["value"]
        [mec] = hit["multiEpisodeCases"]
        regs = {e["node"]["registrationNumber"] for e in mec["episodes"]["edges"]}
        assert regs == set(demo["registration_numbers"])
        assert demo["turkistan_registration_number"] in hit["registrationNumbers"]


async def test_phone_spellings_and_no_hit(api: Api, tokens: Tokens, demo) -> None:
    await api.ok("""mutation { registerCase(input: {registrationNumber: "261571010000001", region: "KZ-71",
        registeredAt: "2026-01-05", identifiers: [{kind: "phone", value: "+77011234567"}]}) { registrationNumber } }""",
                 tokens.analyst)
    for spelling in ("8 701 123 45 67", "+7 (701) 123-45-67", "77011234567", "701 123 4567"):
        hit = (await api.ok(Q, tokens.analyst, {"k": "phone", "v": spelling}))["identifier"]
        assert hit["known"] and hit["caseCount"] == 1 and hit["value"].replace(" ", "").endswith("7011234567"), hit
    miss = (await api.ok(Q, tokens.analyst, {"k": "phone", "v": "8 701 000 00 01"}))["identifier"]
    assert not miss["known"] and miss["caseCount"] == 0 and miss["multiEpisodeCases"] == []


async def test_invalid_values_name_the_field(api: Api, tokens: Tokens, demo) -> None:
    body = await api.gql(Q, tokens.analyst, {"k": "card", "v": "1234 5678"})
    err = body["errors"][0]
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == "value"
    body = await api.gql(Q, tokens.analyst, {"k": "fax", "v": "1"})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "kind"}


async def test_regional_officer_sees_counts_and_contacts_not_other_regions_cases(api: Api, tokens: Tokens, demo) -> None:
    hit = (await api.ok(Q, tokens.officer_atyrau, {"k": "telegram", "v": demo["telegram_username"]}))["identifier"]
    assert hit["visibility"] == "own_region" and hit["known"]
    regions = {r["region"]["code"]: r for r in hit["regions"]}
    assert {"KZ-23", "KZ-33", "KZ-61", "KZ-71"} <= set(regions)
    assert regions["KZ-71"]["contact"]["id"] == "kz-71-dp"
    # only Atyrau registration numbers, in the list and in the multi-episode case's episodes
    assert hit["registrationNumbers"] and all(r[4:6] == "23" for r in hit["registrationNumbers"])
    [mec] = hit["multiEpisodeCases"]
    assert {e["node"]["regionCode"] for e in mec["episodes"]["edges"]} == {"KZ-23"}
    assert mec["size"] == len(demo["registration_numbers"])
    # Turkistan's officer sees the Turkistan case but not Atyrau's
    hit2 = (await api.ok(Q, tokens.officer_turkistan, {"k": "telegram", "v": demo["telegram_username"]}))["identifier"]
    assert all(r[4:6] == "61" for r in hit2["registrationNumbers"])


async def test_liaison_gets_known_and_count_only(api: Api, tokens: Tokens, demo) -> None:
    hit = (await api.ok(Q, tokens.liaison_kaspi, {"k": "card", "v": demo["card_numbers"][2]}))["identifier"]
    assert hit["known"] and hit["caseCount"] >= 2 and hit["visibility"] == "count_only"
    assert hit["regions"] is None and hit["registrationNumbers"] is None and hit["multiEpisodeCases"] is None
    assert hit["hub"] is None and hit["excluded"] is None
    body = await api.gql("{ multiEpisodeCases { totalCount } }", tokens.liaison_kaspi)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_unauthenticated_is_refused(api: Api, demo) -> None:
    resp = await api.client.post("/graphql", json={"query": '{ identifier(kind: "phone", value: "87011234567") { known } }'})
    assert resp.status_code == 401
