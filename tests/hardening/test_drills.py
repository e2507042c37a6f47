"""Failure drills: PostgreSQL restarting under writes, 50 concurrent clients, a read-only
or full database, and kill -9 of the server during a GraphQL bulk import.

The restart drill runs against a PRIVATE PostgreSQL cluster this test creates (initdb as
the `postgres` OS user into a temporary directory, on a free port), never the shared
server. The concurrency drill runs HQ_DRILL_SECONDS (default 15; the full drill is
HQ_DRILL_SECONDS=60).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text

from hq.audit.models import AuditEntry
from hq.audit.verify import verify_chain
from hq.db import make_engine, make_sessionmaker
from hq.hardening import readiness
from hq.models import Case, CaseLink, Victim
from hq.tasking.models import Task, TaskEvent
from tests.conftest import PEPPER, REQUIRE, _load_directory, _upgrade, make_tokens
from tests.foundation.test_cli import _big_export, _state
from tests.hardening.conftest import app_api, free_port, live_server

def _pg_bin() -> Path:
    """The newest installed PostgreSQL server binaries (Debian layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
DRILL_SECONDS = float(os.environ.get("HQ_DRILL_SECONDS", "15"))
REGISTER_M = "mutation($i: CaseInput!) { registerCase(input: $i) { registrationNumber } }"
IMPORT_M = "mutation($j: String!) { importCases(jsonl: $j) { imported updated unchanged rejected } }"
ISSUE_M = "mutation($i: IssueTaskInput!) { issueTask(input: $i) { id } }"


def _case_input(reg: str, region: str = "KZ-71", phone: str | None = None) -> dict[str, Any]:
    return {"registrationNumber": reg, "region": region, "registeredAt": "2024-03-01",
            "victim": {"name": "Test Victim", "phone": "+7 702 000 00 00", "iin": "850101400120"},
            "identifiers": [{"kind": "phone", "value": phone or f"+7 701 {reg[-7:-4]} {reg[-4:-2]} {reg[-2:]}"}]}


def _outcome(resp: httpx.Response, field: str) -> str:
    """ok | CODE | HTTP nnn: what one write request came back with."""
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}"
    body = resp.json()
    if body.get("errors"):
        return str(body["errors"][0].get("extensions", {}).get("code", "no code: " + body["errors"][0]["message"]))
    return "ok" if body["data"][field] is not None else "null"


# --- a private PostgreSQL cluster ------------------------------------------------------------

