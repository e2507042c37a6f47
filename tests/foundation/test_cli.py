"""The `hq` command line as a user runs it: settings errors, schema guard, tokens,
a kill -9 in the middle of an import, and a live server's websocket authentication."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import func, select

from hq.db import make_engine, make_sessionmaker
from hq.models import Case, CaseLink, Mention, Victim
from tests.conftest import PEPPER
from tests.helpers import case

HQ = [sys.executable, "-m", "hq.cli"]


def run(args: list[str], db_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(HQ + args, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HQ_DATABASE_URL": db_url, "HQ_TOKEN_PEPPER": PEPPER, **env})


def test_invalid_setting_stops_with_one_line_naming_it(sqlite_url: str) -> None:
    res = run(["settings"], sqlite_url, HQ_PORT="99999")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "HQ_PORT" in res.stderr
    res = run(["settings"], "mysql://x")
    assert res.returncode == 2 and "HQ_DATABASE_URL" in res.stderr


def test_import_names_a_path_that_is_not_a_file(sqlite_url: str, tmp_path: Path) -> None:
    for bulk in ([], ["--bulk"]):
        res = run(["import", *bulk, str(tmp_path), str(tmp_path / "missing.jsonl")], sqlite_url)
        assert res.returncode == 2
        assert res.stderr.strip() == f"error: {tmp_path}: a directory, not a file"
        res = run(["import", *bulk, str(tmp_path / "missing.jsonl")], sqlite_url)
        assert (res.returncode, res.stderr.strip()) == (2, f"error: {tmp_path / 'missing.jsonl'}: no such file")


def test_an_sqlite_too_old_for_the_write_path_is_refused_by_name(monkeypatch: pytest.MonkeyPatch,
                                                                  sqlite_url: str) -> None:
    import sqlite3

    from hq.db import make_engine

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    with pytest.raises(RuntimeError, match=r"SQLite 3\.31\.1 is too old: HQ needs 3\.35\.0 or newer"):
        make_engine(sqlite_url)
    monkeypatch.undo()
    make_engine(sqlite_url)  # this machine's own SQLite is new enough


def test_server_refuses_a_database_that_is_behind(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    assert run(["db", "upgrade", "0001"], url).returncode == 0
    res = run(["serve", "--port", "1"], url)
    assert res.returncode == 1
    assert "hq db upgrade" in res.stderr and "0001" in res.stderr
    assert run(["db", "upgrade"], url).returncode == 0
    assert run(["db", "current"], url).returncode == 0


def test_principals_create_list_revoke(sqlite_url: str) -> None:
    res = run(["principals", "create", "--role", "regional_officer", "--unit", "kz-23-k", "--name", "Atyrau duty"], sqlite_url)
    assert res.returncode == 0, res.stderr
    token = res.stdout.strip().splitlines()[-1]
    assert token.startswith("hq_")
    bad = run(["principals", "create", "--role", "regional_officer"], sqlite_url)
    assert bad.returncode == 2 and "--unit" in bad.stderr
    bad = run(["principals", "create", "--role", "liaison", "--org", "no-such-bank"], sqlite_url)
    assert bad.returncode == 2 and "no-such-bank" in bad.stderr
    listing = run(["principals", "list"], sqlite_url).stdout
    assert "kz-23-k" in listing and "active" in listing
    pid = listing.split()[0]
    assert run(["principals", "revoke", pid], sqlite_url).returncode == 0
    assert "revoked" in run(["principals", "list"], sqlite_url).stdout


def _big_export(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps(case(f"5{i:014d}", "KZ-71", ("telegram", f"@ring_{i // 7:05d}"),
                                     ("phone", f"+7 701 {i % 1000:03d} 00 00"),
                                     victim={"name": "A. B.", "phone": "+7 702 000 00 00", "iin": "850101400120"})) + "\n")


async def _state(url: str) -> dict[str, object]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions() as s:
        out = {
            "cases": (await s.execute(select(func.count()).select_from(Case))).scalar_one(),
            "victims": (await s.execute(select(func.count()).select_from(Victim))).scalar_one(),
            "mentions": (await s.execute(select(func.count()).select_from(Mention))).scalar_one(),
            "links": (await s.execute(select(func.count()).select_from(CaseLink))).scalar_one(),
            "groups": sorted(
                tuple(sorted(r for r in regs.split(",")))
                for (regs,) in await s.execute(
                    select(func.group_concat(Case.registration_number)).join(CaseLink, CaseLink.case_id == Case.id)
                    .where(CaseLink.mec_id.is_not(None)).group_by(CaseLink.mec_id))
            ),
        }
    await engine.dispose()
    return out


def test_kill_during_import_then_rerun_equals_clean_import(tmp_path: Path, sqlite_url: str) -> None:
    export = tmp_path / "big.jsonl"
    _big_export(export, 3000)
    clean = tmp_path / "clean.db"
    clean_url = f"sqlite+aiosqlite:///{clean}"
    Path(clean).write_bytes(Path(sqlite_url.split("///", 1)[1]).read_bytes())
    assert run(["import", "--no-progress", "--batch-size", "50", str(export)], clean_url).returncode == 0

    proc = subprocess.Popen(HQ + ["import", "--no-progress", "--batch-size", "50", str(export)],
                            env={**os.environ, "HQ_DATABASE_URL": sqlite_url, "HQ_TOKEN_PEPPER": PEPPER},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # kill -9 once some but not all batches are in
    deadline = time.time() + 120
    while time.time() < deadline:
        done = asyncio.run(_state(sqlite_url))["cases"]
        if done and done >= 300:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = asyncio.run(_state(sqlite_url))
    assert 0 < partial["cases"] < 3000
    assert partial["cases"] % 50 == 0  # whole batches only: no half-written case
    assert partial["victims"] == partial["cases"] == partial["links"]
    res = run(["import", "--no-progress", "--batch-size", "50", str(export)], sqlite_url)
    assert res.returncode == 0, res.stderr
    assert f"unchanged {partial['cases']}" in res.stdout
    assert asyncio.run(_state(sqlite_url)) == asyncio.run(_state(clean_url))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_websocket_without_valid_token_is_closed_4401(sqlite_url: str) -> None:
    port = _free_port()
    proc = subprocess.Popen(HQ + ["serve", "--port", str(port)],
                            env={**os.environ, "HQ_DATABASE_URL": sqlite_url, "HQ_TOKEN_PEPPER": PEPPER},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        for payload in ({}, {"token": "hq_forged"}):
            async with websockets.connect(f"ws://127.0.0.1:{port}/graphql",
                                          subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.rcvd.code == 4401
    finally:
        proc.terminate()
        proc.wait(10)
