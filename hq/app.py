"""The ASGI application: GraphQL at /graphql (with GraphiQL), /healthz and /readyz.

Start-up refuses a database whose schema is behind the code, so a half-migrated
deployment never serves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
from typing import Any, AsyncIterator

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.requests import HTTPConnection
from strawberry.fastapi import GraphQLRouter

from hq.api.context import Context, Services, client_address
from hq.api.schema import build_schema
from hq.api.ws import AuthenticatedTransportWS
from hq.auth import bearer
from hq.console import notify
from hq.checkpoint import WalCheckpointer
from hq.db import check_schema, make_engine, make_sessionmaker
from hq.hardening.guard import authenticate_request
from hq.hardening.logs import install_redaction
from hq.hardening.middleware import RequestGuard, request_id_of
from hq.hardening.parsing import SafeParsing
from hq.hardening.readiness import storage_problem
from hq.settings import Settings, get_settings
from hq.tasking.runtime import broker_status, start_realtime
from hq.liaison.deadlines import start_liaison
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
    ctx = await _context(conn)
    ctx.request_id = request_id_of(conn.scope) or ctx.request_id  # set by RequestGuard, echoed as X-Request-ID
    return ctx


async def _context(conn: HTTPConnection) -> Context:
    services: Services = conn.app.state.services
    if conn.scope["type"] == "websocket":
        return Context(services, None, client_address(conn))  # authenticated in connection_init
    if _wants_graphiql(conn) and services.settings.console_enabled:
        return Context(services, None, client_address(conn))  # the console page itself is public
    # 401 bad token, 429 failed-login or per-principal limit, 503 database down (hq/hardening/guard.py)
    caller = await authenticate_request(services, bearer(conn.headers.get("authorization")), client_address(conn))
    return Context(services, caller, client_address(conn))


class HQGraphQLRouter(SafeParsing, GraphQLRouter):  # type: ignore[type-arg]  # SafeParsing: 400, never 500
    graphql_transport_ws_handler_class = AuthenticatedTransportWS


def create_app(settings: Settings | None = None, *, check_db_schema: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, background_checkpoints=True)
        if check_db_schema:
            await check_schema(engine)
        checkpointer = WalCheckpointer(engine)
        checkpointer.start()
        services = Services(
            settings=settings, engine=engine, sessions=make_sessionmaker(engine), directory=load_directory()
        )
        app.state.services = services
        install_redaction()  # after uvicorn has set up its loggers: no token in any log line
        stop_realtime = await start_realtime(services)  # broker, task feed hub, escalator
        stop_liaison = await start_liaison(services)  # overdue sweep of bank/operator requests
        notify.use_broker(services.broker)  # every instance announces changed multi-episode cases
        gc.freeze()  # start-up objects leave the collector's view: no 50-100 ms full collections later
        try:
            yield
        finally:
            await checkpointer.stop()
            notify.forget_broker(services.broker)
            await stop_liaison()
            await stop_realtime()
            if hasattr(services.extras.get("limiter"), "close"):
                await services.extras["limiter"].close()
            await engine.dispose()

    app = FastAPI(title="HQ", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    schema = build_schema()
    router = HQGraphQLRouter(schema, context_getter=get_context,
                             graphql_ide="graphiql" if settings.console_enabled else None,
                             connection_init_wait_timeout=dt.timedelta(seconds=settings.ws_init_timeout))
    app.include_router(router, prefix="/graphql")
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)  # request id, 413

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
            checks["database"] = await storage_problem(services) or "ok"  # read-only or full fails too
            ok = checks["database"] == "ok"
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            ok = False
            checks["database"] = f"error: {exc.__class__.__name__}"
        # Redis down is "degraded", still 200: tasks are stored and replay on reconnect,
        # only live push waits for Redis (shared by all instances, so failing over won't help).
        checks["broker"], degraded = broker_status(services)
        status = ("degraded" if degraded else "ready") if ok else "not ready"
        return JSONResponse({"status": status, "checks": checks},
                            status_code=200 if ok else 503)

    return app
