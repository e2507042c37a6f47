"""Property tests: linking depends on the data, not on its order of arrival or on repeats."""

from __future__ import annotations

import asyncio
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hq.db import make_engine, make_sessionmaker
from hq.importer import import_lines
from hq.linking.bulk import full_relink
from hq.models import Case, CaseLink
from regions import load_directory
from tests.conftest import PEPPER, _sqlite_db
from tests.helpers import case

CARDS = ["4042438609878024", "5169493100000010", "4400430012345671", "4263982640269299"]
PHONES = ["+7 701 000 00 01", "+7 701 000 00 02", "+7 727 330 00 00"]
POOL = [("card", c) for c in CARDS] + [("phone", p) for p in PHONES] + [
    ("telegram", f"@gang_{i}") for i in range(4)] + [("ip", "95.56.1.1")]


def cases_strategy():
    mention = st.tuples(st.sampled_from(POOL), st.sampled_from(["suspect", "suspect", "victim"]))
    return st.lists(st.lists(mention, max_size=3), min_size=2, max_size=14)


def build(raw) -> list[dict]:
    return [case(f"P{i:03d}", ["KZ-61", "KZ-23", "KZ-71"][i % 3], *[(k, v, r) for (k, v), r in ms])
            for i, ms in enumerate(raw)]


async def _partition(url: str, batches: list[list[dict]], bulk: bool = False) -> set[frozenset[str]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        for batch in batches:
            await import_lines(sessions, [json.dumps(o) for o in batch], "p", load_directory(), PEPPER.encode(),
                               batch_size=3)
        if bulk:
            async with sessions.begin() as s:
                await full_relink(s, 3)
        async with sessions() as s:
            rows = await s.execute(select(CaseLink.mec_id, Case.registration_number)
                                   .join(Case, Case.id == CaseLink.case_id).where(CaseLink.mec_id.is_not(None)))
            groups: dict[int, set[str]] = {}
            for mec, reg in rows:
                groups.setdefault(mec, set()).add(reg)
    finally:
        await engine.dispose()
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=cases_strategy(), seed=st.integers(0, 10_000))
def test_any_arrival_order_and_reimport_give_the_same_cases(tmp_path_factory, raw, seed) -> None:
    objs = build(raw)
    shuffled = objs[:]
    random.Random(seed).shuffle(shuffled)
    in_order = asyncio.run(_partition(_sqlite_db(tmp_path_factory.mktemp("a")), [objs]))
    one_by_one = asyncio.run(_partition(_sqlite_db(tmp_path_factory.mktemp("b")), [[o] for o in shuffled]))
    twice = asyncio.run(_partition(_sqlite_db(tmp_path_factory.mktemp("c")), [shuffled, objs]))
    bulk = asyncio.run(_partition(_sqlite_db(tmp_path_factory.mktemp("d")), [objs], bulk=True))
    assert in_order == one_by_one == twice == bulk
