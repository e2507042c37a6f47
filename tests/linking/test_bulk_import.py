"""The bulk path gives exactly what the incremental path gives, on both databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hq.bulk_import import bulk_import
from hq.db import make_engine, make_sessionmaker
from hq.demo_data import generate
from hq.importer import import_lines
from hq.models import Case, Identifier, Mention, Victim
from regions import load_directory
from tests.conftest import PEPPER
from tests.linking.test_linking import partition


async def _counts(sessions) -> dict[str, int]:
    async with sessions() as s:
        return {m.__tablename__: (await s.execute(select(func.count()).select_from(m))).scalar_one()
                for m in (Case, Identifier, Mention, Victim)}


async def _foreign_keys(sessions) -> set[tuple[str, ...]]:
    from sqlalchemy import text

    async with sessions() as s:
        if s.bind.dialect.name == "postgresql":
            return await _foreign_keys_in(s)
        keys = set()
        for table in ("cases", "victims", "mentions"):
            keys |= {(table, *map(str, r)) for r in await s.execute(text(f"PRAGMA foreign_key_list({table})"))}
        return keys


async def test_bulk_equals_incremental_and_is_rerunnable(db_url: str, tmp_path: Path) -> None:
    from tests.conftest import _pg_db, _sqlite_db

    lines = [json.dumps(o) for o in generate()]
    export = tmp_path / "demo.jsonl"
    export.write_text("\n".join(lines[:200]) + "\n{broken\n" + "\n".join(lines[200:]) + "\n")

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    keys_before = await _foreign_keys(sessions)
    report = await bulk_import(engine, sessions, [export], PEPPER.encode(), hub_threshold=3, workers=2)
    assert report.inserted == len(lines) and [e.line for e in report.errors] == [201]
    assert await _foreign_keys(sessions) == keys_before  # dropped for the load on PostgreSQL, back as they were
    bulk = await partition(sessions)
    counts = await _counts(sessions)
    async with sessions() as s:  # the plain indexes dropped for the load are back
        from hq.bulk_import import SECONDARY_INDEXES
        from sqlalchemy import text

        sql = ("SELECT indexname FROM pg_indexes" if db_url.startswith("postgresql")
               else "SELECT name FROM sqlite_master WHERE type = 'index'")
        names = {r for (r,) in await s.execute(text(sql))}
    assert set(SECONDARY_INDEXES) <= names
    # a second run changes nothing
    again = await bulk_import(engine, sessions, [export], PEPPER.encode(), hub_threshold=3, workers=1)
    assert (again.inserted, again.unchanged) == (0, len(lines))
    assert await partition(sessions) == bulk and await _counts(sessions) == counts
    await engine.dispose()

    (tmp_path / "other").mkdir()
    import asyncio

    other_url = await asyncio.to_thread(_pg_db) if db_url.startswith("postgresql") else _sqlite_db(tmp_path / "other")
    engine = make_engine(other_url)
    sessions = make_sessionmaker(engine)
    await import_lines(sessions, lines, "demo", load_directory(), PEPPER.encode())
    assert await partition(sessions) == bulk
    assert await _counts(sessions) == counts
    await engine.dispose()
    assert len(bulk) >= 8


async def test_links_from_memory_equal_links_read_back(db_url: str, tmp_path: Path) -> None:
    """A load into an empty database links from the mentions it kept in memory; reading them
    back from the database (the path every other relink takes) must find nothing to change."""
    from sqlalchemy import text

    from hq.linking.bulk import full_relink

    lines = [json.dumps(o) for o in generate()]
    export = tmp_path / "demo.jsonl"
    export.write_text("\n".join(lines) + "\n")
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    await bulk_import(engine, sessions, [export], PEPPER.encode(), hub_threshold=3, workers=1)

    async def snapshot() -> tuple[list, list, list]:
        async with sessions() as s:
            stats = (await s.execute(text(
                "SELECT identifier_id, group_count, hub FROM identifier_stats ORDER BY identifier_id"))).all()
            links = (await s.execute(text("SELECT case_id, group_id, mec_id FROM case_links ORDER BY case_id"))).all()
            mecs = (await s.execute(text(
                "SELECT id, size, region_count, victims, damage_kzt, has_hub FROM multi_episode_cases ORDER BY id"))).all()
        return stats, links, mecs

    before = await snapshot()
    assert before[0] and any(hub for _, _, hub in before[0])  # the demo data has hub phones
    async with sessions.begin() as s:
        assert await full_relink(s, 3) == set()
    assert await snapshot() == before
    await engine.dispose()


async def test_bulk_reports_an_unhashable_role_on_its_line_only(db_url: str, tmp_path: Path) -> None:
    """A `role` sent as a list is that line's error; the other lines of its chunk still load."""
    from tests.helpers import case

    good = [case(f"30000000000000{i}", "KZ-71", ("phone", f"+7 701 123 45 6{i}")) for i in range(3)]
    bad = {**case("300000000000009", "KZ-71"),
           "identifiers": [{"kind": "phone", "value": "87011234567", "role": {"r": "suspect"}}]}
    export = tmp_path / "roles.jsonl"
    export.write_text("\n".join(json.dumps(o) for o in (good[0], bad, good[1], good[2])) + "\n")
    engine = make_engine(db_url)
    report = await bulk_import(engine, make_sessionmaker(engine), [export], PEPPER.encode(), hub_threshold=3,
                               workers=2)
    await engine.dispose()
    assert report.inserted == 3
    assert [(e.line, e.field) for e in report.errors] == [(2, "identifiers[0].role")]


