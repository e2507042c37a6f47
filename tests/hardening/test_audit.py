"""Audit: every mutation and every full read of victim data is chained into audit_log;
`hq audit verify` finds edits, deletions and reordering; PostgreSQL refuses UPDATE/DELETE
of audit rows; auditTrail is for prosecutors and admins only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from hq.audit.models import AuditEntry, AuditRef
from hq.audit.recorder import append
from hq.audit.verify import verify_chain
from hq.db import make_engine, make_sessionmaker
from hq.models import Principal
from tests.conftest import PEPPER
from tests.foundation.test_api import DATA, IMPORT_M, ONE_Q, REGISTER_M

TRAIL_Q = """query($t: String, $i: String, $p: Int, $from: DateTime, $to: DateTime) {
  auditTrail(objectType: $t, objectId: $i, principalId: $p, from: $from, to: $to) {
    hasNextPage entries { seq kind operation outcome errorCodes principalId role unitId client requestId
                          objects { type id } fields } } }"""


async def _entries(sessions) -> list[AuditEntry]:
    async with sessions() as s:
        return list((await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def test_mutations_and_detail_reads_are_audited_and_chained(api, tokens, sessions) -> None:
    await api.ok(IMPORT_M, tokens.analyst, {"j": DATA})
    new = {"registrationNumber": "610000000000009", "region": "KZ-61", "registeredAt": "2024-02-01",
           "victim": {"name": "Aigerim Nurova", "phone": "+7 701 555 44 33", "iin": "900101400123"}}
    resp = await api.client.post("/graphql", json={"query": REGISTER_M, "variables": {"i": new}},
                                 headers={"Authorization": f"Bearer {tokens.officer_turkistan}", "X-Request-ID": "req-42"})
    assert resp.status_code == 200 and resp.headers["x-request-id"] == "req-42"
    body = await api.gql(REGISTER_M, tokens.prosecutor, {"i": new})  # refused: still audited
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    before = len(await _entries(sessions))
    await api.ok("{ cases(first: 5) { edges { node { victim { name phone } } } } }", tokens.analyst)
    assert len(await _entries(sessions)) == before  # masked list views are not personal-data reads
    await api.ok(ONE_Q, tokens.analyst, {"r": "610000000000001"})
    await api.ok('query { case(registrationNumber: "610000000000001") { victim { iin } } }', tokens.admin)

    entries = await _entries(sessions)
    imp, reg, refused, read1, read2 = entries
    assert (imp.kind, imp.operation, imp.outcome, imp.role) == ("mutation", "importCases", "ok", "hq_analyst")
    assert sorted(i for _, i in imp.objects) == ["230000000000001", "610000000000001", "710000000000001"]
    assert (reg.operation, reg.outcome, reg.unit_id, reg.request_id) == ("registerCase", "ok", "kz-61-k", "req-42")
    assert reg.objects == [["case", "610000000000009"]] and reg.client
    assert "Aigerim" not in str(reg.detail) and "900101400123" not in str(reg.detail)  # no values, only ids
    assert (refused.outcome, refused.detail["codes"], refused.role) == ("error", ["FORBIDDEN"], "prosecutor")
    assert (read1.kind, read1.objects, read1.fields) == ("read", [["case", "610000000000001"]],
                                                        ["victim.iin", "victim.name", "victim.phone"])
    assert (read2.role, read2.fields) == ("admin", ["victim.iin"])
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(e.prev_hash == p.hash for p, e in zip(entries, entries[1:]))
    report = await verify_chain(sessions)
    assert report.ok and report.entries == 5 and report.head_hash == read2.hash


async def test_audit_trail_is_for_prosecutors_and_admins(api, tokens, sessions) -> None:
    await api.ok(IMPORT_M, tokens.analyst, {"j": DATA})
    await api.ok(ONE_Q, tokens.officer_turkistan, {"r": "610000000000001"})
    for token in (tokens.analyst, tokens.officer_turkistan, tokens.liaison_kaspi):
        body = await api.gql(TRAIL_Q, token, {"t": "case", "i": "610000000000001"})
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN" and body["data"] is None
    for token in (tokens.prosecutor, tokens.admin):
        trail = (await api.ok(TRAIL_Q, token, {"t": "case", "i": "610000000000001"}))["auditTrail"]["entries"]
        assert [(e["kind"], e["operation"], e["role"]) for e in trail] == [
            ("read", "read victim", "regional_officer"), ("mutation", "importCases", "hq_analyst")]
    async with sessions() as s:
        me = (await s.execute(select(Principal.id).where(Principal.name == "officer_turkistan"))).scalar_one()
    trail = (await api.ok(TRAIL_Q, tokens.prosecutor, {"p": me}))["auditTrail"]["entries"]
    assert [e["unitId"] for e in trail] == ["kz-61-k"]
    empty = (await api.ok(TRAIL_Q, tokens.prosecutor, {"p": me, "from": "2999-01-01T00:00:00+00:00"}))
    assert empty["auditTrail"]["entries"] == []
    past = await api.ok(TRAIL_Q, tokens.prosecutor, {"t": "case", "i": "610000000000001",
                                                     "to": "2000-01-01T00:00:00+05:00"})
    assert past["auditTrail"]["entries"] == []
    body = await api.gql(TRAIL_Q, tokens.admin, {})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "objectType"}


async def _fill(sessions, n: int) -> None:
    for i in range(n):
        await append(sessions, kind="mutation", operation=f"op{i}", outcome="ok", caller=None,
                     client="127.0.0.1", request_id=f"r{i}", objects=[("case", f"C{i}")])


def _verify_cli(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hq.cli", "audit", "verify"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HQ_DATABASE_URL": url, "HQ_TOKEN_PEPPER": PEPPER})


async def _tamper(url: str, *sql: str) -> None:
    """Change audit rows behind the application's back (PostgreSQL: as a superuser with triggers off)."""
    engine = make_engine(url)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        for stmt in sql:
            await conn.execute(text(stmt))
    await engine.dispose()


