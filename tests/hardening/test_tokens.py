"""Tokens: expiry, rotation with a grace period, failed-login and per-principal rate limits
(in memory and through Redis), and no token in any log line."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import subprocess
import sys
import uuid

import httpx
import pytest
from sqlalchemy import select

from hq.auth import create_principal
from hq.hardening.logs import REDACTED, RedactTokens, redact
from hq.models import Principal
from tests.conftest import PEPPER, need_redis
from tests.hardening.conftest import app_api, live_server

ME = "{ me { role } }"


async def _status(api, token: str | None, client: httpx.AsyncClient | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await (client or api.client).post("/graphql", json={"query": ME}, headers=headers)


async def test_expired_token_is_refused(sqlite_url, sessions) -> None:
    async with sessions.begin() as s:
        _, old = await create_principal(s, name="x", role="prosecutor", pepper=PEPPER.encode(),
                                        expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        _, fresh = await create_principal(s, name="y", role="prosecutor", pepper=PEPPER.encode(),
                                          expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    async with app_api(sqlite_url) as api:
        assert (await _status(api, old)).status_code == 401
        assert (await _status(api, fresh)).status_code == 200


@pytest.fixture
def settings(sqlite_url):  # the shared `sessions` fixture on SQLite only for this module
    from tests.conftest import make_settings

    return make_settings(sqlite_url)


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hq.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HQ_DATABASE_URL": url, "HQ_TOKEN_PEPPER": PEPPER})


async def test_rotation_keeps_the_old_token_for_the_grace_period(sqlite_url, sessions) -> None:
    async with sessions.begin() as s:
        p, old = await create_principal(s, name="rotating", role="hq_analyst", pepper=PEPPER.encode())
        pid = p.id
    res = await asyncio.to_thread(_cli, sqlite_url, "principals", "rotate", str(pid), "--grace", "2")
    assert res.returncode == 0, res.stderr
    new = res.stdout.strip().splitlines()[-1]
    assert new.startswith("hq_") and new != old and new not in res.stderr
    async with app_api(sqlite_url) as api:
        assert (await _status(api, new)).status_code == 200
        assert (await _status(api, old)).status_code == 200  # still inside the grace period
        await asyncio.sleep(2.2)
        assert (await _status(api, old)).status_code == 401
        assert (await _status(api, new)).status_code == 200
        # immediate rotation: the previous token dies at once; the principal id is kept
        res = await asyncio.to_thread(_cli, sqlite_url, "principals", "rotate", str(pid), "--grace", "0")
        newer = res.stdout.strip().splitlines()[-1]
        assert (await _status(api, new)).status_code == 401
        assert (await _status(api, newer)).status_code == 200
    async with sessions() as s:
        assert (await s.execute(select(Principal.id).where(Principal.name == "rotating"))).scalar_one() == pid
    missing = await asyncio.to_thread(_cli, sqlite_url, "principals", "rotate", "99999")
    assert missing.returncode == 1


async def test_failed_authentication_is_rate_limited_per_client(sqlite_url, sessions) -> None:
    async with sessions.begin() as s:
        _, good = await create_principal(s, name="g", role="prosecutor", pepper=PEPPER.encode())
    async with app_api(sqlite_url, auth_failure_limit=3, auth_failure_window=60) as api:
        for _ in range(3):
            assert (await _status(api, "hq_guess_" + uuid.uuid4().hex)).status_code == 401
        assert (await _status(api, None)).status_code == 401  # no token at all is not a guess
        refused = await _status(api, "hq_guess_more")
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
        assert "failed authentications" in refused.json()["detail"]
        assert (await _status(api, good)).status_code == 429  # the address is blocked, whatever it sends
        other = httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app, client=("10.1.2.3", 5000)),
                                  base_url="http://hq.test")
        async with other:
            assert (await _status(api, good, other)).status_code == 200


async def test_per_principal_rate_limit(sqlite_url, sessions) -> None:
    async with sessions.begin() as s:
        _, a = await create_principal(s, name="a", role="prosecutor", pepper=PEPPER.encode())
        _, b = await create_principal(s, name="b", role="prosecutor", pepper=PEPPER.encode())
    async with app_api(sqlite_url, rate_limit_requests=5, rate_limit_window=30) as api:
        assert [(await _status(api, a)).status_code for _ in range(5)] == [200] * 5
        over = await _status(api, a)
        assert over.status_code == 429 and 1 <= int(over.headers["retry-after"]) <= 30
        assert "at most 5 requests per 30 s" in over.json()["detail"]
        assert (await _status(api, b)).status_code == 200


async def test_rate_limit_is_shared_through_redis(sqlite_url, sessions) -> None:
    redis_url = need_redis()
    async with sessions.begin() as s:
        _, a = await create_principal(s, name="a", role="prosecutor", pepper=PEPPER.encode())
    prefix = f"hqtest{uuid.uuid4().hex[:8]}"
    opts = dict(rate_limit_requests=4, rate_limit_window=30, redis_url=redis_url, redis_prefix=prefix)
    async with app_api(sqlite_url, **opts) as one, app_api(sqlite_url, **opts) as two:
        codes = [(await _status(api, a)).status_code for api in (one, two, one, two, one, two)]
        assert codes == [200, 200, 200, 200, 429, 429]
    import redis.asyncio as redis

    r = redis.from_url(redis_url)
    keys = [k.decode() async for k in r.scan_iter(f"{prefix}:rl:*")]
    assert keys
    for k in keys:
        assert 0 < await r.pttl(k) <= 30_000
    await r.delete(*keys)
    await r.aclose()


def test_redaction_filter_hides_tokens_in_messages_args_and_tracebacks() -> None:
    token = "hq_" + "A1b2_C3d4-" * 4
    assert redact(f"Bearer {token}!") == f"Bearer {REDACTED}!"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "got %s and %r", (token, {"t": token}), None)
    try:
        raise ValueError(f"bad {token}")
    except ValueError:
        import sys as _sys

        err = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, _sys.exc_info())
    f = RedactTokens()
    assert f.filter(record) and f.filter(err)
    assert token not in record.getMessage() and REDACTED in record.getMessage()
    assert token not in logging.Formatter().format(err) and REDACTED in logging.Formatter().format(err)


def test_live_server_logs_never_contain_a_token(sqlite_url, tmp_path) -> None:
    import asyncio as _asyncio

    from hq.db import make_engine, make_sessionmaker

    async def make() -> str:
        engine = make_engine(sqlite_url)
        async with make_sessionmaker(engine).begin() as s:
            _, token = await create_principal(s, name="t", role="hq_analyst", pepper=PEPPER.encode())
        await engine.dispose()
        return token

    token = _asyncio.run(make())
    log = tmp_path / "server.log"
    with live_server(sqlite_url, log_path=str(log), HQ_LOG_LEVEL="DEBUG") as base:
        with httpx.Client(base_url=base) as c:
            assert c.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}).status_code == 200
            c.get(f"/graphql?query={{me{{role}}}}&token={token}", headers={"Authorization": f"Bearer {token}"})
            c.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}x"})
            c.get(f"/nowhere/{token}")
    text = log.read_text()
    assert '"POST /graphql HTTP/1.1" 200' in text  # the access log is on ...
    assert REDACTED in text  # ... and the token in the query string / path was redacted
    assert token not in text and token[3:20] not in text