async def test_foreign_keys_dropped_for_a_load_come_back_or_fail_it(pg_url: str) -> None:
    """What the bulk path does with foreign keys on PostgreSQL: adding one back checks every
    row, and a row that breaks it fails the whole transaction, constraints and rows as before."""
    from asyncpg.exceptions import ForeignKeyViolationError
    from sqlalchemy import text

    from hq.rawsql import Raw, drop_foreign_keys

    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    before = await _foreign_keys(sessions)
    with pytest.raises(ForeignKeyViolationError, match="mentions_case_id_fkey"):
        async with sessions.begin() as s:
            raw = await Raw.of(s)
            restore = await drop_foreign_keys(raw, ["mentions"])
            assert len(restore) == 2 and not {k for k in await _foreign_keys_in(s) if k[0] == "mentions"}
            await raw.execute("INSERT INTO identifiers (id, kind, key, display, strength, excluded) "
                              "VALUES (1, 'phone', '+77010000000', 'x', 'phone', FALSE)")
            await raw.execute("INSERT INTO mentions (case_id, identifier_id, role) VALUES (999999, 1, 'suspect')")
            for statement in restore:
                await raw.execute(statement)
    assert await _foreign_keys(sessions) == before
    async with sessions() as s:
        assert (await s.execute(text("SELECT COUNT(*) FROM mentions"))).scalar_one() == 0
        assert (await s.execute(text("SELECT COUNT(*) FROM identifiers"))).scalar_one() == 0
    await engine.dispose()