@pytest.mark.parametrize("tamper, where, words", [
    ("UPDATE audit_log SET operation = 'nothing' WHERE seq = 3", 3, "edited"),
    ("UPDATE audit_log SET client = '10.0.0.9' WHERE seq = 5", 5, "edited"),
    ("DELETE FROM audit_refs WHERE entry_id IN (SELECT id FROM audit_log WHERE seq = 4);"
     "DELETE FROM audit_log WHERE seq = 4", 5, "deleted"),
    ("UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3;"
     "UPDATE audit_log SET seq = 3 WHERE seq = -1", 2, "reordered"),
])
async def test_verify_detects_tampering_and_says_where(db_url, tamper, where, words) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    await _fill(sessions, 6)
    async with sessions() as s:
        ids = {seq: i for seq, i in await s.execute(select(AuditEntry.seq, AuditEntry.id))}
    res = await asyncio.to_thread(_verify_cli, db_url)
    assert res.returncode == 0 and "intact: 6 entries" in res.stdout, res.stdout + res.stderr
    await _tamper(db_url, *tamper.split(";"))
    report = await verify_chain(sessions)
    await engine.dispose()
    assert not report.ok
    assert report.problems[0].entry_id == ids[where]
    assert any(words in p.message for p in report.problems)
    res = await asyncio.to_thread(_verify_cli, db_url)
    assert res.returncode == 1
    assert f"BROKEN entry {ids[where]} " in res.stdout and "audit chain BROKEN" in res.stdout


async def test_verify_detects_a_deleted_tail(sqlite_url) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    await _fill(sessions, 4)
    await _tamper(sqlite_url, "DELETE FROM audit_refs WHERE entry_id = (SELECT id FROM audit_log WHERE seq = 4)",
                  "DELETE FROM audit_log WHERE seq = 4")
    report = await verify_chain(sessions)
    await engine.dispose()
    assert [p.entry_id for p in report.problems] == [None] and "at the end were deleted" in report.problems[0].message


async def test_concurrent_appends_never_fork_the_chain(db_url) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)

    async def writer(w: int) -> None:
        for i in range(10):
            await append(sessions, kind="read", operation="read victim", outcome="ok", caller=None,
                         client=f"w{w}", request_id=str(i), objects=[("case", f"{w}-{i}")], fields=["victim.name"])

    await asyncio.gather(*(writer(w) for w in range(8)))
    report = await verify_chain(sessions)
    async with sessions() as s:
        refs = (await s.execute(select(func.count()).select_from(AuditRef))).scalar_one()
    await engine.dispose()
    assert report.ok and report.entries == 80 and refs == 80


async def test_postgres_refuses_update_and_delete_of_audit_rows(pg_url) -> None:
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    await _fill(sessions, 2)
    # 1. the trigger: even the owner / a superuser connection cannot change or remove a row
    for stmt in ("UPDATE audit_log SET outcome = 'ok' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 2",
                 "DELETE FROM audit_refs", "TRUNCATE audit_log CASCADE"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(stmt))
    # 2. the documented dedicated role: no UPDATE/DELETE privilege at all
    role = f"hq_app_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
        await conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"))
        await conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_refs FROM {role}"))
    try:
        for stmt in ("UPDATE audit_log SET outcome = 'ok' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 2"):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with engine.begin() as conn:
                    await conn.execute(text(f"SET LOCAL ROLE {role}"))
                    await conn.execute(text(stmt))
        async with engine.begin() as conn:  # the same role can still append and read
            await conn.execute(text(f"SET LOCAL ROLE {role}"))
            assert (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar_one() == 2
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))
    assert (await verify_chain(sessions)).ok
    await engine.dispose()
