"""A throw-away PostgreSQL database for the benchmark: migrated, directory loaded, tokens made."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hq.auth import create_principal
from hq.db import alembic_config, make_engine, make_sessionmaker
from hq.directory_sync import load_directory_into_db
from hq.importer import import_lines
from regions import load_directory

PEPPER = "bench-pepper-0123456789abcdef"
CASE = "221561030000457"


@dataclass
class BenchDb:
    url: str
    name: str
    admin_url: str
    analyst: str
    officers: dict[str, str]  # unit id -> token


def _with_db(url: str, name: str) -> str:
    return urlparse(url)._replace(path=f"/{name}").geturl()


async def _exec(admin_url: str, sql: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def create(pg_url: str) -> BenchDb:
    name = f"hq_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _with_db(pg_url, "postgres")
    await _exec(admin, f'CREATE DATABASE "{name}"')
    url = _with_db(pg_url, name)
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    directory = load_directory()
    officers: dict[str, str] = {}
    async with sessions.begin() as s:
        await load_directory_into_db(s, directory)
        _, analyst = await create_principal(s, name="bench analyst", role="hq_analyst", pepper=PEPPER.encode())
        for unit in directory.units:
            if unit.id != "hq":
                _, officers[unit.id] = await create_principal(
                    s, name=f"bench {unit.id}", role="regional_officer", unit_id=unit.id, pepper=PEPPER.encode())
    line = ('{"registration_number": "%s", "region": "KZ-61", "registered_at": "2023-05-01", '
            '"identifiers": [{"kind": "card", "value": "4042 4386 0987 8024"}]}' % CASE)
    await import_lines(sessions, [line], "bench", directory, PEPPER.encode())
    await engine.dispose()
    return BenchDb(url=url, name=name, admin_url=admin, analyst=analyst, officers=officers)


async def drop(db: BenchDb) -> None:
    await _exec(db.admin_url, f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
