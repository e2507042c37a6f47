"""A bulk load into an empty SQLite database runs on a rollback journal, then WAL again.

The switch saves the WAL's second copy of every page (`hq.bulk_import._rollback_journal`).
These tests hold it to what WAL gave: a kill in the middle leaves nothing, the database is
in WAL mode afterwards, and a load beside another open connection keeps WAL and still works.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from bench.datagen import write_jsonl
from hq.bulk_import import _rollback_journal, bulk_import
from sqlalchemy import text

from hq.db import make_engine, make_sessionmaker
from tests.conftest import PEPPER
from tests.foundation.test_cli import HQ, _state, run
from tests.linking.test_linking import partition


def _file(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def _mode(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


async def test_the_switch_is_made_only_for_an_empty_database_nobody_else_has_open(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    other = sqlite3.connect(_file(sqlite_url))  # another process's connection, say a running server
    other.execute("SELECT COUNT(*) FROM cases").fetchone()
    async with sessions() as s:
        assert await _rollback_journal(s) is False
    other.close()
    async with sessions() as s:
        assert await _rollback_journal(s) is True
        raw = await (await s.connection()).exec_driver_sql("PRAGMA journal_mode")
        assert raw.scalar_one() == "delete"
        await (await s.connection()).exec_driver_sql("PRAGMA journal_mode = WAL")
    await engine.dispose()

    export = tmp_path / "few.jsonl"
    write_jsonl(export, 300)
    assert run(["import", "--bulk", "--no-progress", str(export)], sqlite_url).returncode == 0
    engine = make_engine(sqlite_url)
    async with make_sessionmaker(engine)() as s:
        assert await _rollback_journal(s) is False  # not empty any more
    await engine.dispose()


async def test_a_load_beside_an_open_connection_keeps_wal_and_gives_the_same_links(sqlite_url: str,
                                                                                  tmp_path: Path) -> None:
    export = tmp_path / "ring.jsonl"
    write_jsonl(export, 2000)
    alone = tmp_path / "alone.db"
    shutil.copy(_file(sqlite_url), alone)
    alone_url = f"sqlite+aiosqlite:///{alone}"

    other = sqlite3.connect(_file(sqlite_url))
    other.execute("SELECT COUNT(*) FROM cases").fetchone()
    results = {}
    for url in (sqlite_url, alone_url):
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        report = await bulk_import(engine, sessions, [export], PEPPER.encode(), hub_threshold=3, workers=2)
        assert report.inserted == 2000 and not report.errors
        results[url] = await partition(sessions)
        async with sessions() as s:  # the pooled connection that loaded is as `make_engine` set it up
            conn = await s.connection()
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
        await engine.dispose()
        assert _mode(_file(url)) == "wal"
    assert other.execute("SELECT COUNT(*) FROM cases").fetchone() == (2000,)  # the open reader sees the load
    other.close()
    assert results[sqlite_url] == results[alone_url] and len(results[alone_url]) > 50


def test_kill_during_a_bulk_load_on_the_rollback_journal_leaves_nothing(sqlite_url: str, tmp_path: Path) -> None:
    export = tmp_path / "national.jsonl"
    write_jsonl(export, 30_000)
    clean = tmp_path / "clean.db"
    shutil.copy(_file(sqlite_url), clean)
    clean_url = f"sqlite+aiosqlite:///{clean}"
    assert run(["import", "--bulk", "--no-progress", str(export)], clean_url).returncode == 0

    db = _file(sqlite_url)
    journal = db.with_name(db.name + "-journal")
    proc = subprocess.Popen(HQ + ["import", "--bulk", "--no-progress", str(export)],
                            env={**os.environ, "HQ_DATABASE_URL": sqlite_url, "HQ_TOKEN_PEPPER": PEPPER},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not journal.exists() and proc.poll() is None:
            time.sleep(0.01)
        assert journal.exists(), "the load did not run on a rollback journal"
        time.sleep(1.0)  # well into the load (it takes several seconds)
        assert proc.poll() is None, "the load ended before the kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert journal.exists()  # a hot journal: the next connection rolls the load back
    after_kill = asyncio.run(_state(sqlite_url))
    assert after_kill["cases"] == after_kill["mentions"] == after_kill["links"] == 0
    assert _mode(db) == "wal" and not journal.exists()

    assert run(["import", "--bulk", "--no-progress", str(export)], sqlite_url).returncode == 0
    assert asyncio.run(_state(sqlite_url)) == asyncio.run(_state(clean_url))
    assert _mode(db) == "wal"


def test_a_process_that_connects_during_the_load_reads_committed_states_only(sqlite_url: str,
                                                                            tmp_path: Path) -> None:
    """Another process (a server started early, say) connects while the load holds the file on
    its rollback journal: it reads the database as it was before the load or, once the load
    has committed, all of it (waiting meanwhile like for any writer), never part of it. The
    load finishes normally, and that process's connection is in WAL mode afterwards."""
    export = tmp_path / "national.jsonl"
    write_jsonl(export, 20_000)
    db = _file(sqlite_url)
    journal = db.with_name(db.name + "-journal")
    proc = subprocess.Popen(HQ + ["import", "--bulk", "--no-progress", str(export)],
                            env={**os.environ, "HQ_DATABASE_URL": sqlite_url, "HQ_TOKEN_PEPPER": PEPPER},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    async def reader() -> tuple[list[int], int, str]:
        engine = make_engine(sqlite_url)
        sessions = make_sessionmaker(engine)

        async def count() -> int:
            async with sessions() as s:
                return int((await s.execute(text("SELECT COUNT(*) FROM cases"))).scalar_one())

        try:
            seen = []
            while proc.poll() is None:
                seen.append(await count())
                await asyncio.sleep(0.05)
            async with sessions() as s:
                mode = str((await s.execute(text("PRAGMA journal_mode"))).scalar_one())
            return seen, await count(), mode
        finally:
            await engine.dispose()

    try:
        deadline = time.time() + 120
        while time.time() < deadline and not journal.exists() and proc.poll() is None:
            time.sleep(0.01)
        assert journal.exists() and proc.poll() is None, "the load did not run on a rollback journal"
        seen, after, mode = asyncio.run(reader())
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "imported 20000" in out
    assert seen and set(seen) <= {0, 20_000}
    assert after == 20_000 and mode == "wal" and _mode(db) == "wal"
