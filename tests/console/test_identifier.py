"""identifier(kind, value): normalisation, and what each role sees."""

from __future__ import annotations

from typing import Any

from tests.conftest import PEPPER, Api, Tokens

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


async def _reference(s: Any, identifier_id: int, detail: bool, region: str | None) -> tuple:
    """What `lookup` must answer, computed the plain way with the ORM, one question at a time."""
    from sqlalchemy import select

    from hq.models import Case, CaseLink, Mention

    mentions = (await s.execute(select(Mention.case_id, Mention.role).where(Mention.identifier_id == identifier_id))).all()
    case_ids = {c for c, _ in mentions}
    suspect = {c for c, role in mentions if role == "suspect"}
    cases = (await s.execute(select(Case.id, Case.region_code, Case.registration_number)
                             .where(Case.id.in_(case_ids)))).all() if case_ids else []
    counts: dict[str, int] = {}
    for _, r, _ in cases:
        counts[r] = counts.get(r, 0) + 1
    mecs: list[int] = []
    regs: list[str] = []
    if detail and case_ids:
        mecs = sorted({m for (m,) in await s.execute(select(CaseLink.mec_id).where(
            CaseLink.case_id.in_(case_ids), CaseLink.mec_id.is_not(None)))})
        regs = sorted(n for _, r, n in cases if region is None or r == region)[:50]
    return len(suspect), dict(sorted(counts.items())), mecs, regs


async def test_lookup_answers_what_the_plain_queries_answer_for_every_identifier(sessions, demo) -> None:
    """The one-statement lookup against a one-question-at-a-time reference, for every
    identifier of the demo data (hubs, excluded, victim-side, shared across regions) and
    every view: full, one region's registration numbers, and counts only."""
    from sqlalchemy import select

    from hq.console.lookup import lookup
    from hq.identifiers import normalise
    from hq.models import Identifier, IdentifierStat

    async with sessions() as s:
        idents = (await s.execute(select(Identifier.id, Identifier.kind, Identifier.key, Identifier.excluded,
                                         IdentifierStat.hub)
                                  .outerjoin(IdentifierStat, IdentifierStat.identifier_id == Identifier.id))).all()
        assert len(idents) > 50 and any(h for *_, h in idents)
        # Values to search by: the display form normalises back to the key for every kind but
        # the masked ones (cards), whose keys are searched through the demo's own card numbers.
        by_key = {(k, key): (i, ex, bool(hub)) for i, k, key, ex, hub in idents}
        probes = [("card", c) for c in demo["card_numbers"]]
        probes += [(k, (await s.execute(select(Identifier.display).where(Identifier.id == i))).scalar_one())
                   for i, k, _, _, _ in idents if k != "card"]
        checked = 0
        for kind, value in probes:
            norm = normalise(kind, value, pepper=PEPPER.encode())
            if (norm.kind, norm.key) not in by_key:
                continue
            ident, excluded, hub = by_key[(norm.kind, norm.key)]
            for detail, region in ((True, None), (True, "KZ-61"), (True, "KZ-23"), (False, None)):
                got = await lookup(s, kind, value, PEPPER.encode(), detail=detail, cases_region=region)
                assert got.identifier_id == ident and got.excluded == excluded and got.hub == hub
                assert (got.suspect_cases, got.region_counts, got.mec_ids, got.cases) == \
                    await _reference(s, ident, detail, region), (kind, value, detail, region)
            checked += 1
        assert checked == len(probes) and checked >= sum(1 for _, k, *_ in idents if k != "card") + 7, checked
        miss = await lookup(s, "phone", "8 701 000 00 01", PEPPER.encode())
        assert miss.identifier_id is None and not miss.known and miss.region_counts == {}
