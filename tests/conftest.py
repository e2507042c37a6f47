"""Shared fixtures: migrated databases on SQLite and real PostgreSQL, the app, tokens.

PostgreSQL and Redis come from HQ_TEST_POSTGRES_URL / HQ_TEST_REDIS_URL. With
HQ_REQUIRE_SERVICES=1 (set by .ci/run) a missing service FAILS the test; without it the
test is skipped with a reason that names the variable, never silently.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from hq.auth import create_principal
from hq.db import alembic_config, make_engine, make_sessionmaker
from hq.directory_sync import load_directory_into_db
from hq.settings import Settings, load_settings
from regions import load_directory

PEPPER = "test-pepper-0123456789abcdef"
REQUIRE = os.environ.get("HQ_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("HQ_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("HQ_TEST_REDIS_URL", "")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def need_postgres() -> str:
    if PG_URL and _reachable(PG_URL, 5432):
        return PG_URL
    msg = "PostgreSQL not available: set HQ_TEST_POSTGRES_URL to a reachable server"
    if REQUIRE:
        pytest.fail(msg + " (HQ_REQUIRE_SERVICES=1)")
    pytest.skip(msg)


def need_redis() -> str:
    if REDIS_URL and _reachable(REDIS_URL, 6379):
        return REDIS_URL
    msg = "Redis not available: set HQ_TEST_REDIS_URL to a reachable server"
    if REQUIRE:
        pytest.fail(msg + " (HQ_REQUIRE_SERVICES=1)")
    pytest.skip(msg)


@pytest.fixture(params=["sqlite", "postgres"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no migrations run), on each backend: for migration tests."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
    base = need_postgres()
    name = f"hq_blank_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(base, f'CREATE DATABASE "{name}"'))
    _pg_created.append(name)
    return _pg_admin_url(base, name)


def _upgrade(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


async def _load_directory(url: str) -> None:
    engine = make_engine(url)
    async with make_sessionmaker(engine).begin() as s:
        await load_directory_into_db(s, load_directory())
    await engine.dispose()


_sqlite_template: Path | None = None
_pg_template: str | None = None
# The PostgreSQL databases this run made, dropped when it ends (`pytest_sessionfinish`): a run
# makes several hundred, and left behind they would pile up on the server run after run.
_pg_created: list[str] = []


def _sqlite_db(tmp_path: Path) -> str:
    global _sqlite_template
    if _sqlite_template is None:
        tpl = Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / f"hq-template-{uuid.uuid4().hex}.db"
        url = f"sqlite+aiosqlite:///{tpl}"
        _upgrade(url)
        asyncio.run(_load_directory(url))
        _sqlite_template = tpl
    target = tmp_path / "hq.db"
    shutil.copy(_sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


def _pg_admin_url(base: str, database: str) -> str:
    parsed = urlparse(base)
    return parsed._replace(path=f"/{database}").geturl()


async def _pg_exec(base: str, sql: str) -> None:
    engine = create_async_engine(_pg_admin_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


def _pg_db() -> str:
    global _pg_template
    base = need_postgres()
    if _pg_template is None:
        name = f"hq_tpl_{os.getpid()}"
        asyncio.run(_pg_exec(base, f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(_pg_exec(base, f'CREATE DATABASE "{name}"'))
        _pg_created.append(name)
        url = _pg_admin_url(base, name)
        _upgrade(url)
        asyncio.run(_load_directory(url))
        _pg_template = name
    name = f"hq_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(base, f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"'))
    _pg_created.append(name)
    return _pg_admin_url(base, name)


async def _drop_databases(base: str, names: list[str]) -> None:
    """Drop these databases, the template last; FORCE closes what a test left connected."""
    engine = create_async_engine(_pg_admin_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for name in reversed(names):
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the databases the run made: the SQLite template file and every PostgreSQL
    database (`_pg_created`), whatever the outcome."""
    if _sqlite_template is not None:
        _sqlite_template.unlink(missing_ok=True)
    if _pg_created and PG_URL:
        asyncio.run(_drop_databases(PG_URL, _pg_created))
        _pg_created.clear()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with the directory loaded, on each backend."""
    if request.param == "sqlite":
        return _sqlite_db(tmp_path)
    return _pg_db()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return _sqlite_db(tmp_path)


@pytest.fixture
def pg_url() -> str:
    return _pg_db()


def make_settings(db_url: str, **extra: Any) -> Settings:
    return load_settings(database_url=db_url, token_pepper=PEPPER, **extra)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings.database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@dataclass
class Tokens:
    analyst: str
    admin: str
    prosecutor: str
    officer_turkistan: str  # KZ-61
    officer_atyrau: str  # KZ-23
    liaison_kaspi: str
    liaison_halyk: str


async def make_tokens(sessions: async_sessionmaker[AsyncSession]) -> Tokens:
    pepper = PEPPER.encode()
    out = {}
    specs = {
        "analyst": dict(role="hq_analyst"),
        "admin": dict(role="admin"),
        "prosecutor": dict(role="prosecutor"),
        "officer_turkistan": dict(role="regional_officer", unit_id="kz-61-k"),
        "officer_atyrau": dict(role="regional_officer", unit_id="kz-23-k"),
        "liaison_kaspi": dict(role="liaison", org_id="kaspi"),
        "liaison_halyk": dict(role="liaison", org_id="halyk"),
    }
    async with sessions.begin() as s:
        for name, spec in specs.items():
            _, token = await create_principal(s, name=name, pepper=pepper, **spec)  # type: ignore[arg-type]
            out[name] = token
    return Tokens(**out)


@pytest.fixture
async def tokens(sessions: async_sessionmaker[AsyncSession]) -> Tokens:
    return await make_tokens(sessions)


class Api:
    """The real ASGI app, driven over HTTP through httpx."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def gql(self, query: str, token: str | None, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                      headers=headers)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        return resp.json()

    async def ok(self, query: str, token: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.gql(query, token, variables)
        assert "errors" not in body, body
        return body["data"]


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    from hq.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hq.test") as client:
            yield Api(client)