async def _foreign_keys_in(s) -> set[tuple[str, ...]]:
    """PostgreSQL: (table, name, definition) of every foreign key, as `s` sees them."""
    from sqlalchemy import text

    rows = await s.execute(text("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                                "FROM pg_constraint WHERE contype = 'f'"))
    return {tuple(r) for r in rows}


async def test_first_linking_numbers_new_multi_episode_cases_after_existing_ones(db_url: str, tmp_path: Path) -> None:
    """The first linking of a database numbers its multi-episode cases from the next free id,
    whatever `multi_episode_cases` already holds, and their totals are those of their cases."""
    from sqlalchemy import text

    lines = [json.dumps(o) for o in generate()]
    export = tmp_path / "demo.jsonl"
    export.write_text("\n".join(lines) + "\n")
    alone = await _loaded(db_url, export, before=None)

    import asyncio

    from tests.conftest import _pg_db, _sqlite_db

    (tmp_path / "other").mkdir()
    other_url = await asyncio.to_thread(_pg_db) if db_url.startswith("postgresql") else _sqlite_db(tmp_path / "other")
    shifted = await _loaded(other_url, export, before=text(
        "INSERT INTO multi_episode_cases (id, status, needs_review, size, region_count, victims, damage_kzt, "
        "recovered_kzt, has_hub, created_at, updated_at) VALUES (40, 'dissolved', FALSE, 0, 0, 0, 0, 0, FALSE, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    assert shifted["partition"] == alone["partition"]
    assert min(shifted["totals"]) == 41 and min(alone["totals"]) == 1
    assert sorted(shifted["totals"].values()) == sorted(alone["totals"].values())
    assert {mec - 40: t for mec, t in shifted["totals"].items() if mec > 40} == alone["totals"]


async def _loaded(url: str, export: Path, before) -> dict:
    from sqlalchemy import text

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    if before is not None:
        async with sessions.begin() as s:
            await s.execute(before)
    report = await bulk_import(engine, sessions, [export], PEPPER.encode(), hub_threshold=3, workers=1)
    assert report.inserted > 0 and not report.errors
    async with sessions() as s:
        totals = {int(r[0]): tuple(r[1:]) for r in await s.execute(text(
            "SELECT id, size, region_count, victims, damage_kzt, recovered_kzt, has_hub FROM multi_episode_cases "
            "WHERE size > 0"))}
    out = {"partition": await partition(sessions), "totals": totals}
    await engine.dispose()
    return out


async def _both_paths(sqlite_url: str, tmp_path: Path, export: Path) -> tuple[Any, Any]:
    """The reports of the bulk import into `sqlite_url` and of the ordinary import of the same
    file into a copy of that database as it was."""
    import shutil

    from hq.importer import import_files

    other = tmp_path / "ordinary.db"
    shutil.copy(sqlite_url.split("///", 1)[1], other)
    engine = make_engine(sqlite_url)
    bulk = await bulk_import(engine, make_sessionmaker(engine), [export], PEPPER.encode(), hub_threshold=3,
                             workers=2)
    await engine.dispose()
    engine = make_engine(f"sqlite+aiosqlite:///{other}")
    ordinary = await import_files(make_sessionmaker(engine), [export], load_directory(), PEPPER.encode())
    await engine.dispose()
    return bulk, ordinary


@pytest.mark.parametrize("chunk", [1, 150, 400, 3_000_000])
async def test_bulk_numbers_lines_as_the_ordinary_import_does(sqlite_url: str, tmp_path: Path, monkeypatch,
                                                              chunk: int) -> None:
    """Blank and whitespace lines, CRLF endings and a last line without a newline, across
    chunk boundaries: the bulk path reports the same lines as the ordinary import."""
    import hq.bulk_import
    from tests.helpers import case

    good = [json.dumps(case(f"40000000000000{i}", "KZ-71", ("phone", f"+7 701 123 45 6{i}"))) for i in range(4)]
    text = "\r\n".join([good[0], "", "   ", good[1], "{broken", good[2], '{"region": "KZ-71"}', good[3]])
    export = tmp_path / "messy.jsonl"
    export.write_bytes(text.encode())  # no newline at the end
    monkeypatch.setattr(hq.bulk_import, "CHUNK_BYTES", chunk)
    bulk, ordinary = await _both_paths(sqlite_url, tmp_path, export)
    assert bulk.inserted == ordinary.inserted == 4
    assert [(e.line, e.field, e.reason) for e in bulk.errors] == [(e.line, e.field, e.reason) for e in ordinary.errors]
    assert [(e.line, e.field) for e in bulk.errors] == [(5, "(line)"), (7, "registration_number")]


async def test_a_line_that_is_not_utf8_is_that_lines_error_in_both_paths(sqlite_url: str, tmp_path: Path) -> None:
    """An export line saved in Windows-1251 (or any bytes that are not UTF-8) is rejected
    with its line number and the offending byte; the lines around it are imported. An
    over-long line is rejected by both paths alike, and a UTF-8 byte order mark before the
    first line is no error."""
    import codecs

    from hq.importer import MAX_LINE_BYTES
    from tests.helpers import case

    good = [json.dumps(case(f"41000000000000{i}", "KZ-71", ("phone", f"+7 701 223 45 6{i}"))).encode()
            for i in range(3)]
    line = json.dumps({**case("410000000000009", "KZ-71", ("phone", "+7 701 223 45 69")), "unit": "Отдел полиции"},
                      ensure_ascii=False)
    cp1251 = line.encode("cp1251")
    huge = b'{"registration_number": "' + b"9" * MAX_LINE_BYTES + b'"}'
    export = tmp_path / "mixed.jsonl"
    export.write_bytes(codecs.BOM_UTF8 + b"\n".join([good[0], cp1251, good[1], huge, good[2]]) + b"\n")
    bulk, ordinary = await _both_paths(sqlite_url, tmp_path, export)

    offset = cp1251.index("Отдел".encode("cp1251")) + 1
    expected = [(2, "(line)", f"not UTF-8 text, as the export format requires: byte 0xce at byte {offset}"),
                (4, "(line)", f"longer than {MAX_LINE_BYTES} bytes")]
    assert [(e.line, e.field, e.reason) for e in bulk.errors] == expected
    assert [(e.line, e.field, e.reason) for e in ordinary.errors] == expected
    assert bulk.inserted == ordinary.inserted == 3


async def test_incremental_imports_and_a_full_relink_leave_the_same_phone_statistics(db_url: str) -> None:
    """Case by case, a phone that no group of two or more uses gets no statistics row, as in a
    full relink: the two paths agree row for row, not only in meaning."""
    from sqlalchemy import text

    from hq.linking.bulk import full_relink

    lines = [json.dumps(o) for o in generate()]
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    await import_lines(sessions, lines, "demo", load_directory(), PEPPER.encode(), batch_size=1)

    async def stats() -> list[tuple]:
        async with sessions() as s:
            return [tuple(r) for r in await s.execute(text(
                "SELECT identifier_id, group_count, hub FROM identifier_stats ORDER BY identifier_id"))]

    incremental = await stats()
    assert incremental and all(n > 0 for _, n, _ in incremental)
    async with sessions.begin() as s:
        await full_relink(s, 3)
    assert await stats() == incremental
    await engine.dispose()


async def test_a_bulk_load_on_postgres_leaves_its_pages_vacuumed_and_analysed(pg_url: str, tmp_path: Path) -> None:
    """A load leaves the visibility map of its new pages unset, so index-only scans of them
    also read the heap until a vacuum runs; the bulk path vacuums and analyses what it loaded
    itself, whatever autovacuum is set to."""
    from sqlalchemy import text

    from hq.bulk_import import LOADED_TABLES

    export = tmp_path / "demo.jsonl"
    export.write_text("\n".join(json.dumps(o) for o in generate()) + "\n")
    engine = make_engine(pg_url)
    try:
        await bulk_import(engine, make_sessionmaker(engine), [export], PEPPER.encode(), hub_threshold=3, workers=1)
        async with engine.connect() as conn:
            pages = {name: (int(p), int(v)) for name, p, v in await conn.execute(text(
                "SELECT relname, relpages, relallvisible FROM pg_class WHERE relname IN ('mentions', 'case_links')"))}
            done = {name for (name,) in await conn.execute(text(
                "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND last_analyze IS NOT NULL"))}
        assert pages["mentions"][0] > 0 and pages["mentions"][1] == pages["mentions"][0]
        assert pages["case_links"][1] == pages["case_links"][0]
        assert set(LOADED_TABLES) <= done
    finally:
        await engine.dispose()


async def test_a_bulk_load_that_makes_a_hub_elsewhere_flags_a_case_that_does_not_change(db_url: str,
                                                                                       tmp_path: Path) -> None:
    """As in tests/linking/test_linking.py, through the bulk path into a database that has
    cases: the load's last case makes the hotline a hub away from the three rings it ties
    together with other phones, which keep every case and must now say they have a hub."""
    from hq.models import MultiEpisodeCase
    from tests.linking.test_linking import hub_elsewhere_cases

    *before, last = hub_elsewhere_cases()
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        await import_lines(sessions, [json.dumps(o) for o in before], "t", load_directory(), PEPPER.encode())
        export = tmp_path / "more.jsonl"
        export.write_text(json.dumps(last) + "\n")
        report = await bulk_import(engine, sessions, [export], PEPPER.encode(), hub_threshold=3, workers=1)
        assert report.inserted == 1
        assert await partition(sessions) == {frozenset(f"C{r}{m}" for r in range(3) for m in range(2)),
                                             frozenset({"D0", "D1"})}
        async with sessions() as s:
            mecs = (await s.execute(select(MultiEpisodeCase).where(MultiEpisodeCase.size > 0))).scalars().all()
            assert sorted((m.size, m.has_hub) for m in mecs) == [(2, True), (6, True)]
    finally:
        await engine.dispose()
