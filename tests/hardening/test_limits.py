"""Request limits and bad input: the console switch, body size, depth, aliases, tokens,
page size, and malformed requests that must never produce a 500 or a stack trace."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import pytest

from tests.conftest import make_settings
from tests.hardening.conftest import app_api, gql_errors, live_server

INTROSPECT = "{ __schema { queryType { name } } }"


@pytest.fixture
def settings(sqlite_url):
    return make_settings(sqlite_url)


async def test_console_on_by_default(sqlite_url, tokens) -> None:
    async with app_api(sqlite_url) as api:
        page = await api.client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        data = await api.ok(INTROSPECT, tokens.analyst)
        assert data["__schema"]["queryType"]["name"] == "Query"


async def test_console_off_disables_graphiql_and_introspection(sqlite_url, tokens) -> None:
    async with app_api(sqlite_url, console_enabled=False) as api:
        page = await api.client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code in (401, 404) and "graphiql" not in page.text.lower()
        for q in (INTROSPECT, '{ __type(name: "Case") { name } }', "{ me { role } a: __schema { types { name } } }"):
            body = await api.gql(q, tokens.analyst)
            assert body["data"] is None and gql_errors(body) == ["FORBIDDEN"]
            assert "HQ_CONSOLE_ENABLED" in body["errors"][0]["message"]
        assert (await api.ok("{ __typename me { role } }", tokens.analyst))["me"]["role"] == "hq_analyst"


async def test_body_size_limit(sqlite_url, tokens) -> None:
    async with app_api(sqlite_url, max_body_bytes=100_000) as api:
        auth = {"Authorization": f"Bearer {tokens.analyst}"}
        big = json.dumps({"query": "{ me { role } }", "variables": {"pad": "x" * 200_000}})
        resp = await api.client.post("/graphql", content=big, headers={**auth, "Content-Type": "application/json"})
        assert resp.status_code == 413 and resp.json()["code"] == "PAYLOAD_TOO_LARGE"
        assert resp.json()["max"] == 100_000 and resp.headers["x-request-id"]

        async def chunks():  # no Content-Length: counted as it streams
            for _ in range(50):
                yield b" " * 10_000

        resp = await api.client.post("/graphql", content=chunks(), headers={**auth, "Content-Type": "application/json"})
        assert resp.status_code == 413 and resp.json()["code"] == "PAYLOAD_TOO_LARGE"
        ok = await api.client.post("/graphql", json={"query": "{ me { role } }"}, headers=auth)
        assert ok.status_code == 200


def test_20_mb_body_is_refused_before_it_is_sent(sqlite_url) -> None:
    with live_server(sqlite_url) as base:
        u = urlparse(base)
        with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
            sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 20971520\r\n\r\n{\"query\":")
            reply = b""
            while b"\r\n\r\n" not in reply:
                part = sock.recv(65536)
                if not part:
                    break
                reply += part
        head = reply.split(b"\r\n", 1)[0]
        assert head.startswith(b"HTTP/1.1 413"), reply[:300]


async def test_depth_alias_token_and_page_limits(sqlite_url, tokens) -> None:
    aliases_10k = "{ " + " ".join(f"a{i}: __typename" for i in range(10_000)) + " }"
    async with app_api(sqlite_url) as api:
        body = await api.gql(aliases_10k, tokens.analyst)
        assert body["data"] is None and body["errors"][0]["extensions"]["limit"] == "tokens"
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        body = await api.gql("{ cases(first: 500) { totalCount } }", tokens.analyst)
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
        body = await api.gql('{ auditTrail(objectType: "case", first: 500) { hasNextPage } }', tokens.admin)
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    async with app_api(sqlite_url, max_query_tokens=100_000, max_query_depth=3) as api:
        body = await api.gql(aliases_10k, tokens.analyst)
        assert body["errors"][0]["extensions"]["limit"] == "aliases"
        assert body["errors"][0]["extensions"]["actual"] == 10_000
        body = await api.gql("{ cases(first: 1) { edges { node { region { code } } } } }", tokens.analyst)
        err = body["errors"][0]
        assert err["extensions"]["limit"] == "depth" and "depth 5 exceeds the limit of 3" in err["message"]


BAD_BODIES: list[tuple[bytes, str]] = [
    (b"{", "application/json"),
    (b"", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"[]", "application/json"),
    (b'"just a string"', "application/json"),
    (b"null", "application/json"),
    (b"12345678901234567890123456789", "application/json"),
    (b'{"query": 5}', "application/json"),
    (b'{"query": null}', "application/json"),
    (b'{"query": ""}', "application/json"),
    (b'{"query": "{ me { role } }", "variables": "x"}', "application/json"),
    (b'{"query": "{ me { role } }", "variables": [1]}', "application/json"),
    (b'{"query": "{ me { role } }", "operationName": 7}', "application/json"),
    (b'{"query": "{ me { role } }", "operationName": "Nope"}', "application/json"),
    (b'{"query": "{ me { role } }", "extensions": 3}', "application/json"),
    (b'{"query": "query A { me { role } } query B { me { role } }"}', "application/json"),
    (b'{"query": "fragment F on Query { me { role } }"}', "application/json"),
    (b'{"query": "subscription { taskFeed(unit: \\"kz-61-k\\") { id } }"}', "application/json"),
    (b'{"query": "{ me { role } \\u0000 }"}', "application/json"),
    (b'{"query": "{ cases(first: 99999999999999999999999) { totalCount } }"}', "application/json"),
    (b'{"query": "query($f: Int!) { cases(first: $f) { totalCount } }", "variables": {"f": 1e400}}', "application/json"),
    (b'{"query": "query($f: Int!) { cases(first: $f) { totalCount } }", "variables": {"f": NaN}}', "application/json"),
    (b'{"query": "query($f: Int!) { cases(first: $f) { totalCount } }", "variables": {"f": 123456789012345678901234567890}}', "application/json"),
    (b'{"query": "query($v: String) { case(registrationNumber: $v) { status } }", "variables": {"v": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}", "application/json"),
    (b'{"query": "' + b"{ me " * 5000 + b'"}', "application/json"),
    (b'\xff\xfe{"query": "{ me { role } }"}', "application/json"),
    (b'{"query": "{ me { role } }\xff\xc3\x28"}', "application/json"),
    (b'{"query": "{ me { role } }"}', "text/plain"),
    (b'{"query": "{ me { role } }"}', "application/xml"),
    (b'{"query": "{ me { role } }"}', "multipart/form-data"),
    (b'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{bad\r\n--x--\r\n', "multipart/form-data; boundary=x"),
    (b"query=%7Bme%7Brole%7D%7D", "application/x-www-form-urlencoded"),
    (b'{"query": "{ me { role } }"}', ""),
    (b'{"query": "{ me { role } }"}', "application/json; charset=latin-1"),
]
REGISTER = ("mutation($i: CaseInput!) { registerCase(input: $i) { registrationNumber } }",
            {"i": {"registrationNumber": "610000000000077", "region": "KZ-61", "registeredAt": "2024-01-01",
                   "damageKzt": 10 ** 40}})
BAD_GETS = ["/graphql?query=", "/graphql?query={me{role}}&variables=notjson", "/graphql?query=%ff%fe",
            "/graphql?query=mutation{importCases(jsonl:\"\"){imported}}", "/graphql?query={{{{",
            "/graphql?query=" + "{me" * 3000]


def _clean(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert "Traceback" not in resp.text and 'File "' not in resp.text, resp.text[:300]


async def test_bad_input_never_gives_500_or_a_stack_trace(sqlite_url, tokens) -> None:
    async with app_api(sqlite_url) as api:
        auth = {"Authorization": f"Bearer {tokens.analyst}"}
        for content, ctype in BAD_BODIES:
            headers = {**auth, **({"Content-Type": ctype} if ctype else {})}
            resp = await api.client.post("/graphql", content=content, headers=headers)
            _clean(resp)
            if resp.status_code == 200:  # a GraphQL answer: every error has a stable code
                assert all(e.get("extensions", {}).get("code") for e in resp.json().get("errors", [])), resp.text
            else:
                assert resp.headers["content-type"].startswith(("application/json", "text/plain")), resp.headers
        for path in BAD_GETS:
            _clean(await api.client.get(path, headers=auth))
        body = await api.gql(REGISTER[0], tokens.analyst, REGISTER[1])
        assert gql_errors(body) == ["BAD_USER_INPUT"] or gql_errors(body) == []
        assert "internal server error" not in json.dumps(body)
        for method in ("PUT", "DELETE", "PATCH"):
            _clean(await api.client.request(method, "/graphql", headers=auth))
        _clean(await api.client.post("/graphql", json={"query": "{ me { role } }"},
                                     headers={"Authorization": "Bearer " + "hq_" + "x" * 100_000}))
        _clean(await api.client.post("/graphql", json={"query": "{ me { role } }"},
                                     headers={"Authorization": "Bearer hq_\u00e9t\u00e9".encode()}))
