"""The HTTP API through the real ASGI app: tokens, role scoping, validation errors."""

from __future__ import annotations


from hq.auth import revoke_principal
from hq.models import Principal
from sqlalchemy import select
from tests.helpers import case, jsonl

CASES_Q = "query { cases(first: 50) { totalCount edges { node { registrationNumber regionCode } } } }"
ONE_Q = "query($r: String!) { case(registrationNumber: $r) { registrationNumber victim { name phone iin masked } } }"
IMPORT_M = "mutation($j: String!) { importCases(jsonl: $j) { imported updated unchanged rejected errors { line field reason } } }"
REGISTER_M = """mutation($i: CaseInput!) { registerCase(input: $i) { registrationNumber regionCode status
  identifiers { kind value role } } }"""

DATA = jsonl(
    case("610000000000001", "KZ-61", ("card", "4042 4386 0987 8024"),
         victim={"name": "Dana Serikova", "phone": "+7 702 111 22 33", "iin": "850101400120"}),
    case("230000000000001", "KZ-23", ("card", "4042438609878024")),
    case("710000000000001", "KZ-71", ("phone", "8 701 123 45 67")),
)


async def seed(api, tokens) -> None:
    data = await api.ok(IMPORT_M, tokens.analyst, {"j": DATA})
    assert data["importCases"]["imported"] == 3


async def test_no_wrong_or_revoked_token_gets_401(api, tokens, sessions) -> None:
    for headers in ({}, {"Authorization": "Bearer hq_wrong"}, {"Authorization": "Basic abc"}):
        resp = await api.client.post("/graphql", json={"query": "{ me { role } }"}, headers=headers)
        assert resp.status_code == 401, headers
        assert "token" in resp.json()["detail"]
    ok = await api.client.post("/graphql", json={"query": "{ me { role } }"},
                               headers={"Authorization": f"Bearer {tokens.prosecutor}"})
    assert ok.status_code == 200 and ok.json()["data"]["me"]["role"] == "prosecutor"
    async with sessions.begin() as s:
        pid = (await s.execute(select(Principal.id).where(Principal.name == "prosecutor"))).scalar_one()
        assert await revoke_principal(s, pid)
    again = await api.client.post("/graphql", json={"query": "{ me { role } }"},
                                  headers={"Authorization": f"Bearer {tokens.prosecutor}"})
    assert again.status_code == 401


async def test_graphiql_page_is_served_without_token(api) -> None:
    resp = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status_code == 200 and "graphiql" in resp.text.lower()