@contextlib.contextmanager
def private_postgres() -> Iterator[tuple[str, Any]]:
    """initdb + pg_ctl start on a free port; yields (url, restart function)."""
    if not (PG_BIN / "initdb").exists():
        if REQUIRE:
            pytest.fail(f"{PG_BIN}/initdb not installed (HQ_REQUIRE_SERVICES=1)")
        pytest.skip(f"{PG_BIN}/initdb not installed")
    try:
        pg = pwd.getpwnam("postgres")
    except KeyError:
        if REQUIRE:
            pytest.fail("no `postgres` OS user to run a private cluster as (HQ_REQUIRE_SERVICES=1)")
        pytest.skip("no `postgres` OS user to run a private cluster as")
    root = Path(tempfile.mkdtemp(prefix="hq-pg-"))
    os.chown(root, pg.pw_uid, pg.pw_gid)
    data, port = root / "data", free_port()

    def as_pg(*cmd: str, timeout: float = 120) -> None:
        prefix = [] if os.getuid() == pg.pw_uid else ["runuser", "-u", "postgres", "--"]
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=timeout)

    as_pg(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", opts]
    as_pg(*ctl, "-w", "start")

    def restart(down_seconds: float = 1.0) -> None:
        as_pg(*ctl, "-m", "fast", "-w", "stop")
        time.sleep(down_seconds)
        as_pg(*ctl, "-w", "start")

    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres", restart
    finally:
        with contextlib.suppress(Exception):
            as_pg(*ctl, "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(root, ignore_errors=True)


async def test_postgres_restart_during_writes_fails_cleanly_and_recovers(tmp_path: Path) -> None:
    with private_postgres() as (url, restart):
        await asyncio.to_thread(_upgrade, url)
        await asyncio.to_thread(lambda: asyncio.run(_load_directory(url)))
        engine = make_engine(url)
        tokens = await make_tokens(make_sessionmaker(engine))
        async with app_api(url) as api:
            auth = {"Authorization": f"Bearer {tokens.analyst}"}
            outcomes: Counter[str] = Counter()
            acknowledged: list[str] = []
            numbers = itertools.count(1)
            stop = asyncio.Event()

            async def writer() -> None:
                while not stop.is_set():
                    reg = f"71{next(numbers):013d}"
                    try:
                        resp = await api.client.post("/graphql", headers=auth, json={
                            "query": REGISTER_M, "variables": {"i": _case_input(reg)}})
                    except Exception as exc:  # noqa: BLE001 - recorded, and fails the test below
                        outcomes[f"exception {exc.__class__.__name__}"] += 1
                        continue
                    result = _outcome(resp, "registerCase")
                    outcomes[result] += 1
                    if result == "ok":
                        acknowledged.append(reg)
                    await asyncio.sleep(0.01)

            writers = [asyncio.create_task(writer()) for _ in range(4)]
            await asyncio.sleep(1.0)
            before = len(acknowledged)
            await asyncio.to_thread(restart, 1.5)
            deadline = time.monotonic() + 30  # recovers by itself: no app restart
            while time.monotonic() < deadline and len(acknowledged) < before + 20:
                await asyncio.sleep(0.2)
            stop.set()
            await asyncio.gather(*writers)
            ready = await api.client.get("/readyz")

        print(f"restart drill outcomes: {dict(outcomes)}")
        assert before > 0 and len(acknowledged) >= before + 20, outcomes
        assert ready.status_code == 200
        failed = {k: v for k, v in outcomes.items() if k != "ok"}
        assert failed, "the restart was not noticed by any request"
        # every failure was clean: a coded GraphQL error or a 503, never a 500 or an uncoded error
        assert set(failed) <= {"SERVICE_UNAVAILABLE", "HTTP 503", "CONFLICT"}, outcomes
        async with make_sessionmaker(engine)() as s:
            stored = set((await s.execute(select(Case.registration_number))).scalars())
            victims = (await s.execute(select(func.count()).select_from(Victim))).scalar_one()
            links = (await s.execute(select(func.count()).select_from(CaseLink))).scalar_one()
        await engine.dispose()
        assert set(acknowledged) <= stored  # no acknowledged write was lost
        assert victims == links == len(stored)  # and nothing half-written


# --- 50 concurrent clients -----------------------------------------------------------------------

async def test_fifty_concurrent_clients_reconcile(pg_url: str) -> None:
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    tokens = await make_tokens(sessions)
    async with app_api(pg_url, rate_limit_requests=0) as api:
        analyst = {"Authorization": f"Bearer {tokens.analyst}"}
        officer = {"Authorization": f"Bearer {tokens.officer_turkistan}"}
        outcomes: Counter[str] = Counter()
        problems: list[str] = []
        registered: set[str] = set()
        imported_numbers: set[str] = set()
        tasks_issued = 0
        mutations = 0
        seed = await api.gql(REGISTER_M, tokens.analyst, {"i": _case_input("619999999999999", "KZ-61")})
        assert "errors" not in seed, seed
        registered.add("619999999999999")
        mutations += 1
        deadline = time.monotonic() + DRILL_SECONDS

        async def client(n: int) -> None:
            nonlocal tasks_issued, mutations
            for i in itertools.count():
                if time.monotonic() > deadline:
                    return
                kind = (n + i) % 3
                if kind == 0:  # register a new case; every 5th client registers in its own region
                    reg = f"{61 if n % 5 == 0 else 71}{n:03d}{i:010d}"
                    headers = officer if n % 5 == 0 else analyst
                    resp = await api.client.post("/graphql", headers=headers, json={"query": REGISTER_M, "variables": {
                        "i": _case_input(reg, "KZ-61" if n % 5 == 0 else "KZ-71", phone=f"+7 701 {n % 40:03d} 11 22")}})
                    result = _outcome(resp, "registerCase")
                    if result == "ok":
                        registered.add(reg)
                elif kind == 1:  # import 5 lines, overlapping with other clients (same numbers: updates)
                    lines = [f'{{"registration_number": "75{(n * 7 + i + k) % 400:013d}", "region": "KZ-75", '
                             f'"registered_at": "2024-01-0{1 + k}", "damage_kzt": {1000 * (i + 1)}, "identifiers": '
                             f'[{{"kind": "telegram", "value": "@ring_{(n + k) % 9}"}}]}}' for k in range(5)]
                    resp = await api.client.post("/graphql", headers=analyst, json={
                        "query": IMPORT_M, "variables": {"j": "\n".join(lines)}})
                    result = _outcome(resp, "importCases")
                    if result == "ok":
                        assert resp.json()["data"]["importCases"]["rejected"] == 0, resp.text
                        imported_numbers.update(json.loads(line)["registration_number"] for line in lines)
                else:  # issue a task to a regional unit
                    resp = await api.client.post("/graphql", headers=analyst, json={"query": ISSUE_M, "variables": {
                        "i": {"kind": "interview", "targetUnits": ["kz-61-k"], "text": f"client {n} task {i}",
                              "caseRegistrationNumber": "619999999999999"}}})
                    result = _outcome(resp, "issueTask")
                    if result == "ok":
                        tasks_issued += 1
                outcomes[result] += 1
                if result != "ok" and len(problems) < 5:
                    problems.append(resp.text[:300])
                if resp.status_code == 200:
                    mutations += 1

        await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(50))), DRILL_SECONDS + 120)
        assert (await api.client.get("/readyz")).status_code == 200

    async with sessions() as s:
        cases = set((await s.execute(select(Case.registration_number))).scalars())
        victims = (await s.execute(select(func.count()).select_from(Victim))).scalar_one()
        links = (await s.execute(select(func.count()).select_from(CaseLink))).scalar_one()
        task_rows = (await s.execute(select(func.count()).select_from(Task))).scalar_one()
        event_ids = list((await s.execute(select(TaskEvent.id))).scalars())
        audited = (await s.execute(select(func.count()).select_from(AuditEntry)
                                   .where(AuditEntry.kind == "mutation"))).scalar_one()
    report = await verify_chain(sessions)
    await engine.dispose()
    assert set(outcomes) == {"ok"}, (outcomes, problems)  # no deadlock, no timeout, no error at all
    assert outcomes["ok"] > 150, outcomes
    assert cases == registered | imported_numbers  # every acknowledged write is there, nothing else
    assert victims == len(registered) and links == len(cases)  # imported lines carry no victim
    assert task_rows == tasks_issued  # no lost or doubled task
    assert len(event_ids) == len(set(event_ids)) >= tasks_issued  # no duplicate event id
    assert report.ok and audited == mutations  # one chained audit entry per mutation, no fork


