"""statistics(period, groupBy): SQL aggregates that agree with a count in Python, on both backends."""

from __future__ import annotations

from collections import Counter

from hq.demo_data import generate
from tests.conftest import Api, Tokens

Q = """query($f: Date!, $t: Date!, $g: StatisticsGroupBy!) { statistics(period: {from: $f, to: $t}, groupBy: $g) {
  rows { key label registered solved suspended damageKzt recoveredKzt } total { registered damageKzt solved } } }"""


async def test_grouped_statistics_match_the_data(api: Api, tokens: Tokens, demo) -> None:
    cases = [c for c in generate() if "2022-01-01" <= c["registered_at"] <= "2022-12-31"]
    region_of = {"KZ-YUZ": "KZ-61", "KZ-ATY": "KZ-23", "KZ-AST": "KZ-71", "KZ-SEV": "KZ-59"}
    expect = {
        "REGION": Counter(region_of.get(c["region"], c["region"]) for c in cases),
        "MONTH": Counter(c["registered_at"][:7] for c in cases),
        "STATUS": Counter(c.get("status") or "registered" for c in cases),
    }
    for group, counts in expect.items():
        st = (await api.ok(Q, tokens.prosecutor, {"f": "2022-01-01", "t": "2022-12-31", "g": group}))["statistics"]
        assert {r["key"]: r["registered"] for r in st["rows"]} == dict(counts), group
        assert st["total"]["registered"] == len(cases)
        assert st["total"]["damageKzt"] == sum(c.get("damage_kzt") or 0 for c in cases)
    st = (await api.ok(Q, tokens.analyst, {"f": "2022-01-01", "t": "2026-12-31", "g": "SCHEME"}))["statistics"]
    assert sum(r["registered"] for r in st["rows"]) == len(generate())
    region = (await api.ok(Q, tokens.officer_atyrau, {"f": "2022-01-01", "t": "2022-12-31", "g": "REGION"}))
    turk = next(r for r in region["statistics"]["rows"] if r["key"] == "KZ-61")
    assert turk["label"].startswith("Turkistan") and turk["suspended"] >= 1 and turk["solved"] <= turk["registered"]


async def test_bad_periods_and_liaisons(api: Api, tokens: Tokens, demo) -> None:
    body = await api.gql(Q, tokens.analyst, {"f": "2023-01-01", "t": "2022-01-01", "g": "REGION"})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "period.to"}
    body = await api.gql(Q, tokens.liaison_halyk, {"f": "2022-01-01", "t": "2022-12-31", "g": "REGION"})
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "statistics"}
