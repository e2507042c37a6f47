"""Fuzz the GraphQL endpoint with schemathesis (GraphQL mode) against a running server.

`hq serve` runs in a subprocess on SQLite; schemathesis loads the schema by introspection
with an analyst token and generates positive and negative documents for every query and
mutation (importCases included), plus a hand-made strategy of export-format lines for
importCases. The bar: no 5xx, no "internal server error", and every GraphQL error carries
an extensions.code. Budget: HQ_FUZZ_EXAMPLES per operation and mode (default 25), and the
whole run stops generating after HQ_FUZZ_SECONDS (default 150).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hq.auth import create_principal
from hq.db import make_engine, make_sessionmaker
from tests.conftest import PEPPER
from tests.foundation.test_api import DATA, IMPORT_M
from tests.hardening.conftest import live_server

schemathesis = pytest.importorskip("schemathesis", reason="pip install -e '.[test]' (schemathesis)")

EXAMPLES = int(os.environ.get("HQ_FUZZ_EXAMPLES", "25"))
BUDGET = float(os.environ.get("HQ_FUZZ_SECONDS", "150"))
SETTINGS = dict(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate])


def _token(url: str) -> str:
    async def make() -> str:
        engine = make_engine(url)
        async with make_sessionmaker(engine).begin() as s:
            _, token = await create_principal(s, name="fuzzer", role="hq_analyst", pepper=PEPPER.encode())
        await engine.dispose()
        return token

    return asyncio.run(make())


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.codes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.requests = 0

    def check(self, label: str, status: int, text: str, sent: Any) -> None:
        self.requests += 1
        self.statuses[status] += 1
        problem = None
        if status >= 500:
            problem = f"HTTP {status}"
        elif "internal server error" in text.lower():
            problem = "internal server error"
        elif status == 200:
            try:
                errors = json.loads(text).get("errors") or []
            except ValueError:
                errors, problem = [], "200 with a non-JSON body"
            for e in errors:
                code = (e.get("extensions") or {}).get("code")
                self.codes[code or "(none)"] += 1
                if not code:
                    problem = f"error without a code: {e.get('message')!r}"
        if problem and len(self.failures) < 50:
            self.failures.append(f"{label}: {problem}: sent {str(sent)[:300]!r} got {text[:300]!r}")


def test_schemathesis_graphql_fuzz_finds_no_server_error(sqlite_url: str) -> None:
    token = _token(sqlite_url)
    auth = {"Authorization": f"Bearer {token}"}
    env = {"HQ_RATE_LIMIT_REQUESTS": "0", "HQ_LOG_LEVEL": "ERROR", "HQ_WS_HEARTBEAT_INTERVAL": "0"}
    with live_server(sqlite_url, **env) as base:
        seeded = httpx.post(f"{base}/graphql", json={"query": IMPORT_M, "variables": {"j": DATA}}, headers=auth)
        assert seeded.status_code == 200 and seeded.json()["data"]["importCases"]["imported"] == 3
        schema = schemathesis.graphql.from_url(f"{base}/graphql", headers=auth)
        ops = [r.ok() for r in schema.get_all_operations()]
        labels = {op.label for op in ops}
        assert "Mutation.importCases" in labels and "Mutation.registerCase" in labels
        tally, started = Tally(), time.monotonic()
        modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
        for op in ops:
            for mode in modes:
                if time.monotonic() - started > BUDGET:
                    break

                _fuzz_operation(op, mode, auth, tally)
        _fuzz_import_lines(base, auth, tally)
        elapsed = time.monotonic() - started
        assert httpx.get(f"{base}/readyz").status_code == 200  # and the server is still healthy
    summary = (f"schemathesis: {len(ops)} operations x {len(modes)} modes, {tally.requests} requests in "
               f"{elapsed:.0f} s; statuses {dict(tally.statuses)}; error codes {dict(tally.codes.most_common(8))}")
    print(summary)
    with open(os.environ.get("HQ_FUZZ_SUMMARY", os.devnull), "a") as fh:
        fh.write(summary + "\n")
    assert not tally.failures, "\n".join(tally.failures)


def _fuzz_operation(op: Any, mode: Any, auth: dict[str, str], tally: Tally) -> None:
    @settings(max_examples=EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        resp = case.call(headers=auth, timeout=30)
        tally.check(op.label, resp.status_code, resp.text, case.body)

    run()


def _line() -> st.SearchStrategy[str]:
    anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
    record = st.fixed_dictionaries(
        {"registration_number": st.one_of(st.from_regex(r"\A[0-9]{15}\Z"), anything),
         "region": st.one_of(st.sampled_from(["KZ-61", "KZ-23", "KZ-ALA", "Almaty", "KZ-00"]), anything),
         "registered_at": st.one_of(st.dates().map(str), anything)},
        optional={"damage_kzt": st.one_of(st.integers(), anything), "status": st.one_of(st.just("suspended"), anything),
                  "victim": st.one_of(st.fixed_dictionaries({"name": st.text(max_size=20), "phone": st.text(max_size=20),
                                                             "iin": st.from_regex(r"\A[0-9]{12}\Z")}), anything),
                  "identifiers": st.lists(st.fixed_dictionaries({"kind": st.sampled_from(
                      ["phone", "card", "iban", "telegram", "ip", "imei", "iin", "nope"]), "value": st.text(max_size=40)}),
                      max_size=4)})
    return st.one_of(record.map(lambda r: json.dumps(r, ensure_ascii=False)), st.text(max_size=60))


def _fuzz_import_lines(base: str, auth: dict[str, str], tally: Tally) -> None:
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        @settings(max_examples=max(EXAMPLES * 4, 20), **SETTINGS)  # type: ignore[arg-type]
        @given(lines=st.lists(_line(), max_size=8))
        def run(lines: list[str]) -> None:
            jsonl = "\n".join(lines)
            resp = client.post("/graphql", json={"query": IMPORT_M, "variables": {"j": jsonl}})
            tally.check("importCases(export lines)", resp.status_code, resp.text, jsonl)

        run()
