"""The ASGI application: GraphQL at /graphql (with GraphiQL), /healthz and /readyz.

Start-up refuses a database whose schema is behind the code, so a half-migrated
deployment never serves.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.requests import HTTPConnection
from strawberry.fastapi import GraphQLRouter

from hq.api.context import Context, Services, client_address
from hq.api.schema import build_schema
from hq.api.ws import AuthenticatedTransportWS
from hq.auth import authenticate, bearer
from hq.db import check_schema, make_engine, make_sessionmaker
from hq.settings import Settings, get_settings
from regions import load_directory

log = logging.getLogger(__name__)


def _wants_graphiql(conn: HTTPConnection) -> bool:
    return (
        conn.scope["type"] == "http"
        and conn.scope.get("method") == "GET"
        and "text/html" in conn.headers.get("accept", "")
        and "query" not in conn.query_params
    )


async def get_context(conn: HTTPConnection) -> Context:
    services: Services = conn.app.state.services
    if conn.scope["type"] == "websocket":
        return Context(services, None, client_address(conn))  # authenticated in connection_init
    if _wants_graphiql(conn):
        return Context(services, None, client_address(conn))  # the console page itself is public
    token = bearer(conn.headers.get("authorization"))
    caller = None
    if token:
        async with services.sessions() as s:
            caller = await authenticate(s, token, services.settings.pepper)
    if caller is None:
        raise HTTPException(
            status_code=401,
            detail="missing, invalid, expired or revoked API token; send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Context(services, caller, client_address(conn))


class HQGraphQLRouter(GraphQLRouter):  # type: ignore[type-arg]
    graphql_transport_ws_handler_class = AuthenticatedTransportWS


def create_app(settings: Settings | None = None, *, check_db_schema: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        if check_db_schema:
            await check_schema(engine)
        services = Services(
            settings=settings, engine=engine, sessions=make_sessionmaker(engine), directory=load_directory()
        )
        app.state.services = services
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="HQ", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    schema = build_schema()
    router = HQGraphQLRouter(schema, context_getter=get_context, graphql_ide="graphiql")
    app.include_router(router, prefix="/graphql")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Any:
        services: Services = app.state.services
        checks: dict[str, str] = {}
        ok = True
        try:
            async with services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            ok = False
            checks["database"] = f"error: {exc.__class__.__name__}"
        checks["broker"] = "in-process" if services.broker is None else "ok"
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                            status_code=200 if ok else 503)

    return app
