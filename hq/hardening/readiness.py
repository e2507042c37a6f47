"""Can the database take writes? /readyz asks this after `SELECT 1` succeeds.

A read-only or full database still answers SELECT, so readiness also checks:
PostgreSQL's transaction_read_only; SQLite's query_only, the file's writability and the
free disk space next to it; and any read-only/full write failure seen in the last
RECENT_FAILURE seconds (noted by ServiceErrors), which covers a disk that filled up.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

RECENT_FAILURE = 15.0
MIN_FREE_BYTES = 32 * 1024 * 1024


def _sqlite_path(url: str) -> Path | None:
    path = url.split("///", 1)[1] if "///" in url else ""
    return Path(path.split("?", 1)[0]) if path and path != ":memory:" else None


async def storage_problem(services: Any) -> str | None:
    """A short description of why writes would fail now, or None."""
    seen = services.extras.get("storage_failure")
    if seen and time.monotonic() - seen[0] < RECENT_FAILURE:
        return f"error: {seen[1]} (a write failed {time.monotonic() - seen[0]:.0f} s ago)"
    engine = services.engine
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            if (await conn.execute(text("SHOW transaction_read_only"))).scalar_one() == "on":
                return "error: database_read_only"
            return None
        if (await conn.execute(text("PRAGMA query_only"))).scalar_one():
            return "error: database_read_only"
    path = _sqlite_path(services.settings.database_url)
    if path is not None and path.exists():
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            return "error: database_read_only (file or directory not writable)"
        if shutil.disk_usage(path.parent).free < MIN_FREE_BYTES:
            return "error: database_full (less than 32 MB free)"
    return None
