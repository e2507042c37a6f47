"""No N+1: a page of multi-episode cases with episodes, regions and more costs a constant
number of SQL statements, whatever the page size."""

from __future__ import annotations

import json

from sqlalchemy import event

from hq.importer import import_lines
from regions import load_directory
from tests.conftest import PEPPER, Api, Tokens
from tests.helpers import case

PAGE = """query($n: Int!) { multiEpisodeCases(first: $n) { totalCount edges { node {
  id size regionCount damageKzt leadUnit { id }
  episodes(first: 5) { totalCount edges { node { registrationNumber region { code } victim { name } identifiers { kind } } } }
  regions { count region { code } contact { id } }
  tyingIdentifiers { kind value caseCount }
  decisions { action principalName }
  qualificationHints { hints { code } } } } } }"""

SKIPPED = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA WAL_CHECKPOINT")
REGIONS = ["KZ-61", "KZ-23", "KZ-33", "KZ-59", "KZ-71", "KZ-75"]


def _cases(n_rings: int) -> list[str]:
    out = []
    for ring in range(n_rings):
        for k in range(3):
            out.append(json.dumps(case(f"Q{ring:03d}-{k}", REGIONS[(ring + k) % 6], ("telegram", f"@ring_{ring:03d}"),
                                       victim={"name": f"Victim {ring} {k}"})))
    return out


async def test_statement_count_is_constant_in_page_size(api: Api, tokens: Tokens, sessions, settings) -> None:
    report = await import_lines(sessions, _cases(60), "t", load_directory(), PEPPER.encode())
    assert not report.errors
    engine = api.client._transport.app.state.services.engine  # type: ignore[attr-defined]
    seen: dict[int, list[str]] = {}
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for n in (5, 50):
            statements.clear()
            data = await api.ok(PAGE, tokens.analyst, {"n": n})
            assert len(data["multiEpisodeCases"]["edges"]) == n
            # The server's WAL checkpointer (hq/checkpoint.py) runs on its own connection every
            # half second; its PRAGMA is not part of the request.
            seen[n] = [s for s in statements if not s.lstrip().upper().startswith(SKIPPED)]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    counts = {n: len(s) for n, s in seen.items()}
    # token check + count + page + episodes + regions + tying + decisions + persons + victims + mentions
    assert counts[50] == counts[5], (counts, [s[:120] for s in seen[5]], [s[:120] for s in seen[50]])
    assert counts[50] <= 12, counts
