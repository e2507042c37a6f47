"""Import: idempotency, per-line errors, updates in place, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from hq.importer import import_files, import_lines
from hq.models import Case, Identifier, Mention, Victim
from regions import load_directory
from tests.conftest import PEPPER
from tests.helpers import case, jsonl

CARD_A = "4042 4386 0987 8024"
CARD_B = "5169-4931-0000-0010"


async def counts(sessions) -> dict[str, int]:
    async with sessions() as s:
        return {
            name: (await s.execute(select(func.count()).select_from(model))).scalar_one()
            for name, model in (("cases", Case), ("mentions", Mention), ("identifiers", Identifier),
                                ("victims", Victim))
        }


def sample_lines() -> str:
    return jsonl(
        case("221561030000457", "KZ-61", ("phone", "8 (747) 123-45-67"), ("card", CARD_A),
             ("telegram", "id5014785358"), ("telegram", "@SomeBuyer"),
             victim={"name": "D. S.", "phone": "+7 702 111 22 33", "iin": "850101400123"}),
        case("221561030000458", "KZ-YUZ", ("card", CARD_A.replace(" ", ""))),
        case("221561030000459", "KZ-23", ("telegram", "https://t.me/somebuyer")),
    )


async def test_import_is_idempotent(sessions, tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(sample_lines(), encoding="utf-8")
    first = await import_files(sessions, [path], load_directory(), PEPPER.encode())
    assert (first.inserted, first.updated, first.unchanged, first.rejected) == (3, 0, 0, 0)
    before = await counts(sessions)
    second = await import_files(sessions, [path], load_directory(), PEPPER.encode())
    assert (second.inserted, second.updated, second.unchanged, second.rejected) == (0, 0, 3, 0)
    assert await counts(sessions) == before
    assert before["cases"] == 3 and before["victims"] == 1
    # two spellings of one card and of one telegram username are one identifier each
    async with sessions() as s:
        kinds = [k for (k,) in await s.execute(select(Identifier.kind).order_by(Identifier.kind))]
    assert kinds.count("card") == 1 and kinds.count("telegram") == 2 and kinds.count("phone") == 1


async def test_letter_alias_region_is_stored_as_numeric_code(sessions) -> None:
    await import_lines(sessions, sample_lines().splitlines(), "t", load_directory(), PEPPER.encode())
    async with sessions() as s:
        region = (await s.execute(select(Case.region_code).where(
            Case.registration_number == "221561030000458"))).scalar_one()
    assert region == "KZ-61"


async def test_bad_lines_are_reported_and_good_lines_kept(sessions) -> None:
    good = case("100000000000001", "KZ-71", ("phone", "+7 701 123 45 67"))
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps(case("100000000000002", "KZ-99")),
        json.dumps(case("100000000000003", "KZ-71", ("card", "4042 4386 0987 8025"))),
        "",
        json.dumps({**case("100000000000004", "KZ-71"), "damage_kzt": -5}),
        json.dumps({k: v for k, v in case("100000000000005").items() if k != "registered_at"}),
        json.dumps(case("100000000000006", "KZ-71", ("fax", "123"))),
        json.dumps({**case("100000000000007", "KZ-71"),
                    "identifiers": [{"kind": "phone", "value": "87011234567", "role": ["suspect"]}]}),
    ]
    report = await import_lines(sessions, lines, "f.jsonl", load_directory(), PEPPER.encode())
    assert report.inserted == 1
    errs = {e.line: (e.field, e.reason) for e in report.errors}
    assert errs[2][0] == "(line)" and "JSON" in errs[2][1]
    assert errs[3][0] == "region" and "KZ-99" in errs[3][1]
    assert errs[4][0] == "identifiers[0].value" and "Luhn" in errs[4][1]
    assert errs[6] == ("damage_kzt", "must not be negative")
    assert errs[7] == ("registered_at", "is required")
    assert errs[8][0] == "identifiers[0].kind"
    assert errs[9][0] == "identifiers[0].role" and "must be one of" in errs[9][1]  # a list, not a crash
    assert set(errs) == {2, 3, 4, 6, 7, 8, 9}
    assert (await counts(sessions))["cases"] == 1


async def test_resend_updates_in_place_and_unlinks_dropped_identifiers(sessions) -> None:
    d, p = load_directory(), PEPPER.encode()
    await import_lines(sessions, sample_lines().splitlines(), "t", d, p)
    changed = case("221561030000457", "KZ-61", ("card", CARD_B), status="solved")
    report = await import_lines(sessions, [json.dumps(changed)], "t", d, p)
    assert (report.inserted, report.updated) == (0, 1)
    async with sessions() as s:
        row = (await s.execute(select(Case).where(Case.registration_number == "221561030000457"))).scalar_one()
        kinds = [k for (k,) in await s.execute(
            select(Identifier.kind).join(Mention, Mention.identifier_id == Identifier.id)
            .where(Mention.case_id == row.id))]
        victims = (await s.execute(select(func.count()).select_from(Victim))).scalar_one()
    assert row.status == "solved"
    assert kinds == ["card"]
    assert victims == 0
    assert (await counts(sessions))["cases"] == 3
