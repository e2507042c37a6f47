"""Multi-episode cases: list, filters, one case with hints, explain, decisions and their errors."""

from __future__ import annotations

from tests.conftest import Api, Tokens

FIND = """query($v: String!) { identifier(kind: "telegram", value: $v) { multiEpisodeCases { id } } }"""
ONE = """query($id: Int!) { multiEpisodeCase(id: $id) { id status size needsReview leadUnit { id } leadRegion { code }
  leadReason qualificationHints { hints { code part } largeAmountKzt especiallyLargeAmountKzt disclaimer }
  decisions { action reason principalName payload } } }"""


async def worked_mec(api: Api, tokens: Tokens, demo) -> int:
    data = await api.ok(FIND, tokens.analyst, {"v": demo["telegram_username"]})
    return data["identifier"]["multiEpisodeCases"][0]["id"]


async def test_list_filters_sort_and_pages(api: Api, tokens: Tokens, demo) -> None:
    q = """query($f: MultiEpisodeCaseFilter, $after: String, $first: Int!) {
      multiEpisodeCases(filter: $f, first: $first, after: $after, sort: SIZE_DESC) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id size regionCount damageKzt hasHub } } } }"""
    full = (await api.ok(q, tokens.analyst, {"first": 200}))["multiEpisodeCases"]
    total = full["totalCount"]
    assert total >= 5 and len(full["edges"]) == total
    sizes = [e["node"]["size"] for e in full["edges"]]
    assert sizes == sorted(sizes, reverse=True)
    seen, after = [], None
    while True:
        page = (await api.ok(q, tokens.analyst, {"first": 2, "after": after}))["multiEpisodeCases"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["node"]["id"] for e in full["edges"]]
    mec = await worked_mec(api, tokens, demo)
    for f in ({"region": "KZ-59"}, {"region": "KZ-SEV", "minSize": 7}, {"minDamageKzt": 18_000_000},
              {"scheme": "dropper", "dateFrom": "2022-05-01", "dateTo": "2022-12-31"}, {"needsReview": True},
              {"minRegions": 5}):
        ids = [e["node"]["id"] for e in (await api.ok(q, tokens.analyst, {"f": f, "first": 200}))["multiEpisodeCases"]["edges"]]
        assert mec in ids, f
    none = (await api.ok(q, tokens.analyst, {"f": {"minSize": 1000}, "first": 5}))["multiEpisodeCases"]
    assert none["totalCount"] == 0 and none["edges"] == []
    hub = (await api.ok(q, tokens.analyst, {"f": {"hasHub": True}, "first": 50}))["multiEpisodeCases"]
    assert all(e["node"]["hasHub"] for e in hub["edges"])
    body = await api.gql(q, tokens.analyst, {"f": {"region": "KZ-99"}, "first": 5})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "filter.region"}
    body = await api.gql(q, tokens.analyst, {"first": 5000})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


