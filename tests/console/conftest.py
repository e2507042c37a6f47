"""Console fixtures: the demo dataset imported into the test database on each backend."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq.demo_data import WORKED_EXAMPLE, generate
from hq.importer import import_lines
from regions import load_directory
from tests.conftest import PEPPER

_LINES = [json.dumps(c, ensure_ascii=False) for c in generate()]


@pytest.fixture
async def demo(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    report = await import_lines(sessions, _LINES, "demo", load_directory(), PEPPER.encode())
    assert not report.errors, report.errors[:3]
    return WORKED_EXAMPLE