async def test_health_and_readiness(api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


async def test_role_scoping(api, tokens) -> None:
    await seed(api, tokens)
    for token, expected in (
        (tokens.analyst, {"610000000000001", "230000000000001", "710000000000001"}),
        (tokens.prosecutor, {"610000000000001", "230000000000001", "710000000000001"}),
        (tokens.admin, {"610000000000001", "230000000000001", "710000000000001"}),
        (tokens.officer_turkistan, {"610000000000001"}),
        (tokens.officer_atyrau, {"230000000000001"}),
        (tokens.liaison_kaspi, set()),
    ):
        data = await api.ok(CASES_Q, token)
        got = {e["node"]["registrationNumber"] for e in data["cases"]["edges"]}
        assert got == expected and data["cases"]["totalCount"] == len(expected)
    # detail of another region's case is simply not there for an officer
    other = await api.ok(ONE_Q, tokens.officer_atyrau, {"r": "610000000000001"})
    assert other["case"] is None
    own = await api.ok(ONE_Q, tokens.officer_turkistan, {"r": "610000000000001"})
    assert own["case"]["victim"] == {"name": "Dana Serikova", "phone": "+77021112233", "iin": "850101400120",
                                     "masked": False}
    # list views mask victim data
    listed = await api.ok("{ cases(first: 5, filter: {region: \"KZ-61\"}) { edges { node { victim { name phone masked } } } } }",
                          tokens.analyst)
    victim = listed["cases"]["edges"][0]["node"]["victim"]
    assert victim["masked"] is True and victim["phone"] != "+77021112233" and victim["name"] == "D. S."


async def test_writes_are_scoped(api, tokens) -> None:
    new = {"registrationNumber": "610000000000009", "region": "KZ-61", "registeredAt": "2024-02-01",
           "identifiers": [{"kind": "phone", "value": "8 (747) 123-45-67"}]}
    body = await api.gql(REGISTER_M, tokens.prosecutor, {"i": new})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.gql(REGISTER_M, tokens.liaison_kaspi, {"i": new})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.gql(REGISTER_M, tokens.officer_atyrau, {"i": new})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["extensions"]["field"] == "region"
    data = await api.ok(REGISTER_M, tokens.officer_turkistan, {"i": new})
    assert data["registerCase"]["identifiers"] == [{"kind": "phone", "value": "+7 747 123 4567", "role": "suspect"}]
    again = await api.gql(REGISTER_M, tokens.officer_turkistan, {"i": new})
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    # an officer's import only takes own-region lines
    data = await api.ok(IMPORT_M, tokens.officer_atyrau, {"j": DATA})
    assert data["importCases"]["imported"] == 1 and data["importCases"]["rejected"] == 2
    assert {e["field"] for e in data["importCases"]["errors"]} == {"region"}
    body = await api.gql(IMPORT_M, tokens.prosecutor, {"j": DATA})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_import_mutation_splits_lines_as_the_file_import_does(api, tokens) -> None:
    """Lines end at "\n" only: a note may hold U+2028 or U+0085 unescaped (JSON allows it),
    and str.splitlines() would cut the case in two there. Line numbers match the file's."""
    noted = case("710000000000077", "KZ-71", ("phone", "8 701 555 44 33"))
    noted["identifiers"][0]["note"] = "called twice\u2028then texted\x85on WhatsApp"
    text = "\ufeff" + jsonl(case("710000000000076", "KZ-71", ("phone", "8 701 555 44 32")), noted) + "{broken\r\n"
    data = (await api.ok(IMPORT_M, tokens.analyst, {"j": text}))["importCases"]
    assert (data["imported"], data["rejected"]) == (2, 1)
    assert [(e["line"], e["field"]) for e in data["errors"]] == [(3, "(line)")]


async def test_validation_errors_are_clear_graphql_errors(api, tokens) -> None:
    bad = {"registrationNumber": "610000000000010", "region": "KZ-61", "registeredAt": "2024-02-01",
           "identifiers": [{"kind": "card", "value": "4042 4386 0987 8025"}]}
    body = await api.gql(REGISTER_M, tokens.analyst, {"i": bad})
    err = body["errors"][0]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["field"] == "input.identifiers[0].value"
    assert "Luhn" in err["message"]
    body = await api.gql(REGISTER_M, tokens.analyst, {"i": {**bad, "identifiers": [], "registeredAt": "yesterday"}})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.registeredAt"}
    body = await api.gql(REGISTER_M, tokens.analyst, {"i": {**bad, "identifiers": [], "region": "KZ-00"}})
    assert body["errors"][0]["extensions"]["field"] == "input.region"
    body = await api.gql(CASES_Q.replace("first: 50", "first: 250"), tokens.analyst)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    body = await api.gql(CASES_Q.replace("first: 50", "first: 100000"), tokens.analyst)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await api.gql("query { cases(first: 5, after: \"garbage\") { totalCount } }", tokens.analyst)
    assert body["errors"][0]["extensions"]["field"] == "after"
    # nothing was stored by the failed attempts
    assert (await api.ok(CASES_Q, tokens.analyst))["cases"]["totalCount"] == 0


async def test_pagination_walks_every_case_once(api, tokens) -> None:
    lines = jsonl(*[case(f"71000000000{i:04d}", "KZ-71", registered_at=f"2023-0{1 + i % 9}-1{i % 9}") for i in range(23)])
    await api.ok(IMPORT_M, tokens.analyst, {"j": lines})
    seen, after = [], None
    while True:
        q = "query($a: String) { cases(first: 5, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { registrationNumber } } } }"
        page = (await api.ok(q, tokens.analyst, {"a": after}))["cases"]
        assert page["totalCount"] == 23
        seen += [e["node"]["registrationNumber"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 23 and len(set(seen)) == 23


async def test_me_for_every_role(api, tokens) -> None:
    q = "{ me { role regionCode unit { id isHead } organisation { id } } }"
    assert (await api.ok(q, tokens.officer_atyrau))["me"] == {
        "role": "regional_officer", "regionCode": "KZ-23", "unit": {"id": "kz-23-k", "isHead": False},
        "organisation": None}
    assert (await api.ok(q, tokens.liaison_kaspi))["me"]["organisation"] == {"id": "kaspi"}
    assert (await api.ok(q, tokens.analyst))["me"]["unit"] is None