async def test_explain_and_part3_hint(api: Api, tokens: Tokens, demo) -> None:
    mec = await worked_mec(api, tokens, demo)
    one = (await api.ok(ONE, tokens.analyst, {"id": mec}))["multiEpisodeCase"]
    codes = {h["code"]: h["part"] for h in one["qualificationHints"]["hints"]}
    assert codes["REPEATED"] == "190.3" and codes["SEVERAL_VICTIMS"] == "190.3"
    assert codes["LARGE_AMOUNT"] == "190.3" and "ESPECIALLY_LARGE_AMOUNT" not in codes
    assert codes["GROUP"] == "190.4"
    assert one["qualificationHints"]["largeAmountKzt"] == 2000 * 4325
    assert "not" in one["qualificationHints"]["disclaimer"].lower() or "hint" in one["qualificationHints"]["disclaimer"].lower()
    regs = demo["registration_numbers"]
    q = """query($a: String!, $b: String!) { explain(caseA: $a, caseB: $b) { linked multiEpisodeCaseId summary
           steps { fromCase identifierKind identifierValue toCase } } }"""
    ex = (await api.ok(q, tokens.analyst, {"a": regs[0], "b": regs[-1]}))["explain"]
    assert ex["linked"] and ex["multiEpisodeCaseId"] == mec and ex["steps"]
    assert ex["steps"][0]["fromCase"] == regs[0] and ex["steps"][-1]["toCase"] == regs[-1]
    assert "*" not in "".join(s["identifierValue"] for s in ex["steps"] if s["identifierKind"] != "card")
    body = await api.gql(q, tokens.analyst, {"a": regs[0], "b": "nope"})
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "caseB"}
    body = await api.gql(q, tokens.officer_turkistan, {"a": regs[0], "b": regs[1]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_decisions_confirm_lead_note_reject_split_exclude(api: Api, tokens: Tokens, demo) -> None:
    mec = await worked_mec(api, tokens, demo)
    confirm = """mutation($id: Int!) { confirmMultiEpisodeCase(id: $id, reason: "same buyer") { status needsReview } }"""
    body = await api.gql(confirm, tokens.officer_turkistan, {"id": mec})
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "confirmMultiEpisodeCase"}
    body = await api.gql(confirm, tokens.prosecutor, {"id": mec})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await api.ok(confirm, tokens.analyst, {"id": mec}))["confirmMultiEpisodeCase"] == {
        "status": "confirmed", "needsReview": False}
    lead = """mutation($id: Int!, $u: String!, $r: String) { setLeadRegion(id: $id, unit: $u, reason: $r) {
              leadUnit { id } leadRegion { code } leadReason } }"""
    body = await api.gql(lead, tokens.analyst, {"id": mec, "u": "kz-55-dp"})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "reason"}
    body = await api.gql(lead, tokens.analyst, {"id": mec, "u": "no-such-unit"})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "unit"}
    got = (await api.ok(lead, tokens.analyst, {"id": mec, "u": "kz-61-dp"}))["setLeadRegion"]
    assert got == {"leadUnit": {"id": "kz-61-dp"}, "leadRegion": {"code": "KZ-61"}, "leadReason": None}
    got = (await api.ok(lead, tokens.analyst, {"id": mec, "u": "kz-55-dp", "r": "Pavlodar holds the suspect"}))
    assert got["setLeadRegion"]["leadRegion"] == {"code": "KZ-55"}
    await api.ok("""mutation($id: Int!) { addNote(id: $id, text: "asked Kaspi for the holder") { id } }""",
                 tokens.analyst, {"id": mec})
    body = await api.gql("""mutation { addNote(id: 999999, text: "x") { id } }""", tokens.analyst)
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    one = (await api.ok(ONE, tokens.analyst, {"id": mec}))["multiEpisodeCase"]
    actions = [d["action"] for d in one["decisions"]]
    assert actions[0] == "engine_created" and actions[-4:] == ["confirm", "set_lead", "set_lead", "note"]
    assert one["decisions"][-1]["principalName"] == "analyst"
    # reject, then confirming is a CONFLICT
    await api.ok("""mutation($id: Int!) { rejectMultiEpisodeCase(id: $id, reason: "two gangs") { status } }""",
                 tokens.analyst, {"id": mec})
    body = await api.gql(confirm, tokens.analyst, {"id": mec})
    assert body["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "id"}
    # split off the two Astana episodes
    astana = [r for r in demo["registration_numbers"] if r[4:6] == "71"]
    split = """mutation($id: Int!, $c: [String!]!) { splitMultiEpisodeCase(id: $id, caseIds: $c, reason: "other gang") {
               multiEpisodeCases { id size } } }"""
    body = await api.gql(split, tokens.analyst, {"id": mec, "c": ["nope"]})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "caseIds"}
    res = (await api.ok(split, tokens.analyst, {"id": mec, "c": astana}))["splitMultiEpisodeCase"]
    sizes = sorted(m["size"] for m in res["multiEpisodeCases"])
    assert sum(sizes) == len(demo["registration_numbers"]) and len(sizes) >= 1
    # exclude / restore the buyer's username
    ex = """mutation($v: String!) { excludeIdentifier(kind: "telegram", value: $v, reason: "test") { value excluded } }"""
    assert (await api.ok(ex, tokens.analyst, {"v": "t.me/Karta_Skupka_KZ"}))["excludeIdentifier"] == {
        "value": "@karta_skupka_kz", "excluded": True}
    body = await api.gql(ex, tokens.analyst, {"v": "@karta_skupka_kz"})
    assert body["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "value"}
    body = await api.gql(ex, tokens.analyst, {"v": "@never_seen_anywhere"})
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "value"}
    restore = """mutation { restoreIdentifier(kind: "telegram", value: "@karta_skupka_kz", reason: "was right") { excluded } }"""
    assert (await api.ok(restore, tokens.analyst))["restoreIdentifier"] == {"excluded": False}
    body = await api.gql("""mutation { excludeIdentifier(kind: "telegram", value: "@karta_skupka_kz", reason: " ") { excluded } }""",
                         tokens.analyst)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "reason"}


async def test_review_queue_and_split_request(api: Api, tokens: Tokens, demo) -> None:
    mec = await worked_mec(api, tokens, demo)
    q = """{ reviewQueue { largeMerges { id } manyRegions { id regionCount } hubs { kind value groupCount }
            splitRequests { region registrationNumbers decision { reason } multiEpisodeCase { id } } } }"""
    rq = (await api.ok(q, tokens.analyst))["reviewQueue"]
    assert mec in [m["id"] for m in rq["manyRegions"]]
    assert any(h["kind"] == "phone" and h["groupCount"] > 3 for h in rq["hubs"])  # the spoofed hotline
    turk = demo["turkistan_registration_number"]
    req = """mutation($id: Int!, $c: [String!]) { requestSplit(id: $id, caseIds: $c, reason: "our victim, other gang") { id } }"""
    body = await api.gql(req, tokens.officer_turkistan, {"id": mec, "c": [demo["registration_numbers"][1]]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.gql(req, tokens.liaison_kaspi, {"id": mec, "c": [turk]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await api.ok(req, tokens.officer_turkistan, {"id": mec, "c": [turk]})
    rq = (await api.ok(q, tokens.analyst))["reviewQueue"]
    assert rq["splitRequests"][0] == {"region": "KZ-61", "registrationNumbers": [turk],
                                      "decision": {"reason": "our victim, other gang"}, "multiEpisodeCase": {"id": mec}}
    body = await api.gql(q, tokens.officer_turkistan)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # a confirm answers the request
    await api.ok("""mutation($id: Int!) { confirmMultiEpisodeCase(id: $id) { id } }""", tokens.analyst, {"id": mec})
    assert (await api.ok(q, tokens.analyst))["reviewQueue"]["splitRequests"] == []