# --- read-only and full databases -------------------------------------------------------------------

async def _write(api, token: str, reg: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return await api.gql(REGISTER_M, token, {"i": _case_input(reg)})


async def test_read_only_postgres_is_a_clear_error_and_not_ready(pg_url: str, monkeypatch) -> None:
    monkeypatch.setattr(readiness, "RECENT_FAILURE", 0.5)
    dbname = pg_url.rsplit("/", 1)[1]
    admin = make_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")

    async def set_read_only(on: bool) -> None:
        async with admin.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = {"on" if on else "off"}'))
            await conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": dbname})

    engine = make_engine(pg_url)
    tokens = await make_tokens(make_sessionmaker(engine))
    await engine.dispose()
    try:
        async with app_api(pg_url) as api:
            assert "errors" not in await _write(api, tokens.analyst, "710000000000001")
            await set_read_only(True)
            body = await _write(api, tokens.analyst, "710000000000002")
            assert body["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE", "reason": "database_read_only"}
            assert "read-only" in body["errors"][0]["message"]
            ready = await api.client.get("/readyz")
            assert ready.status_code == 503 and "database_read_only" in ready.json()["checks"]["database"]
            assert (await api.client.get("/healthz")).status_code == 200  # alive, just not ready
            await set_read_only(False)
            await asyncio.sleep(0.6)
            assert "errors" not in await _write(api, tokens.analyst, "710000000000003")
            assert (await api.client.get("/readyz")).status_code == 200
    finally:
        await set_read_only(False)
        await admin.dispose()


@pytest.mark.parametrize("pragma, reason", [("query_only = 1", "database_read_only"),
                                            ("max_page_count = {pages}", "database_full")])
async def test_read_only_or_full_sqlite_is_a_clear_error_and_not_ready(sqlite_url: str, pragma: str,
                                                                        reason: str, monkeypatch) -> None:
    monkeypatch.setattr(readiness, "RECENT_FAILURE", 60.0)
    engine = make_engine(sqlite_url)
    tokens = await make_tokens(make_sessionmaker(engine))
    async with engine.connect() as conn:
        pages = (await conn.execute(text("PRAGMA page_count"))).scalar_one()
    await engine.dispose()
    async with app_api(sqlite_url) as api:
        app_engine = api.app.state.services.engine  # type: ignore[attr-defined]

        @event.listens_for(app_engine.sync_engine, "connect")
        def _limit(dbapi_conn: Any, _record: Any) -> None:  # the disk "fills up" / goes read-only now
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA " + pragma.format(pages=pages))
            cur.close()

        await app_engine.dispose()
        codes = []
        for i in range(30):
            body = await _write(api, tokens.analyst, f"7100000000001{i:02d}")
            if body.get("errors"):
                codes.append(body["errors"][0]["extensions"])
                break
        assert codes == [{"code": "SERVICE_UNAVAILABLE", "reason": reason}]
        ready = await api.client.get("/readyz")
        assert ready.status_code == 503 and reason in ready.json()["checks"]["database"]


# --- kill -9 during a GraphQL bulk import ---------------------------------------------------------

def test_kill_during_graphql_import_then_rerun_equals_clean_import(tmp_path: Path, sqlite_url: str) -> None:
    export = tmp_path / "big.jsonl"
    _big_export(export, 3000)
    jsonl = export.read_text()
    clean_url = f"sqlite+aiosqlite:///{tmp_path / 'clean.db'}"
    token = asyncio.run(_token(sqlite_url))
    shutil.copy(sqlite_url.split("///", 1)[1], tmp_path / "clean.db")  # same principals, same token
    env = {"HQ_IMPORT_BATCH_SIZE": "50", "HQ_RATE_LIMIT_REQUESTS": "0", "HQ_LOG_LEVEL": "WARNING"}
    auth = {"Authorization": f"Bearer {token}"}
    body = {"query": IMPORT_M, "variables": {"j": jsonl}}

    with live_server(clean_url, **env) as base:
        clean = httpx.post(f"{base}/graphql", json=body, headers=auth, timeout=300)
        assert clean.json()["data"]["importCases"]["imported"] == 3000, clean.text[:500]

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hq.cli", "serve", "--port", str(port)],
                            env={**os.environ, "HQ_DATABASE_URL": sqlite_url, "HQ_TOKEN_PEPPER": PEPPER, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        sender = threading.Thread(target=lambda: _post_quietly(f"{base}/graphql", body, auth), daemon=True)
        sender.start()
        deadline = time.time() + 120
        while time.time() < deadline and asyncio.run(_state(sqlite_url))["cases"] < 300:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # kill -9 in the middle of the mutation
        proc.wait()
        sender.join(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = asyncio.run(_state(sqlite_url))
    assert 0 < partial["cases"] < 3000
    assert partial["cases"] % 50 == 0  # whole batches only: no half-linked case
    assert partial["victims"] == partial["cases"] == partial["links"]

    with live_server(sqlite_url, **env) as base:
        again = httpx.post(f"{base}/graphql", json=body, headers=auth, timeout=300).json()["data"]["importCases"]
    assert again["unchanged"] == partial["cases"] and again["imported"] == 3000 - partial["cases"]
    assert again["rejected"] == 0
    assert asyncio.run(_state(sqlite_url)) == asyncio.run(_state(clean_url))


async def _token(url: str) -> str:
    from hq.auth import create_principal

    engine = make_engine(url)
    async with make_sessionmaker(engine).begin() as s:
        _, token = await create_principal(s, name="importer", role="hq_analyst", pepper=PEPPER.encode())
    await engine.dispose()
    return token


def _post_quietly(url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(url, json=body, headers=headers, timeout=300)
