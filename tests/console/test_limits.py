"""Depth, aliases, tokens, cost and page size: each configurable, each a coded error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from hq.app import create_app
from tests.conftest import Api, Tokens, make_settings


@pytest.fixture
async def strict(db_url: str, tokens: Tokens) -> AsyncIterator[Api]:
    settings = make_settings(db_url, max_query_depth=4, max_aliases=2, max_query_tokens=60, max_query_cost=200,
                             max_page_size=10)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hq.test") as c:
            yield Api(c)


def ext(body: dict) -> dict:  # type: ignore[type-arg]
    assert body.get("data") is None, body
    return body["errors"][0]["extensions"]


async def test_each_limit_has_a_coded_error(strict: Api, tokens: Tokens) -> None:
    deep = "{ multiEpisodeCases { edges { node { episodes { edges { node { region { code } } } } } } } }"
    e = ext(await strict.gql(deep, tokens.analyst))
    assert e["code"] == "BAD_USER_INPUT" and e["limit"] == "depth" and e["max"] == 4
    aliases = "{ a: me { name } b: me { name } c: me { name } }"
    e = ext(await strict.gql(aliases, tokens.analyst))
    assert (e["code"], e["limit"], e["actual"]) == ("BAD_USER_INPUT", "aliases", 3)
    tokens_q = "{ me { " + " ".join(["name"] * 80) + " } }"
    e = ext(await strict.gql(tokens_q, tokens.analyst))
    assert (e["code"], e["limit"], e["field"]) == ("BAD_USER_INPUT", "tokens", "query")
    costly = "query($n: Int!) { multiEpisodeCases(first: $n) { edges { node { id size status } } } }"
    e = ext(await strict.gql(costly, tokens.analyst, {"n": 100}))
    assert (e["code"], e["limit"]) == ("BAD_USER_INPUT", "cost")
    e = ext(await strict.gql(costly, tokens.analyst, {"n": 11}))
    assert e == {"code": "BAD_USER_INPUT", "field": "first"}
    ok = await strict.ok(costly, tokens.analyst, {"n": 10})
    assert ok["multiEpisodeCases"]["edges"] == []


async def test_graphiql_introspection_is_not_limited_by_depth(strict: Api, tokens: Tokens) -> None:
    q = "{ __schema { types { name fields { name type { name ofType { name ofType { name ofType { name } } } } } } } }"
    body = await strict.gql(q, tokens.analyst)
    assert "errors" not in body or all(e["extensions"].get("limit") != "depth" for e in body["errors"])
