"""Migration 0007: the identifiers' (kind, key) uniqueness moves from a table constraint to
a unique index, on a database that already holds cases, without losing or breaking a row."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hq.bulk_import import bulk_import
from hq.db import alembic_config, make_engine, make_sessionmaker
from hq.demo_data import generate
from hq.importer import import_lines
from regions import load_directory
from tests.conftest import PEPPER, _load_directory

TABLES = ("identifiers", "mentions", "identifier_stats", "case_links")


async def _rows(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as s:
        rows = {t: [tuple(r) for r in await s.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))] for t in TABLES}
    await engine.dispose()
    return rows


async def _duplicate_refused(url: str) -> None:
    """A second identifier with an existing (kind, key) is refused: the index is unique."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions() as s:
        kind, key = (await s.execute(text("SELECT kind, key FROM identifiers ORDER BY id LIMIT 1"))).one()
    with pytest.raises(IntegrityError):
        async with sessions.begin() as s:
            await s.execute(text("INSERT INTO identifiers (kind, key, display, strength, excluded) "
                                 "VALUES (:k, :key, 'x', 'strong', false)"), {"k": kind, "key": key})
    await engine.dispose()


async def _unique_indexes(url: str) -> set[str]:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as s:
        if s.bind.dialect.name == "postgresql":
            sql = ("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                   "WHERE i.indrelid = 'identifiers'::regclass AND i.indisunique AND NOT i.indisprimary")
            constraints = (await s.execute(text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'identifiers'::regclass AND contype = 'u'"))).all()
        else:
            sql = "SELECT name FROM pragma_index_list('identifiers') WHERE \"unique\" = 1 AND origin = 'c'"
            constraints = (await s.execute(text(
                "SELECT name FROM pragma_index_list('identifiers') WHERE origin = 'u'"))).all()
        names = {r for (r,) in await s.execute(text(sql))}
    await engine.dispose()
    assert constraints == []  # no table constraint left behind next to the index
    return names


def test_0007_keeps_every_row_and_the_uniqueness(blank_url: str) -> None:
    cfg = alembic_config(blank_url)
    command.upgrade(cfg, "0006")
    asyncio.run(_load_directory(blank_url))
    lines = [json.dumps(o) for o in generate()]

    async def fill() -> None:
        engine = make_engine(blank_url)
        await import_lines(make_sessionmaker(engine), lines[:150], "demo", load_directory(), PEPPER.encode())
        await engine.dispose()

    asyncio.run(fill())
    before = asyncio.run(_rows(blank_url))
    assert len(before["identifiers"]) > 100 and len(before["mentions"]) > 150

    command.upgrade(cfg, "head")
    assert asyncio.run(_rows(blank_url)) == before
    assert asyncio.run(_unique_indexes(blank_url)) == {"uq_identifiers_kind_key"}
    asyncio.run(_duplicate_refused(blank_url))

    async def foreign_keys_hold() -> None:
        engine = make_engine(blank_url)
        async with make_sessionmaker(engine)() as s:
            if s.bind.dialect.name == "sqlite":
                assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
                assert (await s.execute(text("PRAGMA foreign_key_check"))).all() == []
            # mentions still reference identifiers: a mention of a missing identifier is refused
            case_id = (await s.execute(text("SELECT MIN(id) FROM cases"))).scalar()
        with pytest.raises(IntegrityError):
            async with make_sessionmaker(engine).begin() as s:
                await s.execute(text("INSERT INTO mentions (case_id, identifier_id, role) VALUES (:c, -5, 'suspect')"),
                                {"c": case_id})
        await engine.dispose()

    asyncio.run(foreign_keys_hold())

    # the ordinary path carries on after it
    async def more() -> None:
        engine = make_engine(blank_url)
        await import_lines(make_sessionmaker(engine), lines[150:], "demo", load_directory(), PEPPER.encode())
        await engine.dispose()

    asyncio.run(more())
    after = asyncio.run(_rows(blank_url))
    assert len(after["identifiers"]) > len(before["identifiers"])

    command.downgrade(cfg, "0006")  # and back: the constraint again, every row kept
    assert asyncio.run(_rows(blank_url)) == after
    asyncio.run(_duplicate_refused(blank_url))
    command.upgrade(cfg, "head")
    assert asyncio.run(_rows(blank_url)) == after


async def test_bulk_load_into_an_empty_database_rebuilds_the_unique_index(db_url: str, tmp_path: Path) -> None:
    """The load drops the (kind, key) index and builds it after the rows: it is unique again."""
    export = tmp_path / "demo.jsonl"
    export.write_text("\n".join(json.dumps(o) for o in generate()) + "\n")
    engine = make_engine(db_url)
    report = await bulk_import(engine, make_sessionmaker(engine), [export], PEPPER.encode(), hub_threshold=3,
                               workers=1)
    await engine.dispose()
    assert report.inserted > 0
    assert await _unique_indexes(db_url) == {"uq_identifiers_kind_key"}
    await _duplicate_refused(db_url)
