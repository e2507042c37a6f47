"""The checked-in SDL matches the code, and every saved analyst operation runs on the demo data."""

from __future__ import annotations

from pathlib import Path

from graphql import OperationType, parse

from hq.api.schema import build_schema
from tests.conftest import Api, Tokens

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "graphql" / "operations"


def test_checked_in_schema_matches_code() -> None:
    path = ROOT / "graphql" / "schema.graphql"
    assert path.exists(), "run `hq schema export`"
    assert path.read_text(encoding="utf-8") == build_schema().as_str() + "\n", (
        "graphql/schema.graphql is stale: run `hq schema export`")


def test_operations_folder_holds_only_graphql() -> None:
    assert {p.suffix for p in OPS.iterdir()} == {".graphql"}


async def test_every_saved_operation_runs_on_demo_data(api: Api, tokens: Tokens, demo) -> None:
    we = demo
    mec = (await api.ok("""query($v: String!) { identifier(kind: "telegram", value: $v) { multiEpisodeCases { id } } }""",
                        tokens.analyst, {"v": we["telegram_id"]}))["identifier"]["multiEpisodeCases"][0]["id"]
    card = we["card_numbers"][3]
    variables = {
        "find_by_identifier": {"kind": "card", "value": " ".join(card[i:i + 4] for i in range(0, 16, 4))},
        "big_multi_episode_cases": {"minSize": 3},
        "case_with_explanation": {"id": mec, "caseA": we["registration_numbers"][1], "caseB": we["registration_numbers"][-1]},
        "statistics_by_region": {"from": "2022-01-01", "to": "2022-12-31"},
        "confirm_and_set_lead": {"id": mec, "unit": "kz-61-dp", "reason": "the largest damage is in Turkistan"},
        "review_queue": {},
    }
    files = sorted(OPS.glob("*.graphql"))
    assert {f.stem for f in files} == set(variables)
    results = {}
    for f in files:
        text = f.read_text(encoding="utf-8")
        doc = parse(text)
        token = tokens.analyst
        assert all(d.operation in (OperationType.QUERY, OperationType.MUTATION) for d in doc.definitions)  # type: ignore[attr-defined]
        results[f.stem] = await api.ok(text, token, variables[f.stem])
    hit = results["find_by_identifier"]["identifier"]
    assert hit["known"] and hit["multiEpisodeCases"][0]["id"] == mec
    assert mec in [e["node"]["id"] for e in results["big_multi_episode_cases"]["multiEpisodeCases"]["edges"]]
    one = results["case_with_explanation"]
    assert one["explain"]["linked"] and "190.3" in {h["part"] for h in one["multiEpisodeCase"]["qualificationHints"]["hints"]}
    assert results["statistics_by_region"]["statistics"]["total"]["registered"] > 0
    lead = results["confirm_and_set_lead"]
    assert lead["confirmMultiEpisodeCase"]["status"] == "confirmed"
    assert lead["setLeadRegion"]["leadUnit"]["id"] == "kz-61-dp"
